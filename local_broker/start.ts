/**
 * Starts a local Apache Kafka 4.x (KRaft, combined broker and controller)
 * from the official jars on Maven Central, or reuses one that answers.
 * Run `deno task kafka:start --help`.
 */
import { intFlag, parseFlags } from "../shared/cli/legacy_flags.ts";
import { runMain } from "../shared/cli/run_main.ts";
import type { KafkaSettings } from "../shared/config.ts";
import { brokerAnswers } from "../shared/kafka/connection.ts";
import { processRuns } from "./processes.ts";
import { ensureCertificates } from "./certificates.ts";
import { ensureCredentials, privateDir, writePrivate } from "./credentials.ts";
import {
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

const USAGE = `
Start a local Apache Kafka (KRaft mode) on 127.0.0.1, from Maven Central's jars.

Usage: deno task kafka:start [--brokers 1|3] [--heap 512m] [--secure]
  --brokers N    1 (default: 127.0.0.1:9092) or 3 (9092, 9094, 9096; replication 3,
                 min.insync.replicas 2)
  --heap SIZE    JVM heap per broker (default 512m)
  --secure       the secure cluster instead, beside the plaintext one: SASL_SSL with
                 SCRAM-SHA-512 on 127.0.0.1:9192 (9194, 9196), ACLs enforced (nobody may
                 do anything until deno task acls grants it), super user admin. A CA,
                 certificates and one password per principal are made at first start
                 under .kafka/secure/ (owner-only files); see docs/security.md.

Jars are resolved once with Maven into .kafka/libs; logs and data live in .kafka/node-N/
(.kafka/secure/node-N/ with --secure).
Stop with: deno task kafka:stop
`;

export const KAFKA_ROOT = ".kafka";

async function run(cmd: string, args: string[], what: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${what} needs '${cmd}' on PATH: install it (JDK 17+ and Maven 3) first`);
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

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
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

function plaintextProfile(bootstrap: string[]): Profile {
  return {
    root: KAFKA_ROOT,
    basePort: 9092,
    settings: { brokers: bootstrap, clientId: "kafka-start" },
    formatArgs: [],
  };
}

/** Credentials and certificates first (made once), then the profile that uses them. */
async function secureProfile(bootstrap: string[]): Promise<Profile> {
  await privateDir(SECURE_ROOT);
  const { passwords, broker } = await ensureCredentials();
  const stores = await Deno.realPath(await ensureCertificates());
  const formatArgs: string[] = [];
  for (const p of PRINCIPALS) formatArgs.push("--add-scram", await scramArgument(p, passwords[p]));
  return {
    root: SECURE_ROOT,
    basePort: SECURE_BASE_PORT,
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
  const flags = parseFlags(Deno.args, {
    brokers: { type: "string" },
    heap: { type: "string" },
    secure: { type: "boolean" },
  }, USAGE);
  if (!flags) return;
  const count = intFlag(flags.brokers, "brokers", 1, 1, 3);
  const base = flags.secure ? SECURE_BASE_PORT : 9092;
  const bootstrap = Array.from({ length: count }, (_, i) => `127.0.0.1:${base + 2 * i}`);
  const profile = flags.secure ? await secureProfile(bootstrap) : plaintextProfile(bootstrap);
  await startCluster(profile, count, flags.heap ?? "512m");
}

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
      await Deno.remove(`${nodeLayout(id, root).dir}/data`, { recursive: true }).catch(() => {});
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
      "-XX:+UseG1GC",
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
