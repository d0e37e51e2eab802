/** What went wrong in a data file, for callers that switch on it. */
export type DataErrorCode =
  | "bad_magic"
  | "truncated"
  | "bad_shape"
  | "count_mismatch"
  | "bad_row"
  | "bad_value"
  | "not_found";

/**
 * A data file that cannot be used. The message names the file, the place
 * (byte offset or row) and what was expected.
 *
 * @example
 * ```ts
 * try { parseIdxImages(bytes, "train.gz"); } catch (e) {
 *   if (e instanceof DataError && e.code === "truncated") { ... }
 * }
 * ```
 */
export class DataError extends Error {
  readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string) {
    super(message);
    this.name = "DataError";
    this.code = code;
  }
}
