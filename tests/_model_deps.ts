/**
 * What the model-update integration tests need that loads kafkajs; see
 * _kafka_deps.ts for why they import it only when they may run.
 */
export { startModelFollower } from "../server/model_follower.ts";
export { announce, announceFolder, readCatalog, rollback } from "../models/registry.ts";
export { ensureModelTopic } from "../shared/kafka/model_topic.ts";
export { createKafka } from "../shared/kafka/connection.ts";
export { idempotentProducer } from "../shared/kafka/producer.ts";
export { ensureBroker } from "../harness/service.ts";
export { corruptAnnouncements, ensureModelPair } from "../harness/model_pair.ts";
export { modelSwaps } from "../harness/model_swap_case.ts";
export { testImages, uniqueService } from "../harness/service.ts";
