/** Why a message could not be decoded; stable strings a caller can switch on. */
export type CodecErrorCode =
  | "empty"
  | "too_large"
  | "invalid_utf8"
  | "invalid_json"
  | "not_object"
  | "unsupported_version"
  | "missing_field"
  | "invalid_field"
  | "invalid_id"
  | "invalid_base64"
  | "wrong_image_size"
  | "invalid_label"
  | "invalid_reply_to";

/** A decoding failure with a message that says what was expected and found. */
export class CodecError extends Error {
  readonly code: CodecErrorCode;
  constructor(code: CodecErrorCode, message: string) {
    super(message);
    this.name = "CodecError";
    this.code = code;
  }
}

/** The outcome of a decoder: never an exception. */
export type Decoded<T> =
  | { ok: true; value: T }
  | { ok: false; error: CodecError; id?: string };
