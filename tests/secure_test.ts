/**
 * Break-in tests against the secure cluster (TLS + SCRAM-SHA-512 + ACLs),
 * which they start on its own ports (9192...) and stop when they started it.
 */
import assert from "node:assert/strict";
import { CREDENTIALS_DIR, SECURE_ROOT } from "../local_broker/secure_config.ts";
import type { KafkaSettings } from "../shared/config.ts";
import type { Admin, Kafka } from "kafkajs";
import { hasPermissions, needsPermissions, tempDir } from "./_support.ts";

// Loaded only when the tests may run: see _kafka_deps.ts.
const {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  brokerAnswers,
  createKafka,
  ensureModel,
  ensureSecureBroker,
  makeCa,
  MODEL_DIR,
  revokeAcls,
  releaseSecureBroker,
  ResourcePatternTypes,
  runTask,
  secureAdminConfig,
  secureService,
  startWorker,
} = hasPermissions() ? await import("./_kafka_deps.ts") : ({} as typeof import("./_kafka_deps.ts"));

const opts = { ...needsPermissions(), sanitizeOps: false, sanitizeResources: false };

/** The rejection of `p`: fails the test when `p` resolves or takes over `ms`. */
async function refusal(p: Promise<unknown>, what: string, ms = 30_000): Promise<Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no refusal within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, timeout]);
  } catch (e) {
    if ((e as Error).message.startsWith(`${what}: no refusal`)) throw e;
    return e as Error;
  } finally {
    clearTimeout(timer);
  }
  assert.fail(`${what}: expected a refusal, but it was allowed`);
}

/** The Kafka error code name of a kafkajs error, or of the error it wraps. */
function kafkaType(e: unknown): string | undefined {
  if (e === undefined || e === null) return undefined;
  const err = e as { type?: string; cause?: unknown; errors?: unknown[] };
  return err.type ?? kafkaType(err.cause) ??
    (err.errors?.length ? kafkaType(err.errors[0]) : undefined);
}

/**
 * The error that stops a consumer of `topic` in `groupId`: subscribing
 * alone checks only that the topic may be described, so it joins and
 * fetches until refused.
 */
async function consumerRefusal(
  kafka: Kafka,
  groupId: string,
  topic: string,
  what: string,
): Promise<Error> {
  const consumer = kafka.consumer({ groupId, retry: { retries: 0 } });
  const crashed = new Promise<never>((_, reject) =>
    consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error))
  );
  await consumer.connect();
  try {
    return await refusal(
      (async () => {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ eachMessage: () => Promise.resolve() });
        await crashed;
      })(),
      what,
    );
  } finally {
    await consumer.disconnect();
  }
}

