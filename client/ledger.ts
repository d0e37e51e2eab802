/**
 * The id ledger: `client:send` appends `id,label` for each labelled request
 * so that `client:receive` can score answers without reading the request
 * topic. Parsing is pure; {@linkcode LedgerTail} reads the file as it grows.
 */

/** Formats ledger lines (no header) for requests with known labels. */
export function ledgerLines(entries: readonly { id: string; label: number }[]): string {
  return entries.map((e) => `${e.id},${e.label}\n`).join("");
}

/**
 * Parses complete ledger lines from `text` into `into`; returns how many
 * characters were consumed (a trailing partial line is left for later).
 * Lines that are not `id,label` with a label 0-9 are skipped: a ledger
 * shared by several runs, or cut by a crash, must not stop the scoring.
 */
export function parseLedger(text: string, into: Map<string, number>): number {
  let consumed = 0;
  for (;;) {
    const end = text.indexOf("\n", consumed);
    if (end < 0) return consumed;
    const line = text.slice(consumed, end);
    consumed = end + 1;
    const comma = line.lastIndexOf(",");
    const label = comma > 0 ? parseLabel(line.slice(comma + 1)) : undefined;
    if (label !== undefined) into.set(line.slice(0, comma), label);
  }
}

function parseLabel(text: string): number | undefined {
  const trimmed = text.trim();
  const label = Number(trimmed);
  return trimmed !== "" && Number.isInteger(label) && label >= 0 && label <= 9 ? label : undefined;
}

/**
 * The labels of a ledger that `client:send` may still be appending to.
 * Each `refresh()` reads only what was appended since the last one, so an
 * answer whose id is not in the ledger yet costs a seek, not a read of the
 * whole file; a missing file is an empty ledger (the sender has not started).
 */
export class LedgerTail {
  readonly #path: string | undefined;
  readonly #labels = new Map<string, number>();
  readonly #decoder = new TextDecoder();
  #read = 0;
  #partial = "";
  #refreshing: Promise<void> | undefined;
  #again: Promise<void> | undefined;

  /** `path` undefined: no ledger, every label unknown. */
  constructor(path: string | undefined) {
    this.#path = path;
  }

  /** The true label of request `id`, if the ledger has it. */
  label(id: string): number | undefined {
    return this.#labels.get(id);
  }

  /**
   * Reads what was appended since the last call. One read at a time:
   * partition batches handled concurrently would otherwise read the same
   * tail twice.
   */
  refresh(): Promise<void> {
    if (this.#refreshing === undefined) {
      this.#refreshing = this.#readTail().finally(() => (this.#refreshing = undefined));
      return this.#refreshing;
    }
    // The read under way may have passed the end before this caller's lines
    // were appended (seen: 79 of 1,000 demo answers unscored): one more read
    // after it, shared by every caller that arrives meanwhile.
    this.#again ??= this.#refreshing.then(() => {
      this.#again = undefined;
      return this.refresh();
    });
    return this.#again;
  }

  async #readTail(): Promise<void> {
    if (this.#path === undefined) return;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    using open = file;
    await open.seek(this.#read, Deno.SeekMode.Start);
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await open.read(buffer);
      if (n === null) break;
      this.#read += n;
      this.#partial += this.#decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    this.#partial = this.#partial.slice(parseLedger(this.#partial, this.#labels));
  }
}
