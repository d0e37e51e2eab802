/**
 * Starts a local Apache Kafka 4.x (KRaft, combined broker and controller)
 * from the official jars on Maven Central, or reuses one that answers.
 * Run `deno task kafka:start --help`.
 */
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain, SetupError } from "../shared/cli/run_main.ts";
import type { KafkaSettings } from "../shared/config.ts";
import { exists } from "../shared/fs/exists.ts";
import { brokerAnswers } from "../shared/kafka/connection.ts";
import { processRuns } from "./processes.ts";
import { ensureCertificates } from "./certificates.ts";
import { ensureCredentials, privateDir, writePrivate } from "./credentials.ts";
import {
  BASE_PORT,
  log4jProperties,
  newClusterId,
  type NodeLayout,
  nodeLayout,
  serverProperties,
} from "./node_config.ts";
import {
  CA_FILE,
  PRINCIPALS,
  scramArgument,
  SECURE_BASE_PORT,
  SECURE_ROOT,
  secureListeners,
} from "./secure_config.ts";
import { KAFKA_ROOT, ROOT_FLAG } from "./root.ts";

const CLI = {
  summary: "Start a local Apache Kafka (KRaft mode) on 127.0.0.1, from Maven Central's jars.",
  usage: "deno task kafka:start [options]",
  flags: {
    brokers: {
      type: "int",
      help: "1, or 3 (replication 3, min.insync.replicas 2) on every second port from --port",
      default: 1,
      min: 1,
      max: 3,
    },
    port: {
      type: "int",
      help: "port of broker 1 (its controller takes the next one)",
      default: BASE_PORT,
      min: 1024,
      max: 65_000,
    },
    heap: { type: "string", arg: "SIZE", help: "JVM heap per broker", default: "512m" },
    dir: ROOT_FLAG,
    secure: {
      type: "boolean",
      help:
        `the secure cluster instead, on port ${SECURE_BASE_PORT} and in ${SECURE_ROOT}/: TLS + SCRAM-SHA-512, ACLs (docs/security.md)`,
    },
  },
  notes: `
Jars are resolved once with Maven into ${KAFKA_ROOT}/libs; logs and data live in DIR/node-N/.
Stop with: deno task kafka:stop (with the same --dir)`,
} as const satisfies CliSpec;

async function run(cmd: string, args: string[], what: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SetupError(
        `${what} needs '${cmd}' on PATH: install it (JDK 17+ and Maven 3) first`,
      );
    }
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(
      `${what} failed (${cmd} exit ${out.code}): ${text.trim().split("\n").slice(-5).join(" | ")}`,
    );
  }
  return text;
}

