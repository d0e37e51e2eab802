import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import {
  ConfigError,
  ENV_NAMES,
  parseConfig,
  readSecretFile,
  type SecretReader,
} from "../shared/config.ts";
import { needsPermissions, tempDir } from "./_support.ts";

Deno.test("parseConfig() of an empty environment gives the documented defaults", () => {
  assert.deepEqual(parseConfig({}), {
    kafka: { brokers: ["localhost:9092"], clientId: "fashion-mnist" },
    topics: {
      requests: "analysis-requests",
      responses: "analysis-responses",
      dlq: "analysis-requests-dlq",
    },
    workerGroup: "read-ml-requests",
    modelTopic: "model-updates",
    replyTopicPrefix: "analysis-responses.",
    dataDir: undefined,
  });
});

Deno.test("parseConfig() reads brokers, topics, group and model topic, trimming blanks", () => {
  const c = parseConfig({
    KAFKA_BROKERS: " a:9092, b.example:19092 ,[::1]:9093",
    KAFKA_REQUEST_TOPIC: "req",
    KAFKA_RESPONSE_TOPIC: "res",
    KAFKA_DLQ_TOPIC: "dead.letters",
    KAFKA_WORKER_GROUP: " workers ",
    KAFKA_MODEL_TOPIC: "models.v1",
  });
  assert.deepEqual(c.kafka.brokers, ["a:9092", "b.example:19092", "[::1]:9093"]);
  assert.deepEqual(c.topics, { requests: "req", responses: "res", dlq: "dead.letters" });
  assert.equal(c.workerGroup, "workers");
  assert.equal(c.modelTopic, "models.v1");
});

Deno.test("every variable parseConfig() knows is granted by each set that reads Kafka settings", () => {
  const sets = denoJson.permissions as Record<string, { env?: string[] }>;
  for (const name of ["worker", "client", "admin", "tests", "demo", "bench_e2e", "chaos"]) {
    const env = new Set(sets[name].env);
    const missing = ENV_NAMES.filter((v) => !env.has(v));
    assert.deepEqual(missing, [], `permission set ${name} lacks ${missing.join(", ")}`);
  }
});

Deno.test("parseConfig() rejects a bad broker address with what it expected", async (t) => {
  for (const broker of ["localhost", "host:0", "host:70000", "a b:9092", "host:port"]) {
    await t.step(broker, () => {
      assert.throws(
        () => parseConfig({ KAFKA_BROKERS: broker }),
        new ConfigError(`KAFKA_BROKERS expects host:port[,host:port...], got '${broker}'`),
      );
    });
  }
});

Deno.test("parseConfig() rejects a topic name Kafka would refuse", async (t) => {
  for (const topic of ["has space", "slash/topic", "x".repeat(250)]) {
    await t.step(topic.slice(0, 20), () => {
      assert.throws(
        () => parseConfig({ KAFKA_REQUEST_TOPIC: topic }),
        new ConfigError(
          `KAFKA_REQUEST_TOPIC expects a Kafka topic name (letters, digits, '.', '_', '-'), got '${topic}'`,
        ),
      );
    });
  }
});

Deno.test("parseConfig() parses booleans in their usual spellings", async (t) => {
  for (const on of ["1", "true", "YES", " on "]) {
    await t.step(`KAFKA_SSL=${on} turns TLS on`, () => {
      assert.deepEqual(parseConfig({ KAFKA_SSL: on }).kafka.ssl, {
        caFile: undefined,
        rejectUnauthorized: true,
      });
    });
  }
  for (const off of ["0", "false", "No", "off", ""]) {
    await t.step(`KAFKA_SSL=${off} leaves TLS off`, () => {
      assert.equal(parseConfig({ KAFKA_SSL: off }).kafka.ssl, undefined);
    });
  }
  await t.step("KAFKA_SSL_REJECT_UNAUTHORIZED=false allows self-signed", () => {
    const c = parseConfig({ KAFKA_SSL: "true", KAFKA_SSL_REJECT_UNAUTHORIZED: "false" });
    assert.equal(c.kafka.ssl?.rejectUnauthorized, false);
  });
  await t.step("anything else is an error", () => {
    assert.throws(
      () => parseConfig({ KAFKA_SSL: "maybe" }),
      new ConfigError("KAFKA_SSL expects true or false, got 'maybe'"),
    );
  });
});

Deno.test("parseConfig() needs both a SASL user and password, and a known mechanism", async (t) => {
  await t.step("user and password given", () => {
    const c = parseConfig({
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "p",
    });
    assert.deepEqual(c.kafka.sasl, { mechanism: "scram-sha-512", username: "u", password: "p" });
  });
  for (const missing of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] as const) {
    await t.step(`${missing} missing`, () => {
      const env = {
        KAFKA_SASL_MECHANISM: "plain",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p",
      };
      delete (env as Record<string, string>)[missing];
      assert.throws(
        () => parseConfig(env),
        new ConfigError(
          "KAFKA_SASL_MECHANISM=plain expects KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) to be set",
        ),
      );
    });
  }
  await t.step("unknown mechanism", () => {
    assert.throws(
      () => parseConfig({ KAFKA_SASL_MECHANISM: "gssapi" }),
      new ConfigError(
        "KAFKA_SASL_MECHANISM expects plain, scram-sha-256 or scram-sha-512, got 'gssapi'",
      ),
    );
  });
});

