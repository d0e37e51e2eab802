import assert from "node:assert/strict";
import { splitPositionals } from "../shared/cli/positionals.ts";
import type { CliSpec } from "../shared/cli/flags.ts";

const SPEC = {
  summary: "s",
  usage: "u",
  flags: {
    name: { type: "string", help: "h" },
    json: { type: "boolean", help: "h" },
  },
} satisfies CliSpec;

Deno.test("splitPositionals() tells positionals from flags and their values", async (t) => {
  await t.step("a value after a string flag is the flag's", () => {
    assert.deepEqual(splitPositionals(["--name", "x", "DIR"], SPEC), {
      positionals: ["DIR"],
      flagArgs: ["--name", "x"],
    });
  });
  await t.step("a word after a boolean flag is a positional", () => {
    assert.deepEqual(splitPositionals(["--json", "DIR", "--name=y"], SPEC), {
      positionals: ["DIR"],
      flagArgs: ["--json", "--name=y"],
    });
  });
  await t.step("unknown flags are left for parseCli to refuse", () => {
    assert.deepEqual(splitPositionals(["--nope", "A", "B"], SPEC), {
      positionals: ["A", "B"],
      flagArgs: ["--nope"],
    });
  });
});
