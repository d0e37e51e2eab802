/**
 * The receiver's results file: one CSV row per distinct answer. Columns are
 * declared once, each with how its cell is read from an answer, so a row
 * cannot fall out of step with the header. Pure: the receiver writes the text.
 */
import { stringify } from "csv-stringify/sync";
import { isErrorReply, type Prediction, type Response } from "../shared/protocol/schema.ts";

/** One answer as recorded. */
export interface ResultAnswer {
  response: Response;
  /** The request's true label, when the ledger has it. */
  trueLabel?: number;
  /** End to end; NaN for an error reply. */
  latencyMs: number;
}

type Cell = string | number;

function prediction(a: ResultAnswer): Prediction | undefined {
  return isErrorReply(a.response) ? undefined : a.response;
}

/** Column name -> its cell; empty where a column does not apply to the answer. */
const COLUMNS = {
  id: (a) => a.response.id,
  index: (a) => prediction(a)?.index ?? "",
  label: (a) => prediction(a)?.label ?? "",
  probability: (a) => prediction(a)?.probability ?? "",
  true_label: (a) => a.trueLabel ?? "",
  correct: (a) => {
    const p = prediction(a);
    return p === undefined || a.trueLabel === undefined ? "" : String(p.index === a.trueLabel);
  },
  latency_ms: (a) => prediction(a) ? a.latencyMs : "",
  worker: (a) => prediction(a)?.worker ?? "",
  model: (a) => prediction(a)?.model ?? "",
  error_code: (a) => isErrorReply(a.response) ? a.response.error.code : "",
  error_message: (a) => isErrorReply(a.response) ? a.response.error.message : "",
} satisfies Record<string, (a: ResultAnswer) => Cell>;

/** The header, in column order. */
export const RESULT_COLUMNS: readonly string[] = Object.keys(COLUMNS);

/** The cells of one answer, in {@linkcode RESULT_COLUMNS} order. */
export function resultRow(a: ResultAnswer): Cell[] {
  return Object.values(COLUMNS).map((cell) => cell(a));
}

/** CSV text of the header line. */
export function resultsHeaderCsv(): string {
  return stringify([RESULT_COLUMNS]);
}

/** CSV text of the rows of `answers` (no header). */
export function resultsCsv(answers: readonly ResultAnswer[]): string {
  return answers.length ? stringify(answers.map(resultRow)) : "";
}
