/**
 * The secure local cluster: where its files live, its listeners (SASL_SSL
 * everywhere), its principals, and the environment a role's process needs.
 * Pure: the files themselves are made by certificates.ts and credentials.ts.
 */
import type { NodeLayout } from "./node_config.ts";

/** Data, certificates and credentials of the secure cluster: beside the plaintext one's. */
export const SECURE_ROOT = ".kafka/secure";
/** Brokers on 9192, 9194, 9196 (controllers one above), clear of the plaintext 9092... */
export const SECURE_BASE_PORT = 9192;
/** The CA certificate clients trust (PEM). */
export const CA_FILE = `${SECURE_ROOT}/ca.pem`;
/** One `<principal>.password` file per principal, owner-only. */
export const CREDENTIALS_DIR = `${SECURE_ROOT}/credentials`;
/** Key stores and the CA's key, owner-only. */
export const TLS_DIR = `${SECURE_ROOT}/tls`;

/**
 * The SCRAM-SHA-512 users created when the storage is formatted: the super
 * user, one principal per role, and two tenants. ACLs (security/acl_plan.ts)
 * say what each may do; a user without ACLs may do nothing.
 */
export const PRINCIPALS = ["admin", "worker", "client", "tenant-a", "tenant-b"] as const;
export type Principal = typeof PRINCIPALS[number];

/** Passwords the brokers themselves use; never given to a client. */
export interface BrokerSecrets {
  /** SCRAM password of `admin`, for broker-to-broker traffic. */
  admin: string;
  /** PLAIN password of `admin` on the controller listener (SCRAM needs the metadata it serves). */
  controller: string;
  /** Password of the PKCS12 key and trust stores. */
  store: string;
}

/** The password file of `principal`. */
export function passwordFile(principal: Principal): string {
  return `${CREDENTIALS_DIR}/${principal}.password`;
}

/**
 * Listener lines of a secure node. Clients and brokers talk SASL_SSL with
 * SCRAM-SHA-512 on the broker port; brokers authenticate to each other as
 * the super user `admin`, so no unauthenticated port exists. The controller
 * port is SASL_SSL too, with PLAIN: controllers cannot check SCRAM before
 * they have the metadata log that holds the SCRAM users. The authorizer
 * denies whatever no ACL allows.
 */
export function secureListeners(n: NodeLayout, stores: string, s: BrokerSecrets): string[] {
  const scram = "org.apache.kafka.common.security.scram.ScramLoginModule";
  const plain = "org.apache.kafka.common.security.plain.PlainLoginModule";
  return [
    `listeners=SECURE://127.0.0.1:${n.brokerPort},CONTROLLER://127.0.0.1:${n.controllerPort}`,
    `advertised.listeners=SECURE://127.0.0.1:${n.brokerPort}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=SECURE",
    "listener.security.protocol.map=CONTROLLER:SASL_SSL,SECURE:SASL_SSL",
    "ssl.keystore.type=PKCS12",
    `ssl.keystore.location=${stores}/broker.p12`,
    `ssl.keystore.password=${s.store}`,
    "ssl.truststore.type=PKCS12",
    `ssl.truststore.location=${stores}/truststore.p12`,
    `ssl.truststore.password=${s.store}`,
    "ssl.client.auth=none",
    "listener.name.secure.sasl.enabled.mechanisms=SCRAM-SHA-512",
    `listener.name.secure.scram-sha-512.sasl.jaas.config=${scram} required username="admin" password="${s.admin}";`,
    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
    "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
    `listener.name.controller.plain.sasl.jaas.config=${plain} required username="admin" password="${s.controller}" user_admin="${s.controller}";`,
    "sasl.mechanism.controller.protocol=PLAIN",
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found=false",
    "super.users=User:admin",
  ];
}

const SCRAM_ITERATIONS = 8192;

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The storage tool's `--add-scram` value for a SCRAM-SHA-512 user, given as
 * salt and salted password (PBKDF2, as SCRAM's Hi()) so that the password
 * itself never appears on a command line.
 */
export async function scramArgument(
  name: string,
  password: string,
  salt: Uint8Array = crypto.getRandomValues(new Uint8Array(32)),
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const salted = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-512", salt: salt as BufferSource, iterations: SCRAM_ITERATIONS },
    key,
    512,
  );
  return `SCRAM-SHA-512=[name=${name},iterations=${SCRAM_ITERATIONS},salt="${
    base64(salt)
  }",saltedpassword="${base64(new Uint8Array(salted))}"]`;
}

/**
 * The environment that makes a process of this project talk to the secure
 * local cluster as `principal`: TLS with our CA, SCRAM-SHA-512, and the
 * password from its owner-only file (never the password itself).
 */
export function secureEnv(principal: Principal, brokers = 1): Record<string, string> {
  const list = Array.from({ length: brokers }, (_, i) => `127.0.0.1:${SECURE_BASE_PORT + 2 * i}`);
  return {
    KAFKA_BROKERS: list.join(","),
    KAFKA_SSL: "true",
    KAFKA_SSL_CA_FILE: CA_FILE,
    KAFKA_SASL_MECHANISM: "scram-sha-512",
    KAFKA_SASL_USERNAME: principal,
    KAFKA_SASL_PASSWORD_FILE: passwordFile(principal),
  };
}
