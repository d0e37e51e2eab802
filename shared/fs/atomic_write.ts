/**
 * Writes `data` to `path` so that readers see the old file or the new one,
 * never a partial one: a temporary file in the same folder, then a rename.
 *
 * @example
 * ```ts
 * await writeFileAtomic("out/metrics.json", JSON.stringify(metrics));
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
): Promise<void> {
  const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}
