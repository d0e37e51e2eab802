/** Formats seconds as "42s", "3m05s" or "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** A text bar such as "[#######-------------]" for done/total. */
export function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/**
 * Writes a self-overwriting status line on a terminal, or nothing between
 * `done()` calls elsewhere, so logs stay one line per event.
 */
export class StatusLine {
  readonly #out: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  readonly #tty: boolean;
  readonly #encoder = new TextEncoder();
  #last = 0;

  constructor(out = Deno.stderr) {
    this.#out = out;
    this.#tty = out.isTerminal();
  }

  get isTerminal(): boolean {
    return this.#tty;
  }

  /** Redraws the line, at most every 100 ms unless `force`. */
  update(text: string, force = false): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    this.#out.writeSync(this.#encoder.encode(`\r\x1b[2K${text}`));
  }

  /** Ends the line with `text` (on any output). */
  done(text: string): void {
    const prefix = this.#tty ? "\r\x1b[2K" : "";
    this.#out.writeSync(this.#encoder.encode(`${prefix}${text}\n`));
  }
}
