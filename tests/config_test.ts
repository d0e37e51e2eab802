import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { ConfigError, ENV_NAMES, parseConfig } from "../shared/config.ts";

Deno.test("parseConfig() of an empty environment gives the documented defaults", () => {
  assert.deepEqual(parseConfig({}), {
    kafka: { brokers: ["localhost:9092"], clientId: "fashion-mnist" },
    topics: {
      requests: "analysis-requests",
      responses: "analysis-responses",
      dlq: "analysis-requests-dlq",
    },
    workerGroup: "read-ml-requests",
    dataDir: undefined,
  });
});

Deno.test("parseConfig() reads brokers, topics and group, trimming blanks", () => {
  const c = parseConfig({
    KAFKA_BROKERS: " a:9092, b.example:19092 ,[::1]:9093",
    KAFKA_REQUEST_TOPIC: "req",
    KAFKA_RESPONSE_TOPIC: "res",
    KAFKA_DLQ_TOPIC: "dead.letters",
    KAFKA_WORKER_GROUP: " workers ",
  });
  assert.deepEqual(c.kafka.brokers, ["a:9092", "b.example:19092", "[::1]:9093"]);
  assert.deepEqual(c.topics, { requests: "req", responses: "res", dlq: "dead.letters" });
  assert.equal(c.workerGroup, "workers");
});

Deno.test("every variable parseConfig() knows is granted by each set that reads Kafka settings", () => {
  const sets = denoJson.permissions as Record<string, { env?: string[] }>;
  for (const name of ["worker", "client", "tests", "demo", "bench_e2e", "chaos"]) {
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
          "KAFKA_SASL_MECHANISM=plain expects KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD to be set",
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