/** Waits (10 s at most) for a secure broker's authorizer to log a denial. */
async function brokerDenied(who: string, resource: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let log = "";
    for (const n of [1, 2, 3]) {
      log += await Deno.readTextFile(`${SECURE_ROOT}/node-${n}/broker.log`).catch(() => "");
    }
    if (log.split("\n").some((l) => l.includes(who) && l.includes(`on resource = ${resource} `))) {
      return;
    }
    if (Date.now() > deadline) {
      assert.fail(`the broker log has no '${who}' on ${resource} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Deletes this run's topics and ACLs, and waits (10 s at most) until no ACL of it is left. */
async function removeRun(admin: Admin): Promise<void> {
  const runPrefix = svc.names.KAFKA_REQUEST_TOPIC.replace(/requests$/, "");
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(runPrefix));
  await admin.deleteTopics({ topics: mine }).catch(() => {});
  const config = svc.config("admin");
  await revokeAcls(admin, {
    topics: config.topics,
    workerGroup: config.workerGroup,
    replyTopicPrefix: config.replyTopicPrefix,
    modelTopic: config.modelTopic,
    clientGroupPrefix: "fashion-receiver",
    tenants: ["tenant-a", "tenant-b"],
  });
  // Deletions reach the brokers' authorizers through the metadata log, a moment later.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = await admin.describeAcls({
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    const ours = left.resources.filter((r) => r.resourceName.startsWith(runPrefix));
    if (ours.length === 0) return;
    if (Date.now() > deadline) {
      assert.fail(`${ours.length} ACL resources of the run left after 10 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every password of the secure cluster's principals and brokers. */
async function allPasswords(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(CREDENTIALS_DIR)) {
    out.push((await Deno.readTextFile(`${CREDENTIALS_DIR}/${e.name}`)).trim());
  }
  return out;
}

const svc = hasPermissions() ? secureService("sec") : undefined!;
/** Every line of every process run on the secure cluster, for the password check. */
const logLines: string[] = [];

Deno.test({
  name: "setup: the secure cluster answers as admin, with a model and this run's ACLs",
  ...opts,
  async fn() {
    await ensureSecureBroker();
    await ensureModel();
    logLines.push(...await runTask("acls", [], { env: svc.env("admin") }));
  },
});

Deno.test({
  name: "a request over TLS + SCRAM is answered end to end, on the shared topic and a tenant's",
  ...opts,
  async fn() {
    const worker = await startWorker(
      { config: svc.config("worker"), env: svc.env("worker") },
      { model: `${MODEL_DIR}/model` },
    );
    try {
      const send = ["--count", "40", "--rate", "max", "--ledger", "none", "--order", "sequential"];
      const receive = [
        "--count",
        "40",
        "--timeout-s",
        "60",
        "--from-beginning",
        "--ledger",
        "none",
      ];
      logLines.push(
        ...await runTask("client:send", [...send, "--run-id", "shared"], {
          env: svc.env("client"),
        }),
      );
      const got = await runTask(
        "client:receive",
        [...receive, "--group", "fashion-receiver-sec", "--run-id", "shared"],
        { env: svc.env("client") },
      );
      logLines.push(...got);
      assert.ok(got.some((l) => /^predictions:\s+40$/.test(l)), got.join("\n"));

      const replyTo = `${svc.names.KAFKA_REPLY_TOPIC_PREFIX}tenant-a`;
      logLines.push(
        ...await runTask(
          "client:send",
          [...send, "--run-id", "tenant", "--reply-to", replyTo],
          { env: svc.env("tenant-a") },
        ),
      );
      const tenant = await runTask(
        "client:receive",
        [...receive, "--group", "tenant-a-sec", "--run-id", "tenant"],
        { env: { ...svc.env("tenant-a"), KAFKA_RESPONSE_TOPIC: replyTo } },
      );
      logLines.push(...tenant);
      assert.ok(tenant.some((l) => /^predictions:\s+40$/.test(l)), tenant.join("\n"));
    } finally {
      await worker.stop();
      logLines.push(...worker.lines);
    }
  },
});

Deno.test({
  name: "a wrong password is refused",
  ...opts,
  async fn() {
    const settings = secureAdminConfig().kafka;
    const wrong = { ...settings, sasl: { ...settings.sasl!, password: "not-the-password" } };
    const admin = (await createKafka(wrong, "wrong-password", { quiet: true, retries: 0 })).admin();
    const e = await refusal(admin.connect(), "a wrong password");
    await admin.disconnect().catch(() => {});
    assert.equal(e.name, "KafkaJSSASLAuthenticationError");
    assert.match(e.message, /SASL SCRAM SHA512 authentication failed/);
    assert.doesNotMatch(e.message, /not-the-password/);
  },
});

Deno.test({
  name: "a plaintext connection to the TLS port gets no answer; the same with TLS + SCRAM does",
  ...opts,
  async fn() {
    const settings = secureAdminConfig().kafka;
    const plaintext: KafkaSettings = { brokers: settings.brokers, clientId: "plaintext" };
    assert.equal(await brokerAnswers(plaintext, 5000), false);
    assert.equal(await brokerAnswers({ ...plaintext, sasl: settings.sasl }, 5000), false);
    assert.equal(await brokerAnswers(settings, 10_000), true);
  },
});

Deno.test({
  name: "a broker certificate is refused against another CA while verification is on",
  ...opts,
  async fn() {
    await using dir = await tempDir("other-ca-");
    await Deno.writeTextFile(`${dir.path}/pass`, "another-ca-store");
    const otherCa = await makeCa(dir.path, "another CA", `${dir.path}/pass`);
    const settings = secureAdminConfig().kafka;
    const verified = { ...settings, ssl: { caFile: otherCa, rejectUnauthorized: true } };
    const admin = (await createKafka(verified, "other-ca", { quiet: true, retries: 0 })).admin();
    const e = await refusal(admin.connect(), "a certificate from another CA");
    await admin.disconnect().catch(() => {});
    assert.match(e.message, /certificate|self[- ]signed|unable to verify/i);
    const unverified = { ...verified, ssl: { caFile: otherCa, rejectUnauthorized: false } };
    assert.equal(await brokerAnswers(unverified, 10_000), true, "only verification refused it");
  },
});

Deno.test({
  name: "the client principal cannot read requests, write responses or join the worker group",
  ...opts,
  async fn(t) {
    const config = svc.config("client");
    const kafka = await createKafka(config.kafka, "client-break-in", { quiet: true, retries: 0 });
    await t.step("reading analysis-requests", async () => {
      const e = await consumerRefusal(
        kafka,
        "fashion-receiver-steal",
        config.topics.requests,
        "reading requests",
      );
      assert.equal(kafkaType(e), "TOPIC_AUTHORIZATION_FAILED", String(e));
    });
    await t.step("writing analysis-responses", async () => {
      const producer = kafka.producer({ retry: { retries: 0 } });
      await producer.connect();
      try {
        const e = await refusal(
          producer.send({ topic: config.topics.responses, messages: [{ value: "forged" }] }),
          "writing responses",
        );
        assert.equal(kafkaType(e), "TOPIC_AUTHORIZATION_FAILED", String(e));
      } finally {
        await producer.disconnect();
      }
    });
    await t.step("joining the worker group", async () => {
      const e = await consumerRefusal(
        kafka,
        config.workerGroup,
        config.topics.responses,
        "joining the group",
      );
      // kafkajs reports a refused FindCoordinator as "Failed to find group
      // coordinator" and drops the code; the broker's authorizer log says why.
      assert.equal(e.name, "KafkaJSGroupCoordinatorNotFound", String(e));
      await brokerDenied(
        `User:client is Denied operation = DESCRIBE`,
        `Group:LITERAL:${config.workerGroup}`,
      );
    });
  },
});

Deno.test({
  name: "the worker principal cannot create or delete topics",
  ...opts,
  async fn(t) {
    const config = svc.config("worker");
    const kafka = await createKafka(config.kafka, "worker-break-in", { quiet: true, retries: 0 });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await t.step("creating a topic", async () => {
        const topic = `${config.replyTopicPrefix}made-by-worker`;
        const e = await refusal(admin.createTopics({ topics: [{ topic }] }), "creating a topic");
        assert.equal(kafkaType(e), "TOPIC_AUTHORIZATION_FAILED", String(e));
      });
      await t.step("deleting the request topic", async () => {
        const e = await refusal(
          admin.deleteTopics({ topics: [config.topics.requests] }),
          "deleting a topic",
        );
        assert.equal(kafkaType(e), "TOPIC_AUTHORIZATION_FAILED", String(e));
      });
    } finally {
      await admin.disconnect();
    }
    const adminConfig = svc.config("admin");
    const superUser = (await createKafka(adminConfig.kafka, "check")).admin();
    await superUser.connect();
    const topics = await superUser.listTopics();
    await superUser.disconnect();
    assert.ok(topics.includes(config.topics.requests), "the request topic is still there");
    assert.ok(!topics.includes(`${config.replyTopicPrefix}made-by-worker`));
  },
});

Deno.test({
  name: "tenant B cannot read tenant A's replies",
  ...opts,
  async fn() {
    const config = svc.config("tenant-b");
    const kafka = await createKafka(config.kafka, "tenant-b", { quiet: true, retries: 0 });
    const e = await consumerRefusal(
      kafka,
      "tenant-b-peek",
      `${config.replyTopicPrefix}tenant-a`,
      "reading another tenant's replies",
    );
    assert.equal(kafkaType(e), "TOPIC_AUTHORIZATION_FAILED", String(e));
  },
});

Deno.test({
  name: "no log line of the worker, clients or acls task contains a password",
  ...opts,
  async fn() {
    const passwords = await allPasswords();
    assert.ok(
      passwords.length >= 5,
      `expected every principal's password, got ${passwords.length}`,
    );
    assert.ok(logLines.length > 20, `expected the processes' output, got ${logLines.length} lines`);
    assert.ok(logLines.some((l) => /"event":"ready"/.test(l)), "the worker's lines are among them");
    for (const line of logLines) {
      for (const p of passwords) {
        assert.ok(!line.includes(p), `a password in: ${line.slice(0, 60)}...`);
      }
    }
  },
});

Deno.test({
  name:
    "teardown: the run's topics and ACLs go, and the secure cluster stops if the tests started it",
  ...opts,
  async fn() {
    try {
      const admin = (await createKafka(svc.config("admin").kafka, "cleanup")).admin();
      await admin.connect();
      try {
        await removeRun(admin);
      } finally {
        await admin.disconnect();
      }
    } finally {
      await releaseSecureBroker();
    }
  },
});
