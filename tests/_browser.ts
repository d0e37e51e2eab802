/**
 * Headless Debian Chromium driven by playwright-core, for the tests that
 * check a page in a real browser. Loaded only by tests that may run (it
 * needs the `tests` permission set).
 */
import process from "node:process";
import type { BrowserContext } from "playwright-core";

/** Where Debian's chromium package puts the browser; .ci/run installs it when missing. */
export const CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches Chromium with a fresh profile under .tmp/ and returns its
 * context; disposing it closes the browser and deletes the profile.
 *
 * playwright-core is loaded here, after two adjustments that keep the
 * tests' permission set an allowlist: its bundled `debug` module lists
 * every environment variable when it loads (under Deno that needs access to
 * all of them) and its bundled `is-wsl` probes /proc/sys/fs/binfmt_misc
 * (which Deno grants only with --allow-all). So the Node `process.env` it
 * sees is a plain object: nothing to enumerate, and `__IS_WSL_TEST__` makes
 * is-wsl defer the probe it would never need here. The browser gets an
 * empty environment. TMPDIR points playwright's scratch folder into .tmp/.
 */
export async function launchChromium(): Promise<BrowserContext & AsyncDisposable> {
  await Deno.mkdir(".tmp", { recursive: true });
  const profile = await Deno.makeTempDir({ dir: ".tmp", prefix: "chromium-" });
  // Process-wide, so put back on dispose: later tests' temp folders must not land in a deleted one.
  const previousTmpdir = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", profile);
  Object.defineProperty(process, "env", {
    value: { TMPDIR: profile, __IS_WSL_TEST__: "1" },
    configurable: true,
    writable: true,
  });
  const { chromium } = await import("playwright-core");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    env: {},
    viewport: { width: 1400, height: 1000 },
  });
  return Object.assign(context, {
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => {});
      if (previousTmpdir === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", previousTmpdir);
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  });
}
