/**
 * Waits for a worker by asking it, not by reading its log: polls the
 * worker's `/readyz` until it answers 200.
 */

/**
 * Polls `url` (a worker's `http://HOST:PORT/readyz`, or its base address)
 * every `intervalMs` until it answers 200; throws with the last answer
 * (503's reason, or the connection error) after `timeoutMs`.
 */
export async function waitReady(
  url: string,
  timeoutMs = 120_000,
  intervalMs = 100,
): Promise<void> {
  const readyz = new URL(url).pathname.endsWith("/readyz") ? url : new URL("/readyz", url).href;
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(readyz);
      const body = (await response.text()).trim();
      if (response.status === 200) return;
      last = `${response.status} ${body}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${readyz} not ready within ${timeoutMs} ms: last answer ${last}`);
}
