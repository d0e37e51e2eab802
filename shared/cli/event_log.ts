/** The fields of each event a script logs, by event name. */
export type EventMap = { [event: string]: Record<string, unknown> };

/** How each event reads as a line of text; events without one get `name key=value ...`. */
export type TextFormats<E extends EventMap> = { [K in keyof E]?: (fields: E[K]) => string };

/** Options of {@linkcode createEventLog}. */
export interface EventLogOptions<E extends EventMap> {
  /** One JSON object a line instead of text. */
  json: boolean;
  /** Text lines of the events that deserve more than the generic `name key=value` form. */
  text?: TextFormats<E>;
  /** Where lines go; stderr by default, leaving stdout to a script's results. */
  write?: (line: string) => void;
  /** The clock, for tests. */
  now?: () => Date;
}

/** Writes an event: once, in the format chosen at start. */
export type EventLog<E extends EventMap> = <K extends keyof E & string>(
  event: K,
  fields: E[K],
) => void;

function plain(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(plain).join(",")}]`;
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(2);
  if (typeof value === "string" && /\s/.test(value)) return JSON.stringify(value);
  return String(value);
}

/**
 * A logger that writes each event once, as one line: in JSON mode
 * `{"event":NAME,"at":ISO,...fields}` for machines, otherwise the event's
 * text format (or `NAME key=value ...`) built from the same fields, so a
 * field can never say one thing in JSON and another in text.
 *
 * @example
 * ```ts
 * const log = createEventLog<{ stopped: { processed: number } }>({
 *   json: Deno.args.includes("--json"),
 *   text: { stopped: (f) => `stopped after ${f.processed} requests` },
 * });
 * log("stopped", { processed: 42 });
 * ```
 */
export function createEventLog<E extends EventMap>(o: EventLogOptions<E>): EventLog<E> {
  const write = o.write ?? ((line: string) => console.error(line));
  const now = o.now ?? (() => new Date());
  return (event, fields) => {
    if (o.json) {
      write(JSON.stringify({ event, at: now().toISOString(), ...fields }));
      return;
    }
    const format = o.text?.[event];
    write(
      format ? format(fields) : [
        event,
        ...Object.entries(fields).map(([k, v]) => `${k}=${plain(v)}`),
      ].join(" "),
    );
  };
}
