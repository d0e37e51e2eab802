import assert from "node:assert/strict";
import { isBrokerOutage } from "../shared/kafka/outage.ts";

/** An error shaped like kafkajs's: a name, and for protocol errors a type and retriable flag. */
function kafkaError(name: string, more: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, ...more });
}

Deno.test("isBrokerOutage() tells a broker outage from a batch's own failure", async (t) => {
  await t.step("connection and request-timeout errors are outages", () => {
    for (
      const name of [
        "KafkaJSConnectionError",
        "KafkaJSRequestTimeoutError",
        "KafkaJSConnectionClosedError",
      ]
    ) {
      assert.equal(isBrokerOutage(kafkaError(name, { retriable: true })), true, name);
    }
  });
  await t.step("a leader moving is an outage, even wrapped by kafkajs's retrier", () => {
    const notLeader = kafkaError("KafkaJSProtocolError", {
      type: "NOT_LEADER_OR_FOLLOWER",
      retriable: true,
    });
    const exhausted = kafkaError("KafkaJSNumberOfRetriesExceeded", {
      retriable: false,
      cause: notLeader,
    });
    assert.equal(isBrokerOutage(notLeader), true);
    assert.equal(isBrokerOutage(exhausted), true);
  });
  await t.step("any protocol error kafkajs flags retriable is an outage", () => {
    assert.equal(
      isBrokerOutage(kafkaError("KafkaJSProtocolError", { type: "X", retriable: true })),
      true,
    );
  });
  await t.step("MESSAGE_TOO_LARGE is the batch's own, even wrapped as non-retriable", () => {
    const tooLarge = kafkaError("KafkaJSProtocolError", {
      type: "MESSAGE_TOO_LARGE",
      retriable: false,
    });
    assert.equal(isBrokerOutage(tooLarge), false);
    assert.equal(
      isBrokerOutage(kafkaError("KafkaJSNonRetriableError", { originalError: tooLarge })),
      false,
    );
  });
  await t.step("an exception of our own code, a string or undefined is no outage", () => {
    assert.equal(isBrokerOutage(new RangeError("predict failed")), false);
    assert.equal(isBrokerOutage("down"), false);
    assert.equal(isBrokerOutage(undefined), false);
  });
  await t.step("a cause cycle ends the walk", () => {
    const a = kafkaError("A");
    const b = kafkaError("B", { cause: a });
    Object.assign(a, { cause: b });
    assert.equal(isBrokerOutage(a), false);
  });
});
