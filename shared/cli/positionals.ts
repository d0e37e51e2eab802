import { parseArgs } from "node:util";
import type { CliSpec } from "./flags.ts";
import { UsageError } from "./run_main.ts";

/**
 * Separates a command line's positional arguments from its flags, knowing
 * which flags take a value, so `publish --name x DIR` gives ["DIR"] and
 * ["--name", "x"]. parseCli() then checks the flags; the caller checks the
 * positionals.
 *
 * @example
 * ```ts
 * const { positionals, flagArgs } = splitPositionals(Deno.args, PUBLISH_CLI);
 * const flags = parseCli(flagArgs, PUBLISH_CLI);
 * ```
 */
export function splitPositionals(
  args: string[],
  spec: CliSpec,
): { positionals: string[]; flagArgs: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type === "boolean" ? "boolean" : "string" };
  }
  const { tokens } = parseArgs({
    args,
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionalAt = new Set(
    tokens.filter((t) => t.kind === "positional").map((t) => t.index),
  );
  return {
    positionals: args.filter((_, i) => positionalAt.has(i)),
    flagArgs: args.filter((_, i) => !positionalAt.has(i)),
  };
}

/**
 * The one positional argument a script takes, or a UsageError naming what
 * it expected (`what`) and what it got.
 *
 * @example
 * ```ts
 * const dir = onePositional(positionals, "model folder");
 * ```
 */
export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    const got = positionals.length ? positionals.join(" ") : "none";
    throw new UsageError(`Expected one ${what}, got ${got} (see --help)`);
  }
  return positionals[0];
}
