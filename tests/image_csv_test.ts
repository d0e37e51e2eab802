import assert from "node:assert/strict";
import { DataError } from "../shared/data/data_error.ts";
import { parseImageCsv } from "../shared/data/image_csv.ts";

const HEADER = ["label", ...Array.from({ length: 784 }, (_, i) => `pixel${i + 1}`)].join(",");
const row = (label: number | string, pixel = (i: number) => String(i % 256)) =>
  [label, ...Array.from({ length: 784 }, (_, i) => pixel(i))].join(",");

function rejects(text: string, message: RegExp): void {
  assert.throws(() => parseImageCsv(text, "f.csv"), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("parseImageCsv() reads labelled rows after a header", () => {
  const set = parseImageCsv([HEADER, row(3), row(7)].join("\n") + "\n", "f.csv");
  assert.equal(set.count, 2);
  assert.deepEqual(Array.from(set.labels), [3, 7]);
  assert.equal(set.images[784 + 300], 300 % 256);
});

Deno.test("parseImageCsv() rejects a row with the wrong number of columns", () => {
  rejects(
    [HEADER, row(1), "2,0,0"].join("\n"),
    /^f\.csv: row 3 has 3 columns, expected 785 \(label \+ 784 pixels\)$/,
  );
});

Deno.test("parseImageCsv() rejects values out of range", async (t) => {
  await t.step("a pixel above 255", () => {
    rejects(
      [HEADER, row(1, (i) => (i === 9 ? "256" : "0"))].join("\n"),
      /^f\.csv: row 2, pixel10 is '256', expected an integer 0-255$/,
    );
  });
  await t.step("a negative pixel", () => {
    rejects([HEADER, row(1, () => "-1")].join("\n"), /pixel1 is '-1'/);
  });
  await t.step("a fractional pixel", () => {
    rejects([HEADER, row(1, () => "0.5")].join("\n"), /pixel1 is '0.5'/);
  });
  await t.step("a label of 10", () => {
    rejects(
      [HEADER, row(10)].join("\n"),
      /^f\.csv: row 2, label is '10', expected an integer 0-9$/,
    );
  });
  await t.step("an empty label", () => {
    rejects([HEADER, row("")].join("\n"), /label is ''/);
  });
});

Deno.test("parseImageCsv() rejects an empty file", () => {
  rejects("", /^f\.csv: empty: expected a header row and image rows$/);
});