const SCRAM = {
  KAFKA_SASL_MECHANISM: "scram-sha-512",
  KAFKA_SASL_USERNAME: "worker",
};

Deno.test("parseConfig() takes the SASL password from KAFKA_SASL_PASSWORD_FILE", async (t) => {
  await t.step("through the secret reader it is given", () => {
    const asked: string[] = [];
    const reader: SecretReader = (path, name) => {
      asked.push(`${name}=${path}`);
      return "s3cret";
    };
    const config = parseConfig({ ...SCRAM, KAFKA_SASL_PASSWORD_FILE: "/run/pw" }, reader);
    assert.deepEqual(config.kafka.sasl, {
      mechanism: "scram-sha-512",
      username: "worker",
      password: "s3cret",
    });
    assert.deepEqual(asked, ["KAFKA_SASL_PASSWORD_FILE=/run/pw"]);
  });
  await t.step("refuses both the password and its file, without printing either", () => {
    assert.throws(
      () =>
        parseConfig(
          { ...SCRAM, KAFKA_SASL_PASSWORD: "s3cret", KAFKA_SASL_PASSWORD_FILE: "/run/pw" },
          () => "other",
        ),
      new ConfigError(
        "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE expect one of them to be set, got both",
      ),
    );
  });
  await t.step("a parse without a reader refuses the file instead of ignoring it", () => {
    assert.throws(
      () => parseConfig({ ...SCRAM, KAFKA_SASL_PASSWORD_FILE: "/run/pw" }),
      new ConfigError(
        "KAFKA_SASL_PASSWORD_FILE is set but this caller reads no files: use loadConfig()",
      ),
    );
  });
  await t.step("an error for a bad mechanism never carries the password", () => {
    const env = { ...SCRAM, KAFKA_SASL_MECHANISM: "gssapi", KAFKA_SASL_PASSWORD: "s3cret" };
    assert.throws(() => parseConfig(env), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });
});

Deno.test("parseConfig() reads the reply topic prefix", async (t) => {
  await t.step("default analysis-responses.", () => {
    assert.equal(parseConfig({}).replyTopicPrefix, "analysis-responses.");
  });
  await t.step("KAFKA_REPLY_TOPIC_PREFIX replaces it", () => {
    assert.equal(
      parseConfig({ KAFKA_REPLY_TOPIC_PREFIX: "t1.replies." }).replyTopicPrefix,
      "t1.replies.",
    );
  });
  await t.step("a prefix Kafka would refuse is a ConfigError", () => {
    assert.throws(
      () => parseConfig({ KAFKA_REPLY_TOPIC_PREFIX: "a b" }),
      new ConfigError(
        "KAFKA_REPLY_TOPIC_PREFIX expects a Kafka topic name (letters, digits, '.', '_', '-'), got 'a b'",
      ),
    );
  });
});

Deno.test(
  "readSecretFile() reads an owner-only file and refuses a readable one",
  needsPermissions(),
  async (t) => {
    await using dir = await tempDir("secret-");
    const path = `${dir.path}/pw`;
    await t.step("mode 600: the secret, without its newline", async () => {
      await Deno.writeTextFile(path, "s3cret\n");
      await Deno.chmod(path, 0o600);
      assert.equal(readSecretFile(path, "KAFKA_SASL_PASSWORD_FILE"), "s3cret");
    });
    await t.step("mode 644: one line naming the file and its mode, not the secret", async () => {
      await Deno.chmod(path, 0o644);
      assert.throws(
        () => readSecretFile(path, "KAFKA_SASL_PASSWORD_FILE"),
        new ConfigError(
          `KAFKA_SASL_PASSWORD_FILE expects a file only its owner can access (chmod 600), got '${path}' with mode 0644`,
        ),
      );
    });
    await t.step("an empty file", async () => {
      await Deno.writeTextFile(path, "");
      await Deno.chmod(path, 0o600);
      assert.throws(
        () => readSecretFile(path, "KAFKA_SASL_PASSWORD_FILE"),
        new ConfigError(
          `KAFKA_SASL_PASSWORD_FILE expects a non-empty file, got an empty '${path}'`,
        ),
      );
    });
    await t.step("a missing file", () => {
      assert.throws(
        () => readSecretFile(`${path}-missing`, "KAFKA_SASL_PASSWORD_FILE"),
        new ConfigError(
          `KAFKA_SASL_PASSWORD_FILE expects a readable file, got '${path}-missing' (NotFound)`,
        ),
      );
    });
  },
);
