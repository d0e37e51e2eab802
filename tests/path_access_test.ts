import assert from "node:assert/strict";
import { PathAccessError, requirePathAccess, requireReadable } from "../shared/fs/path_access.ts";
import { needsPermissions } from "./_support.ts";

Deno.test("requirePathAccess() refuses paths the process may not use, in one line", async (t) => {
  await t.step("a write outside the grants names the flag, the path and the grant command", () => {
    assert.throws(
      () =>
        requirePathAccess({
          set: "train",
          write: { "--out": "/nonexistent/models/m1" },
          script: "train.ts",
          args: ["--out", "/nonexistent/models/m1", "--epochs", "1"],
        }),
      new PathAccessError(
        "--out /nonexistent/models/m1 (write): outside what permission set 'train' grants; " +
          "to allow it, run: deno run -P=train --allow-write=/nonexistent/models/m1 train.ts " +
          "--out /nonexistent/models/m1 --epochs 1",
        ["/nonexistent/models/m1"],
      ),
    );
  });
  await t.step("reads and writes refused together go into one command", () => {
    assert.throws(
      () =>
        requirePathAccess({
          set: "client",
          read: { "--ledger": "/nonexistent/sent.csv" },
          write: { "--out": "/nonexistent/my results.csv" },
          script: "client/receive.ts",
          args: ["--out", "/nonexistent/my results.csv", "--ledger", "/nonexistent/sent.csv"],
        }),
      new PathAccessError(
        "--ledger /nonexistent/sent.csv (read), --out /nonexistent/my results.csv (write): " +
          "outside what permission set 'client' grants; to allow it, run: deno run -P=client " +
          "--allow-read=/nonexistent/sent.csv '--allow-write=/nonexistent/my results.csv' " +
          "client/receive.ts --out '/nonexistent/my results.csv' --ledger /nonexistent/sent.csv",
        ["/nonexistent/sent.csv", "/nonexistent/my results.csv"],
      ),
    );
  });
  await t.step("flags not given are not checked", () => {
    assert.doesNotThrow(() =>
      requirePathAccess({ set: "client", read: { "--source": undefined }, write: { "--out": "" } })
    );
  });
  await t.step("requireReadable() is the one-flag read check", () => {
    assert.throws(
      () => requireReadable("worker", "--model", "/nonexistent/model"),
      (e: Error) =>
        e instanceof PathAccessError &&
        e.message.startsWith(
          "--model /nonexistent/model (read): outside what permission set 'worker' grants; " +
            "to allow it, run: deno run -P=worker --allow-read=/nonexistent/model ",
        ),
    );
  });
});

Deno.test({
  name: "requirePathAccess() lets through the paths the permission set grants",
  ...needsPermissions(),
  fn() {
    // deno task test grants reading the project and writing .tmp.
    assert.doesNotThrow(() =>
      requirePathAccess({
        set: "tests",
        read: { "--data": "shared" },
        write: { "--out": ".tmp/x" },
      })
    );
    // Not "shared/x": a checkout under /tmp (which the tests set may write) would grant it.
    assert.throws(
      () => requirePathAccess({ set: "tests", write: { "--out": "/var/lib/not-granted/x" } }),
      PathAccessError,
    );
  },
});
