/**
 * Plain `deno test` grants no permissions; tests that need files, the
 * network or subprocesses are then skipped, with one line saying so.
 * `deno task test` grants what they need.
 */
const granted = (await Deno.permissions.query({ name: "read", path: "." })).state === "granted";

let told = false;

/** True when the test may run; otherwise says once why tests are skipped. */
export function hasPermissions(): boolean {
  if (!granted && !told) {
    told = true;
    console.log(
      "skipping tests that need file, network or subprocess access: run `deno task test` for all tests",
    );
  }
  return granted;
}

/** Options for a Deno.test that needs the permissions of `deno task test`. */
export function needsPermissions(): { ignore: boolean } {
  return { ignore: !hasPermissions() };
}

/** A fresh folder under .tmp/, removed when the returned handle is disposed. */
export async function tempDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  await Deno.mkdir(".tmp", { recursive: true });
  const path = await Deno.makeTempDir({ dir: ".tmp", prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
