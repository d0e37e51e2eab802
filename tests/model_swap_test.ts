import assert from "node:assert/strict";
import { hasPermissions, needsPermissions } from "./_support.ts";

// Loaded only when the tests may run: see _kafka_deps.ts.
const { ensureBroker, ensureModelPair, modelSwaps, testImages, uniqueService } = hasPermissions()
  ? await import("./_model_deps.ts")
  : ({} as typeof import("./_model_deps.ts"));

Deno.test({
  name:
    "2,500 requests at 500/s through two workers while B is published, rolled back and a corrupt model announced: none lost, no error, no stale version",
  ...needsPermissions(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await ensureBroker();
    const models = await ensureModelPair();
    const r = await modelSwaps({
      service: uniqueService("model-swap"),
      models,
      set: await testImages(),
      count: 2500,
      rate: 500,
      corrupt: ["badHash"],
    });
    console.log(
      `model swaps: ${JSON.stringify({ ...r, versions: undefined })}`,
    );
    await t.step("every request answered, once, with no error reply", () => {
      assert.equal(r.sent, 2500);
      assert.equal(r.lost, 0);
      assert.equal(r.answered, 2500);
      assert.equal(r.errorReplies, 0);
    });
    await t.step("every answer came from A or B, and both served", () => {
      assert.equal(r.foreign, 0, `models: ${JSON.stringify(r.models)}`);
      assert.ok(r.models[r.versions.a] > 0 && r.models[r.versions.b] > 0, JSON.stringify(r.models));
    });
    await t.step("after its swap a worker never answers with the version it left", () => {
      assert.equal(r.stale, 0, JSON.stringify(r.staleExamples));
    });
    await t.step("the corrupt announcement is refused once by each worker", () => {
      assert.deepEqual(r.refused, [1, 1]);
    });
  },
});
