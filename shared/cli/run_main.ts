/** A bad flag or flag value: the script prints one line and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Something the user must set up first (a model to train, a tool to
 * install): the script prints one line and exits with 1.
 */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

/** Errors whose message is the whole story: no stack is printed for them. */
const EXPECTED = new Set([
  "UsageError",
  "DataError",
  "ConfigError",
  "PathAccessError",
  "SetupError",
  "ModelCheckError",
]);

/**
 * Runs a script's `main`, turning any error into one line on stderr and a
 * non-zero exit (2 for usage errors). Expected failures (bad flags, bad
 * data, bad config, a path not granted) print no stack; anything else prints
 * a short one.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runMain(main);
 * ```
 */
export async function runMain(main: () => Promise<number | void>): Promise<void> {
  try {
    const code = await main();
    Deno.exit(code ?? 0);
  } catch (e) {
    const err = e as Error;
    console.error(`error: ${err?.message ?? String(e)}`);
    if (!EXPECTED.has(err?.name) && err?.stack) {
      console.error(err.stack.split("\n").slice(1, 6).join("\n"));
    }
    Deno.exit(err instanceof UsageError ? 2 : 1);
  }
}