async function resolveJars(): Promise<string> {
  const libs = `${KAFKA_ROOT}/libs`;
  if (await exists(`${libs}/.complete`)) return libs;
  console.error("resolving Apache Kafka jars from Maven Central (once) ...");
  await Deno.mkdir(libs, { recursive: true });
  await run("mvn", [
    "-q",
    "-B",
    "-f",
    "local_broker/pom.xml",
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${await Deno.realPath(libs)}`,
  ], "Resolving the Kafka jars with Maven");
  await Deno.writeTextFile(`${libs}/.complete`, new Date().toISOString());
  return libs;
}

/** What differs between the plaintext cluster and the secure one. */
interface Profile {
  root: string;
  basePort: number;
  /** How start.ts itself reaches the brokers (the secure cluster: as admin). */
  settings: KafkaSettings;
  /** Listener lines of a node; undefined for plaintext. */
  listeners?: (n: NodeLayout) => string[];
  /** Extra storage-tool arguments (the SCRAM users). */
  formatArgs: string[];
}

function plaintextProfile(bootstrap: string[], root: string, basePort: number): Profile {
  return {
    root,
    basePort,
    settings: { brokers: bootstrap, clientId: "kafka-start" },
    formatArgs: [],
  };
}

/** Credentials and certificates first (made once), then the profile that uses them. */
async function secureProfile(
  bootstrap: string[],
  root: string,
  basePort: number,
): Promise<Profile> {
  await privateDir(SECURE_ROOT);
  const { passwords, broker } = await ensureCredentials();
  const stores = await Deno.realPath(await ensureCertificates());
  const formatArgs: string[] = [];
  for (const p of PRINCIPALS) formatArgs.push("--add-scram", await scramArgument(p, passwords[p]));
  return {
    root,
    basePort,
    settings: {
      brokers: bootstrap,
      clientId: "kafka-start",
      ssl: { caFile: CA_FILE, rejectUnauthorized: true },
      sasl: { mechanism: "scram-sha-512", username: "admin", password: passwords.admin },
    },
    listeners: (n) => secureListeners(n, stores, broker),
    formatArgs,
  };
}

async function main(): Promise<void> {
  const flags = parseCli(Deno.args, CLI);
  if (!flags) return;
  const { brokers: count, heap } = flags;
  // --secure moves the defaults aside, so both clusters can run at once.
  const root = flags.secure && flags.dir === KAFKA_ROOT ? SECURE_ROOT : flags.dir;
  const port = flags.secure && flags.port === BASE_PORT ? SECURE_BASE_PORT : flags.port;
  const bootstrap = Array.from({ length: count }, (_, i) => `127.0.0.1:${port + 2 * i}`);
  const profile = flags.secure
    ? await secureProfile(bootstrap, root, port)
    : plaintextProfile(bootstrap, root, port);
  await startCluster(profile, count, heap);
}

/**
 * The JVM options of Kafka's own launch script (kafka-run-class.sh): G1
 * aiming at 20 ms pauses instead of its default 200. A young collection of
 * the broker at the default goal took 26 ms here, long enough to show in
 * the service's p99 at 1,000 requests/s.
 */
const KAFKA_JVM_OPTIONS = [
  "-server",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-XX:MaxInlineLevel=15",
  "-Djava.awt.headless=true",
];

async function startCluster(profile: Profile, count: number, heap: string): Promise<void> {
  const { root, settings } = profile;
  const nodes = Array.from({ length: count }, (_, i) => nodeLayout(i + 1, root, profile.basePort));
  const bootstrap = settings.brokers;
  const answering = await Promise.all(
    bootstrap.map((address) => brokerAnswers({ ...settings, brokers: [address] })),
  );
  if (answering.every(Boolean)) {
    console.error(
      `${count > 1 ? "brokers already answer" : "a broker already answers"} at ${
        bootstrap.join(",")
      }: reusing ${count > 1 ? "them" : "it"}`,
    );
    console.log(bootstrap.join(","));
    return;
  }
  const libs = await resolveJars();
  const classpath = `${await Deno.realPath(libs)}/*`;
  const layoutFile = `${root}/cluster.json`;
  const layout = JSON.stringify(nodes.map((n) => n.id));
  // A data folder formatted for another cluster size cannot join this one.
  if ((await exists(layoutFile)) && (await Deno.readTextFile(layoutFile)) !== layout) {
    if (answering.some(Boolean)) {
      throw new Error(
        `a Kafka of another size runs here: stop it first (deno task kafka:stop), then start ${count} broker(s)`,
      );
    }
    for (const id of [1, 2, 3]) {
      const dir = nodeLayout(id, root, profile.basePort).dir;
      await Deno.remove(`${dir}/data`, { recursive: true }).catch(() => {});
    }
  }
  const clusterId = newClusterId();
  for (const n of nodes) await startNode(n, nodes, profile, { classpath, clusterId, heap });
  await Deno.writeTextFile(layoutFile, layout);
  const deadline = Date.now() + 90_000;
  for (const address of bootstrap) {
    while (!(await brokerAnswers({ ...settings, brokers: [address] }, 2000))) {
      if (Date.now() > deadline) {
        throw new Error(
          `broker at ${address} did not answer within 90 s: see ${root}/node-*/broker.log`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  console.error(`Kafka is up: KAFKA_BROKERS=${bootstrap.join(",")}`);
  console.log(bootstrap.join(","));
}

/** Writes a node's configuration, formats its storage once, and starts it unless it runs. */
async function startNode(
  n: NodeLayout,
  nodes: NodeLayout[],
  profile: Profile,
  o: { classpath: string; clusterId: string; heap: string },
): Promise<void> {
  await Deno.mkdir(n.dir, { recursive: true });
  const abs = await Deno.realPath(n.dir);
  const absNode = { ...n, dir: abs };
  // The secure node's properties hold the brokers' passwords: owner-only.
  await writePrivate(
    `${n.dir}/server.properties`,
    serverProperties(
      absNode,
      nodes.map((m) => ({ ...m, dir: `${abs}/../node-${m.id}` })),
      profile.listeners?.(absNode),
    ),
  );
  await Deno.writeTextFile(`${n.dir}/log4j2.properties`, log4jProperties(`${abs}/broker.log`));
  if (await exists(`${n.dir}/pid`)) {
    const pid = Number(await Deno.readTextFile(`${n.dir}/pid`));
    if (await processRuns(pid)) return;
  }
  const log4j = `-Dlog4j2.configurationFile=${abs}/log4j2.properties`;
  if (!(await exists(`${n.dir}/data/meta.properties`))) {
    await run("java", [
      log4j,
      "-cp",
      o.classpath,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      o.clusterId,
      "-c",
      `${abs}/server.properties`,
      "--ignore-formatted",
      ...profile.formatArgs,
    ], `Formatting the storage of broker ${n.id}`);
  }
  const child = new Deno.Command("java", {
    args: [
      `-Xmx${o.heap}`,
      `-Xms${o.heap}`,
      ...KAFKA_JVM_OPTIONS,
      `-Xlog:gc:file=${abs}/gc.log:time,uptime:filecount=2,filesize=10M`,
      log4j,
      "-cp",
      o.classpath,
      "kafka.Kafka",
      `${abs}/server.properties`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  await Deno.writeTextFile(`${n.dir}/pid`, String(child.pid));
  console.error(`started broker ${n.id} (pid ${child.pid}) on 127.0.0.1:${n.brokerPort}`);
}

if (import.meta.main) await runMain(main);
