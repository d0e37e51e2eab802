import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { RESULT_COLUMNS, resultRow, resultsCsv, resultsHeaderCsv } from "../client/results_csv.ts";
import type { ErrorReply, Prediction } from "../shared/protocol/schema.ts";

const prediction: Prediction = {
  v: 1,
  id: "run1-7",
  label: "Sneaker",
  index: 7,
  probability: 0.93,
  probabilities: [0, 0, 0, 0, 0, 0, 0, 0.93, 0.07, 0],
  model: "sha256:0123456789abcdef",
  worker: "host-1",
  sent_at: 1000,
  received_at: 1010,
  completed_at: 1020,
};
const errorReply: ErrorReply = {
  v: 1,
  id: "run1-8",
  error: { code: "wrong_image_size", message: "Cannot decode image: expected 784 bytes, got 12" },
};

/** The header and rows as records keyed by column, the way a reader of the file sees them. */
function readBack(csv: string): Record<string, string>[] {
  return parse(csv, { columns: true });
}

Deno.test("resultsHeaderCsv() lists the 11 columns in order", () => {
  assert.deepEqual(RESULT_COLUMNS, [
    "id",
    "index",
    "label",
    "probability",
    "true_label",
    "correct",
    "latency_ms",
    "worker",
    "model",
    "error_code",
    "error_message",
  ]);
  assert.equal(resultsHeaderCsv(), `${RESULT_COLUMNS.join(",")}\n`);
});

Deno.test("resultRow() fills the columns of the header", async (t) => {
  await t.step("for a wrong prediction with a known label", () => {
    const row = resultRow({ response: prediction, trueLabel: 5, latencyMs: 42.5 });
    assert.equal(row.length, RESULT_COLUMNS.length);
    const [rec] = readBack(
      resultsHeaderCsv() + resultsCsv([
        { response: prediction, trueLabel: 5, latencyMs: 42.5 },
      ]),
    );
    assert.deepEqual(rec, {
      id: "run1-7",
      index: "7",
      label: "Sneaker",
      probability: "0.93",
      true_label: "5",
      correct: "false",
      latency_ms: "42.5",
      worker: "host-1",
      model: "sha256:0123456789abcdef",
      error_code: "",
      error_message: "",
    });
  });
  await t.step("for a right prediction with no known label", () => {
    const [rec] = readBack(
      resultsHeaderCsv() + resultsCsv([{ response: prediction, latencyMs: 3 }]),
    );
    assert.equal(rec.true_label, "");
    assert.equal(rec.correct, "");
    assert.equal(rec.latency_ms, "3");
  });
  await t.step("for an error reply: prediction columns empty, the error in its own", () => {
    const [rec] = readBack(
      resultsHeaderCsv() + resultsCsv([
        { response: errorReply, trueLabel: 2, latencyMs: NaN },
      ]),
    );
    assert.deepEqual(rec, {
      id: "run1-8",
      index: "",
      label: "",
      probability: "",
      true_label: "2",
      correct: "",
      latency_ms: "",
      worker: "",
      model: "",
      error_code: "wrong_image_size",
      error_message: "Cannot decode image: expected 784 bytes, got 12",
    });
  });
});

Deno.test("resultsCsv() of no answers is empty text", () => {
  assert.equal(resultsCsv([]), "");
});
