/** Where one broker of the local cluster listens and keeps its files. */
export interface NodeLayout {
  id: number;
  brokerPort: number;
  controllerPort: number;
  dir: string;
}

/** The port of broker 1 unless kafka:start is told another (--port). */
export const BASE_PORT = 9092;

/** Broker i (1-based) listens on basePort + 2(i-1), its controller on the next port. */
export function nodeLayout(id: number, root: string, basePort = BASE_PORT): NodeLayout {
  const brokerPort = basePort + 2 * (id - 1);
  return { id, brokerPort, controllerPort: brokerPort + 1, dir: `${root}/node-${id}` };
}

/**
 * server.properties for node `n` of a KRaft cluster of `all` nodes, each a
 * combined broker and controller on 127.0.0.1. Replication settings follow
 * the cluster size: with 3 nodes, internal topics keep 3 copies and
 * min.insync.replicas is 2, so acks=all survives one broker down.
 */
export function serverProperties(n: NodeLayout, all: NodeLayout[]): string {
  const size = all.length;
  const replicas = Math.min(3, size);
  const minIsr = size >= 3 ? 2 : 1;
  const voters = all.map((v) => `${v.id}@127.0.0.1:${v.controllerPort}`).join(",");
  return [
    "process.roles=broker,controller",
    `node.id=${n.id}`,
    `controller.quorum.voters=${voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${n.brokerPort},CONTROLLER://127.0.0.1:${n.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${n.brokerPort}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${n.dir}/data`,
    "num.partitions=6",
    `default.replication.factor=${replicas}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${replicas}`,
    "offsets.topic.num.partitions=6",
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `share.coordinator.state.topic.replication.factor=${replicas}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    // Tests and demos create groups all the time; waiting 3 s per join buys nothing here.
    "group.initial.rebalance.delay.ms=0",
    "auto.create.topics.enable=false",
    "",
  ].join("\n");
}

/** log4j 2 configuration that sends the broker's log to a file, not the console. */
export function log4jProperties(logFile: string): string {
  return [
    "status = error",
    "appender.file.type = File",
    "appender.file.name = FILE",
    `appender.file.fileName = ${logFile}`,
    "appender.file.layout.type = PatternLayout",
    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
    "rootLogger.level = INFO",
    "rootLogger.appenderRef.file.ref = FILE",
    "logger.state.name = state.change.logger",
    "logger.state.level = WARN",
    "",
  ].join("\n");
}

/**
 * A Kafka cluster id: 16 random bytes in URL-safe base64 without padding.
 * Like Kafka's own Uuid.randomUuid(), it never starts with '-', which the
 * storage tool's argument parser would take for an option.
 */
export function newClusterId(
  randomBytes: () => Uint8Array = () => crypto.getRandomValues(new Uint8Array(16)),
): string {
  for (;;) {
    const id = btoa(String.fromCharCode(...randomBytes())).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}
