import { parseArgs } from "node:util";
import { UsageError } from "./run_main.ts";

/** One flag: its kind, default, bounds and help line, declared once. */
export type FlagSpec =
  | { type: "boolean"; help: string; short?: string }
  | { type: "string"; help: string; arg?: string; default?: string; choices?: readonly string[] }
  | {
    type: "int" | "number";
    help: string;
    arg?: string;
    default?: number;
    min?: number;
    max?: number;
  };

/** A script's command line: what it does, its flags, and notes after them. */
export interface CliSpec {
  /** First lines of --help. */
  summary: string;
  /** e.g. "deno task worker [options]". */
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Lines after the flag list (environment, examples). */
  notes?: string;
}

type ValueOf<F extends FlagSpec> = F extends { type: "boolean" } ? boolean
  : F extends { type: "int" | "number"; default: number } ? number
  : F extends { type: "int" | "number" } ? number | undefined
  : F extends { type: "string"; default: string } ? string
  : string | undefined;

/** The parsed values of a spec's flags, typed by their declarations. */
export type FlagValues<S extends CliSpec> = { [K in keyof S["flags"]]: ValueOf<S["flags"][K]> };

function placeholder(f: FlagSpec): string {
  if (f.type === "boolean") return "";
  if (f.type === "string" && f.choices) return ` ${f.choices.join("|")}`;
  return ` ${f.arg ?? (f.type === "string" ? "VALUE" : "N")}`;
}

function defaultText(f: FlagSpec): string {
  return "default" in f && f.default !== undefined ? ` (default ${f.default})` : "";
}

/**
 * The --help text of a spec: every flag with its argument, help line and
 * default, so the text can never drift from what the code does.
 *
 * @example
 * ```ts
 * console.log(helpText({ summary: "Serve.", usage: "deno task worker", flags: {} }));
 * ```
 */
export function helpText(spec: CliSpec): string {
  const rows = Object.entries(spec.flags).map(([name, f]) => [
    `  --${name}${placeholder(f)}`,
    `${f.help}${defaultText(f)}`,
  ]);
  rows.push(["  -h, --help", "this help"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = rows.map(([left, right]) => left.padEnd(width) + right);
  const notes = spec.notes?.trim() ? ["", spec.notes.trim()] : [];
  return [spec.summary.trim(), "", `Usage: ${spec.usage}`, ...lines, ...notes].join("\n");
}

function checkNumber(name: string, f: FlagSpec & { type: "int" | "number" }, raw: string): number {
  const n = Number(raw);
  const min = f.min ?? -Number.MAX_VALUE;
  const max = f.max ?? Number.MAX_VALUE;
  const whole = f.type === "int";
  if (
    raw.trim() === "" || !Number.isFinite(n) || (whole && !Number.isInteger(n)) || n < min ||
    n > max
  ) {
    const range = f.max === undefined ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(
      `--${name} expects ${whole ? "an integer" : "a number"} ${range}, got '${raw}'`,
    );
  }
  return n;
}

/**
 * Parses `args` against `spec` strictly (unknown flags and stray arguments
 * are usage errors), applies defaults and bounds, and returns the typed
 * values; null when --help was asked for, after printing the help text.
 *
 * @example
 * ```ts
 * const flags = parseCli(Deno.args, WORKER_CLI);
 * if (!flags) return;
 * flags["max-batch"]; // number, default applied
 * ```
 */
export function parseCli<S extends CliSpec>(args: string[], spec: S): FlagValues<S> | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type === "boolean" ? "boolean" : "string" };
    if (f.type === "boolean" && f.short) options[name].short = f.short;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  if (values.help) {
    console.log(helpText(spec));
    return null;
  }
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const raw = values[name];
    if (f.type === "boolean") {
      out[name] = Boolean(raw);
    } else if (raw === undefined) {
      out[name] = f.default;
    } else if (f.type === "string") {
      if (f.choices && !f.choices.includes(raw as string)) {
        throw new UsageError(`--${name} expects ${f.choices.join(", ")}, got '${raw}'`);
      }
      out[name] = raw;
    } else {
      out[name] = checkNumber(name, f, raw as string);
    }
  }
  return out as FlagValues<S>;
}
