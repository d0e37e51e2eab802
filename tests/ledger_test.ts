import assert from "node:assert/strict";
import { ledgerLines, LedgerTail, parseLedger } from "../client/ledger.ts";
import { needsPermissions, tempDir } from "./_support.ts";

Deno.test("parseLedger() reads what ledgerLines() wrote", () => {
  const labels = new Map<string, number>();
  const text = ledgerLines([{ id: "a-0", label: 3 }, { id: "a-1", label: 9 }]);
  assert.equal(text, "a-0,3\na-1,9\n");
  assert.equal(parseLedger(text, labels), text.length);
  assert.deepEqual([...labels], [["a-0", 3], ["a-1", 9]]);
});

Deno.test("parseLedger() leaves a partial last line for later", () => {
  const labels = new Map<string, number>();
  assert.equal(parseLedger("a-0,3\na-1,", labels), 6);
  assert.deepEqual([...labels], [["a-0", 3]]);
  assert.equal(parseLedger("a-1,4\n", labels), 6);
  assert.equal(labels.get("a-1"), 4);
});

Deno.test("parseLedger() skips lines that are not id,label 0-9", async (t) => {
  const cases: [string, string][] = [
    ["a label of 10", "x,10\n"],
    ["a negative label", "x,-1\n"],
    ["a fractional label", "x,1.5\n"],
    ["an empty label", "x,\n"],
    ["no comma", "x3\n"],
    ["no id", ",3\n"],
    ["a blank line", "\n"],
  ];
  for (const [what, line] of cases) {
    await t.step(what, () => {
      const labels = new Map<string, number>();
      assert.equal(parseLedger(`${line}ok,2\n`, labels), line.length + 5);
      assert.deepEqual([...labels], [["ok", 2]]);
    });
  }
  await t.step("a Windows line end is read", () => {
    const labels = new Map<string, number>();
    parseLedger("w,6\r\n", labels);
    assert.equal(labels.get("w"), 6);
  });
});

Deno.test(
  "LedgerTail reads only what was appended, and nothing from a missing file",
  needsPermissions(),
  async () => {
    await using dir = await tempDir("ledger-");
    const path = `${dir.path}/sent.csv`;
    const tail = new LedgerTail(path);
    await tail.refresh();
    assert.equal(tail.label("a-0"), undefined);
    await Deno.writeTextFile(path, "a-0,3\na-1,");
    await Promise.all([tail.refresh(), tail.refresh()]);
    assert.equal(tail.label("a-0"), 3);
    assert.equal(tail.label("a-1"), undefined);
    await Deno.writeTextFile(path, "7\n", { append: true });
    await tail.refresh();
    assert.equal(tail.label("a-1"), 7);
    assert.equal(new LedgerTail(undefined).label("a-0"), undefined);
  },
);
