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

Deno.test("every permission set that reads Kafka settings grants every name config reads", () => {
  const sets = denoJson.permissions as Record<string, { env?: string[] }>;
  let checked = 0;
  for (const [name, set] of Object.entries(sets)) {
    if (!set.env?.includes("KAFKA_BROKERS")) continue;
    checked++;
    const missing = ENV_NAMES.filter((v) => !set.env!.includes(v));
    assert.deepEqual(missing, [], `permission set ${name} lacks ${missing.join(", ")}`);
  }
  assert.ok(checked >= 5, `expected the worker, client and bench sets at least, got ${checked}`);
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
