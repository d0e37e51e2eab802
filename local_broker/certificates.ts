/**
 * A private CA and the brokers' certificate, made with the JDK's keytool
 * (no openssl needed). Store passwords go to keytool through a file
 * (`-storepass:file`), never on its command line.
 */
import { SetupError } from "../shared/cli/run_main.ts";
import { CA_FILE, CREDENTIALS_DIR, TLS_DIR } from "./secure_config.ts";
import { privateDir } from "./credentials.ts";

/** Hosts the brokers answer as; clients verify the certificate against these. */
const SAN = "SAN=dns:localhost,ip:127.0.0.1";

async function keytool(args: string[], what: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("keytool", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SetupError(`${what} needs 'keytool' (JDK 17+) on PATH`);
    }
    throw e;
  }
  if (!out.success) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new Error(`${what} failed (keytool exit ${out.code}): ${text.trim().split("\n")[0]}`);
  }
}

/** An RSA 2048 key with a self-signed certificate for `cn`, valid ten years, in `store`. */
function genKeyPair(store: string[], cn: string, ext: string, what: string): Promise<void> {
  return keytool([
    "-genkeypair",
    ...store,
    "-keyalg",
    "RSA",
    "-keysize",
    "2048",
    "-validity",
    "3650",
    "-dname",
    `CN=${cn}`,
    "-ext",
    ext,
  ], `Making ${what}`);
}

/**
 * Makes a self-signed CA in `dir` (ca.p12 with its key, ca.pem) named `cn`;
 * the store password is read from `passFile`. Tests use it for a second,
 * untrusted CA as well.
 */
export async function makeCa(dir: string, cn: string, passFile: string): Promise<string> {
  const store = ["-storetype", "PKCS12", "-storepass:file", passFile];
  await genKeyPair(["-alias", "ca", "-keystore", `${dir}/ca.p12`, ...store], cn, "bc:c", "the CA");
  await keytool([
    "-exportcert",
    "-rfc",
    "-alias",
    "ca",
    "-keystore",
    `${dir}/ca.p12`,
    "-file",
    `${dir}/ca.pem`,
    ...store,
  ], "Exporting the CA certificate");
  return `${dir}/ca.pem`;
}

/** Signs a broker key for localhost and 127.0.0.1 with the CA; builds the trust store. */
async function makeBrokerStores(dir: string, passFile: string): Promise<void> {
  const store = ["-storetype", "PKCS12", "-storepass:file", passFile];
  const broker = ["-alias", "broker", "-keystore", `${dir}/broker.p12`, ...store];
  await genKeyPair(broker, "localhost", SAN, "the broker key");
  await keytool(["-certreq", ...broker, "-file", `${dir}/broker.csr`], "Requesting a certificate");
  await keytool([
    "-gencert",
    "-alias",
    "ca",
    "-keystore",
    `${dir}/ca.p12`,
    ...store,
    "-infile",
    `${dir}/broker.csr`,
    "-outfile",
    `${dir}/broker.crt`,
    "-rfc",
    "-validity",
    "3650",
    "-ext",
    SAN,
    "-ext",
    "eku=serverAuth,clientAuth",
  ], "Signing the broker certificate");
  const ca = ["-file", `${dir}/ca.pem`, "-noprompt"];
  await keytool(
    ["-importcert", "-alias", "ca", "-keystore", `${dir}/broker.p12`, ...store, ...ca],
    "Chaining the CA",
  );
  await keytool(
    ["-importcert", ...broker, "-file", `${dir}/broker.crt`],
    "Importing the broker certificate",
  );
  await keytool(
    ["-importcert", "-alias", "ca", "-keystore", `${dir}/truststore.p12`, ...store, ...ca],
    "Building the trust store",
  );
}

/**
 * The secure cluster's CA and broker stores in .kafka/secure/tls/, made on
 * first start; the CA certificate is copied to .kafka/secure/ca.pem for
 * clients. Returns the folder of the stores.
 */
export async function ensureCertificates(): Promise<string> {
  await privateDir(TLS_DIR);
  const done = `${TLS_DIR}/.complete`;
  if (await Deno.stat(done).then(() => true, () => false)) return TLS_DIR;
  for await (const e of Deno.readDir(TLS_DIR)) await Deno.remove(`${TLS_DIR}/${e.name}`);
  const passFile = `${CREDENTIALS_DIR}/_store.password`;
  await makeCa(TLS_DIR, "fashion-mnist local CA", passFile);
  await makeBrokerStores(TLS_DIR, passFile);
  for await (const e of Deno.readDir(TLS_DIR)) await Deno.chmod(`${TLS_DIR}/${e.name}`, 0o600);
  await Deno.copyFile(`${TLS_DIR}/ca.pem`, CA_FILE);
  await Deno.chmod(CA_FILE, 0o600);
  await Deno.writeTextFile(done, new Date().toISOString());
  return TLS_DIR;
}
