/**
 * Secrets of the secure local cluster, made once and kept in owner-only
 * files under .kafka/secure/: a password per principal, and the brokers' own.
 */
import {
  type BrokerSecrets,
  CREDENTIALS_DIR,
  passwordFile,
  type Principal,
  PRINCIPALS,
} from "./secure_config.ts";

/** 24 random bytes, URL-safe base64: no quote or space to escape in JAAS lines. */
function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

/** A folder only its owner may enter, even if it existed with a looser mode. */
export async function privateDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  await Deno.chmod(path, 0o700);
}

/** Writes a file only its owner may read or write (chmod too: `mode` obeys the umask). */
export async function writePrivate(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** The secret in `path`, made and stored there first when missing. */
async function secretIn(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const secret = randomSecret();
  await writePrivate(path, secret);
  return secret;
}

/** Every principal's password and the brokers' secrets, made on first use. */
export async function ensureCredentials(): Promise<{
  passwords: Record<Principal, string>;
  broker: BrokerSecrets;
}> {
  await privateDir(CREDENTIALS_DIR);
  const passwords = {} as Record<Principal, string>;
  for (const p of PRINCIPALS) passwords[p] = await secretIn(passwordFile(p));
  const broker: BrokerSecrets = {
    admin: passwords.admin,
    controller: await secretIn(`${CREDENTIALS_DIR}/_controller.password`),
    store: await secretIn(`${CREDENTIALS_DIR}/_store.password`),
  };
  return { passwords, broker };
}
