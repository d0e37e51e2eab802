import assert from "node:assert/strict";
import { needsPermissions } from "./_support.ts";

/** Every relative or bare module specifier a TypeScript file imports or re-exports. */
function importsOf(source: string): string[] {
  const found = source.matchAll(
    /(?:import|export)[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']/g,
  );
  return [...found].map((m) => m[1] ?? m[2]);
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await tsFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

async function offending(dir: string, forbidden: RegExp): Promise<string[]> {
  const bad: string[] = [];
  for (const file of await tsFiles(dir)) {
    for (const spec of importsOf(await Deno.readTextFile(file))) {
      if (forbidden.test(spec)) bad.push(`${file} imports ${spec}`);
    }
  }
  return bad;
}

Deno.test({
  name: "shared/protocol/ imports neither tfjs nor kafkajs nor anything outside itself",
  ...needsPermissions(),
  async fn() {
    assert.deepEqual(
      await offending("shared/protocol", /tensorflow|kafkajs|^\.\.\//),
      [],
    );
  },
});

Deno.test({
  name: "tests/ and bench/ do not import each other",
  ...needsPermissions(),
  async fn() {
    assert.deepEqual(await offending("tests", /(^|\/)bench\//), []);
    assert.deepEqual(await offending("bench", /(^|\/)tests\//), []);
  },
});

Deno.test({
  name:
    "shared/ imports nothing from the sides: server, client, training, harness, bench, models, security, dashboard, local_broker",
  ...needsPermissions(),
  async fn() {
    assert.deepEqual(
      await offending(
        "shared",
        /(^|\/)(server|client|training|harness|bench|models|security|dashboard|local_broker)\//,
      ),
      [],
    );
  },
});

Deno.test("importsOf() finds static, re-exported and dynamic imports", () => {
  const source =
    `import a from "./a.ts";\nexport { b } from "../b.ts";\nconst c = await import("./c.ts");`;
  assert.deepEqual(importsOf(source), ["./a.ts", "../b.ts", "./c.ts"]);
});
