/**
 * The id ledger: `client:send` appends `id,label` for each labelled request
 * so that `client:receive` can score answers without reading the request
 * topic. Parsing is pure; the receiver tails the file.
 */

/** Formats ledger lines (no header) for requests with known labels. */
export function ledgerLines(entries: readonly { id: string; label: number }[]): string {
  return entries.map((e) => `${e.id},${e.label}\n`).join("");
}

/**
 * Parses complete ledger lines from `text` into `into`; returns how many
 * characters were consumed (a trailing partial line is left for later).
 */
export function parseLedger(text: string, into: Map<string, number>): number {
  let consumed = 0;
  for (;;) {
    const end = text.indexOf("\n", consumed);
    if (end < 0) return consumed;
    const line = text.slice(consumed, end);
    consumed = end + 1;
    const comma = line.lastIndexOf(",");
    const label = Number(line.slice(comma + 1));
    if (comma > 0 && Number.isInteger(label) && label >= 0 && label <= 9) {
      into.set(line.slice(0, comma), label);
    }
  }
}
