/**
 * Everything the integration tests need that loads kafkajs. kafkajs reads
 * NODE_ENV when it loads, which plain `deno test` (no permissions) refuses,
 * so the integration tests import this module only when they may run.
 */
export { receiveResponses } from "../client/receive.ts";
export { sendRequests } from "../client/send.ts";
export { asBuffer, idempotentProducer } from "../shared/kafka_client.ts";
export { ensureTopics } from "../server/topics.ts";
export {
  badInput,
  caseService,
  killWorkers,
  restartBroker,
  restartReceiver,
} from "../bench/chaos_cases.ts";
export * from "./_service.ts";
