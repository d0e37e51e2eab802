/**
 * Everything the integration tests need that loads kafkajs. kafkajs reads
 * NODE_ENV when it loads, which plain `deno test` (no permissions) refuses,
 * so the integration tests import this module only when they may run.
 */
export { receiveResponses } from "../client/receive.ts";
export { sendRequests } from "../client/send.ts";
export { asBuffer } from "../shared/protocol/bytes.ts";
export { idempotentProducer } from "../shared/kafka/producer.ts";
export { runKeptAlive } from "../shared/kafka/consumer.ts";
import kafkajs from "kafkajs";
// kafkajs spreads its error classes into its exports, which Deno cannot see statically.
export const { KafkaJSNonRetriableError } = kafkajs as unknown as {
  KafkaJSNonRetriableError: new (message: string) => Error;
};
export { badInput, killWorkers, restartBroker, restartReceiver } from "../harness/chaos_cases.ts";
export { drainTopic } from "../harness/drain_topic.ts";
export { runTask } from "../harness/deno_task.ts";
export * from "../harness/service.ts";
export { waitUntil } from "../harness/wait_until.ts";
export { startWorker, startWorkers } from "../harness/worker_process.ts";
export {
  ensureSecureBroker,
  releaseSecureBroker,
  secureAdminConfig,
  secureService,
} from "../harness/secure_cluster.ts";
export { brokerAnswers, createKafka } from "../shared/kafka/connection.ts";
export { makeCa } from "../local_broker/certificates.ts";
export { revokeAcls } from "../security/acls.ts";
export {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
} from "kafkajs";
export {
  startWorker as startWorkerInProcess,
  WORKER_CLI,
  workerOptions,
} from "../server/worker.ts";
export { parseCli } from "../shared/cli/flags.ts";
