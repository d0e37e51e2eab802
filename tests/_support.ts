/**
 * Plain `deno test` grants no permissions; tests that need files, the
 * network or subprocesses are then skipped, with one line saying so.
 * `deno task test` grants what they need.
 *
 * In CI (CI=true, readable) nothing may be skipped: a gated test then asks
 * for a permission the run lacks, so Deno fails it under its own name
 * ("Can't escalate parent thread permissions") after one line saying why.
 */
const granted = Deno.permissions.querySync({ name: "read", path: "." }).state === "granted";

/**
 * True when the CI variable says "true". Test setup is no part of the
 * service's configuration (shared/config.ts); asking first keeps a run that
 * may not read it from prompting, and such a run cannot be told it is CI.
 */
function inCi(): boolean {
  if (Deno.permissions.querySync({ name: "env", variable: "CI" }).state !== "granted") return false;
  return Deno.env.get("CI") === "true";
}

const ci = inCi();

let told = false;

/** True when the test may run; otherwise says once why tests are skipped (or fail, in CI). */
export function hasPermissions(): boolean {
  if (!granted && !told) {
    told = true;
    console.log(
      ci
        ? "CI=true but this run lacks file, network or subprocess access: every test that needs it FAILS below; run `deno task test`"
        : "skipping tests that need file, network or subprocess access: run `deno task test` for all tests",
    );
  }
  return granted;
}

/**
 * Options for a Deno.test that needs the permissions of `deno task test`:
 * ignored without them, or in CI made to fail by asking for read access the
 * run does not have (Deno refuses to widen a test's permissions).
 */
export function needsPermissions(): { ignore: boolean; permissions?: Deno.PermissionOptions } {
  if (hasPermissions()) return { ignore: false };
  return ci ? { ignore: false, permissions: { read: ["."] } } : { ignore: true };
}

/**
 * Options for an integration test: gated like needsPermissions(); kafkajs
 * keeps timers and sockets across tests, so Deno's leak checks are off.
 */
export function integrationTest() {
  return { ...needsPermissions(), sanitizeOps: false, sanitizeResources: false };
}

/**
 * The integration tests' dependencies, loaded only when the tests may run
 * (see _kafka_deps.ts); without permissions an empty stand-in no test calls.
 */
export async function kafkaDeps(): Promise<typeof import("./_kafka_deps.ts")> {
  return hasPermissions()
    ? await import("./_kafka_deps.ts")
    : ({} as typeof import("./_kafka_deps.ts"));
}

/**
 * The first and last test of an integration file: a real broker answers and
 * a model is trained before; the broker is stopped after if setup started it.
 */
export function brokerLifecycle(deps: typeof import("./_kafka_deps.ts")) {
  const setup: Deno.TestDefinition = {
    name: "setup: a real Kafka broker answers and a model is trained",
    ...integrationTest(),
    async fn() {
      await deps.ensureBroker();
      await deps.ensureModel();
    },
  };
  const teardown: Deno.TestDefinition = {
    name: "teardown: stop the broker if the tests started it",
    ...integrationTest(),
    fn: () => deps.releaseBroker(),
  };
  return { setup, teardown };
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
