import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };

type PermissionSet = Record<string, unknown>;
const tasks = config.tasks as Record<string, { command: string; description: string }>;
const sets = config.permissions as Record<string, PermissionSet>;

const UNSCOPED = /(^|\s)(-A|--allow-all|--allow-(read|write|net|run|env|sys|ffi)|-[RWN])(?=\s|$)/;

Deno.test("no task grants -A, --allow-all or an unscoped --allow-* flag", () => {
  for (const [name, task] of Object.entries(tasks)) {
    assert.doesNotMatch(task.command, UNSCOPED, `task ${name}: ${task.command}`);
  }
});

Deno.test("every task that runs a script names a permission set that exists", () => {
  for (const [name, task] of Object.entries(tasks)) {
    for (const part of task.command.split("&&").map((p) => p.trim())) {
      if (!/^deno (run|test)\b/.test(part)) continue;
      const set = part.match(/(?:^|\s)-P=(\S+)/)?.[1];
      assert.ok(set, `task ${name} runs '${part}' without -P=<set>`);
      assert.ok(set in sets, `task ${name} names permission set '${set}', which deno.json lacks`);
    }
  }
});

/** Reading everything is harmless only to a set that can send nothing anywhere. */
function offline(set: PermissionSet): boolean {
  return [set.net, set.run, set.write === true].every((v) => v === undefined || v === false);
}

Deno.test("every permission set scopes read, write, net and run to lists", () => {
  for (const [name, set] of Object.entries(sets)) {
    assert.equal("all" in set, false, `set ${name} grants all`);
    for (const kind of ["read", "write", "net", "run", "env", "sys", "ffi"]) {
      const value = set[kind];
      if (value === undefined || value === false) continue;
      if (kind === "read" && value === true && offline(set)) continue;
      assert.ok(
        Array.isArray(value) && value.length > 0 &&
          value.every((v) => typeof v === "string" && v !== ""),
        `set ${name}: ${kind} must be a list of paths, hosts or names, got ${
          JSON.stringify(value)
        }`,
      );
      if (kind === "read" || kind === "write") {
        for (const path of value as string[]) {
          assert.notEqual(path, "/", `set ${name}: ${kind} of the whole file system`);
        }
      }
    }
  }
});

Deno.test("only a set without network or subprocesses may read everything", () => {
  assert.equal(offline({ read: true, write: ["artifacts"] }), true);
  assert.equal(offline({ read: true, net: ["localhost:9092"] }), false);
  assert.equal(offline({ read: true, run: ["deno"] }), false);
  assert.equal(offline({ read: true, write: true }), false);
  for (const [name, set] of Object.entries(sets)) {
    if (set.read === true) assert.ok(offline(set), `set ${name} reads everything and is online`);
  }
});

Deno.test("the permission check itself catches the flags it is meant to", () => {
  for (
    const bad of [
      "deno run -A x.ts",
      "deno run --allow-all x.ts",
      "deno run --allow-net x.ts",
      "deno run -R x.ts",
    ]
  ) {
    assert.match(bad, UNSCOPED, bad);
  }
  for (
    const good of [
      "deno run --allow-net=localhost:9092 x.ts",
      "deno run -P=worker x.ts",
      "deno run -R=. x.ts",
    ]
  ) {
    assert.doesNotMatch(good, UNSCOPED, good);
  }
});
