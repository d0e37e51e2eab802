import { UsageError } from "./run_main.ts";
// Being replaced by parseCli() in flags.ts, script by script.
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` strictly (unknown flags and stray arguments are usage
 * errors) and adds `--help`. Returns null when help was asked for, after
 * printing `usage`.
 *
 * @example
 * ```ts
 * const flags = parseFlags(Deno.args, { epochs: { type: "string" } }, USAGE);
 * if (!flags) return;
 * ```
 */
export function parseFlags<O extends Options>(
  args: string[],
  options: O,
  usage: string,
) {
  let parsed: { values: Record<string, string | boolean | undefined> };
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  if (parsed.values.help) {
    console.log(usage.trim());
    return null;
  }
  return parsed.values as {
    [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string;
  };
}

/** Reads an integer flag within [min, max], or `fallback` when absent. */
export function intFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} expects an integer from ${min} to ${max}, got '${value}'`,
    );
  }
  return n;
}

/** Reads a number flag within [min, max], or `fallback` when absent. */
export function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_VALUE,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} expects a number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}
