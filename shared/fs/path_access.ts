/**
 * Path flags checked against the permissions a script runs with, before any
 * work starts: a path outside its permission set is refused with one line
 * that names the path and the exact command that grants it, instead of a
 * stack trace from the first read or write (which, for `train --out`, came
 * only after the whole training had run).
 */

/** Which access a path flag needs. */
export type PathAccess = "read" | "write";

/** A path flag the permission set does not grant; runMain prints its message alone. */
export class PathAccessError extends Error {
  readonly paths: readonly string[];
  constructor(message: string, paths: readonly string[]) {
    super(message);
    this.name = "PathAccessError";
    this.paths = paths;
  }
}

/** What requirePathAccess() checks: the set's name and the path flags by access. */
export interface PathFlags {
  /** The deno.json permission set the script runs under, e.g. "train". */
  set: string;
  /** Flag name (e.g. "--train-csv") to the path it was given; undefined flags are skipped. */
  read?: Record<string, string | undefined>;
  write?: Record<string, string | undefined>;
  /** The script as run (default: the main module, relative to the working folder). */
  script?: string;
  /** The script's arguments (default: Deno.args). */
  args?: readonly string[];
}

/** `path` made absolute against the working folder, when that can be read; else as given. */
function absolute(path: string): string {
  if (path.startsWith("/")) return path;
  try {
    return `${Deno.cwd().replace(/\/$/, "")}/${path.replace(/^\.\//, "")}`;
  } catch {
    return path;
  }
}

/** The main module's path relative to the working folder (as it was probably typed). */
function mainScript(): string {
  const file = decodeURIComponent(new URL(Deno.mainModule).pathname);
  try {
    const cwd = `${Deno.cwd().replace(/\/$/, "")}/`;
    return file.startsWith(cwd) ? file.slice(cwd.length) : file;
  } catch {
    return file;
  }
}

/** A word as a POSIX shell reads it back: quoted only when it has to be. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Checks every path flag in `flags` against this process's permissions
 * (`Deno.permissions.querySync`, so nothing prompts) and throws one
 * PathAccessError for all that are not granted, whose message names each
 * path and the whole command that grants them: `deno run -P=<set>
 * --allow-read=... --allow-write=... <script> <args>`. Call it right after
 * parsing flags, before loading data or connecting.
 *
 * @example
 * ```ts
 * requirePathAccess({ set: "train", read: { "--data": flags.data }, write: { "--out": flags.out } });
 * ```
 */
export function requirePathAccess(flags: PathFlags): void {
  const missing: { flag: string; path: string; access: PathAccess }[] = [];
  for (const access of ["read", "write"] as const) {
    for (const [flag, path] of Object.entries(flags[access] ?? {})) {
      if (path === undefined || path === "") continue;
      if (Deno.permissions.querySync({ name: access, path }).state !== "granted") {
        missing.push({ flag, path, access });
      }
    }
  }
  if (missing.length === 0) return;
  const grants = (["read", "write"] as const)
    .map((access) => missing.filter((m) => m.access === access).map((m) => absolute(m.path)))
    .map((paths, i) =>
      paths.length ? `--allow-${i === 0 ? "read" : "write"}=${paths.join(",")}` : ""
    )
    .filter((g) => g !== "");
  const command = [
    "deno",
    "run",
    `-P=${flags.set}`,
    ...grants,
    flags.script ?? mainScript(),
    ...(flags.args ?? Deno.args),
  ].map(shellWord).join(" ");
  const what = missing.map((m) => `${m.flag} ${m.path} (${m.access})`).join(", ");
  throw new PathAccessError(
    `${what}: outside what permission set '${flags.set}' grants; to allow it, run: ${command}`,
    missing.map((m) => m.path),
  );
}

/**
 * requirePathAccess() for one path flag that must be readable: the
 * one-line form for a script's main().
 *
 * @example
 * ```ts
 * requireReadable("worker", "--model", "artifacts/model");
 * ```
 */
export function requireReadable(set: string, flag: string, path: string | undefined): void {
  requirePathAccess({ set, read: { [flag]: path } });
}
