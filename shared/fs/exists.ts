/**
 * True when `path` names a file or folder this process can stat; false when
 * it is missing or not granted (a path outside the task's permission set is
 * one the task cannot use, so callers looking through candidates move on).
 * Any other error, such as an I/O failure, is thrown.
 *
 * @example
 * ```ts
 * if (!(await exists(".kafka/libs/.complete"))) console.log("resolving jars");
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotCapable) return false;
    throw e;
  }
}
