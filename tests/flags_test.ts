import assert from "node:assert/strict";
import { type CliSpec, helpText, parseCli } from "../shared/cli/flags.ts";
import { UsageError } from "../shared/cli/run_main.ts";

const SPEC = {
  summary: "Serve things.",
  usage: "deno task thing [options]",
  flags: {
    count: { type: "int", help: "how many", default: 1000, min: 1, max: 5000 },
    rate: { type: "number", arg: "R", help: "per second", min: 0.5 },
    model: { type: "string", arg: "DIR", help: "model to serve", default: "artifacts/model" },
    order: { type: "string", help: "send order", default: "random", choices: ["random", "seq"] },
    json: { type: "boolean", help: "JSON log lines" },
  },
  notes: "Writes nothing.",
} as const satisfies CliSpec;

/** parseCli() with console.log silenced (--help prints the text). */
function parse(args: string[]) {
  const log = console.log;
  const printed: string[] = [];
  console.log = (line: string) => printed.push(line);
  try {
    return { flags: parseCli(args, SPEC), printed };
  } finally {
    console.log = log;
  }
}

Deno.test("parseCli() applies every default when no flag is given", () => {
  assert.deepEqual(parse([]).flags, {
    count: 1000,
    rate: undefined,
    model: "artifacts/model",
    order: "random",
    json: false,
  });
});

Deno.test("parseCli() reads given values with their types", () => {
  assert.deepEqual(
    parse(["--count", "7", "--rate", "2.5", "--model", "m", "--order", "seq", "--json"]).flags,
    { count: 7, rate: 2.5, model: "m", order: "seq", json: true },
  );
});

Deno.test("parseCli() rejects out-of-range and malformed numbers with exact messages", async (t) => {
  const cases: [string[], string][] = [
    [["--count", "0"], "--count expects an integer from 1 to 5000, got '0'"],
    [["--count", "5001"], "--count expects an integer from 1 to 5000, got '5001'"],
    [["--count", "2.5"], "--count expects an integer from 1 to 5000, got '2.5'"],
    [["--count", "ten"], "--count expects an integer from 1 to 5000, got 'ten'"],
    [["--count", " "], "--count expects an integer from 1 to 5000, got ' '"],
    [["--rate", "0.1"], "--rate expects a number at least 0.5, got '0.1'"],
    [["--rate", "Infinity"], "--rate expects a number at least 0.5, got 'Infinity'"],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parse(args), new UsageError(message));
    });
  }
});

Deno.test("parseCli() accepts only the declared choices of a string flag", () => {
  assert.throws(
    () => parse(["--order", "backwards"]),
    new UsageError("--order expects random, seq, got 'backwards'"),
  );
});

Deno.test("parseCli() turns an unknown flag or a stray argument into a UsageError", async (t) => {
  await t.step("unknown flag", () => {
    assert.throws(() => parse(["--cuont", "3"]), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^Unknown option '--cuont'.* \(see --help\)$/);
      return true;
    });
  });
  await t.step("stray argument", () => {
    assert.throws(() => parse(["extra"]), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /'extra'.* \(see --help\)$/);
      return true;
    });
  });
});

Deno.test("parseCli() returns null for --help and -h, after printing the help text", () => {
  for (const flag of ["--help", "-h"]) {
    const { flags, printed } = parse([flag]);
    assert.equal(flags, null);
    assert.deepEqual(printed, [helpText(SPEC)]);
  }
});

Deno.test("helpText() lists every flag with its argument and default, then the notes", () => {
  const text = helpText(SPEC);
  const lines = text.split("\n");
  assert.equal(lines[0], "Serve things.");
  assert.equal(lines[2], "Usage: deno task thing [options]");
  const row = (start: string) => lines.find((l) => l.startsWith(start));
  assert.match(row("  --count N ")!, /how many \(default 1000\)$/);
  assert.match(row("  --rate R ")!, /per second$/);
  assert.match(row("  --model DIR ")!, /model to serve \(default artifacts\/model\)$/);
  assert.match(row("  --order random|seq ")!, /send order \(default random\)$/);
  assert.match(row("  --json ")!, /JSON log lines$/);
  assert.match(row("  -h, --help ")!, /this help$/);
  assert.equal(lines.at(-1), "Writes nothing.");
  // The help column lines up: every help text starts where the widest flag's does.
  const starts = ["how many", "per second", "model to serve", "send order", "JSON", "this help"]
    .map((help) => lines.find((l) => l.includes(help))!.indexOf(help));
  assert.deepEqual(new Set(starts), new Set([starts[0]]), `help starts at ${starts}`);
  assert.equal(starts[0], "  --order random|seq".length + 2);
});
