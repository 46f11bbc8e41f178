// The emulator's TLS identity: a self-signed RSA certificate (selfsigned v5), made on first use.
// With a folder it is stored there (tls-key.pem 0600, tls-cert.pem) and reused; without one it
// lives in memory for this process. RSA because Espruino's mbedTLS has no ECDHE: the key exchange
// must be plain RSA (docs/ESPRUINO.md §4). Devices never check it, as on the real platform.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface Certificate {
  key: string;
  cert: string;
}

let inMemory: Promise<Certificate> | null = null;

async function make(): Promise<Certificate> {
  const pems = await generate([{ name: "commonName", value: "iot-platform-emulator" }], {
    keyType: "rsa",
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 3650 * 86400000),
  });
  return { key: pems.private, cert: pems.cert };
}

/** The certificate stored in `dir` (made and stored when missing), or a per-process one. */
export async function loadCertificate(dir?: string): Promise<Certificate> {
  if (!dir) return (inMemory = inMemory || make());
  const keyFile = join(dir, "tls-key.pem");
  const certFile = join(dir, "tls-cert.pem");
  if (existsSync(keyFile) && existsSync(certFile))
    return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
  const made = await make();
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyFile, made.key, { mode: 0o600 });
  writeFileSync(certFile, made.cert);
  return made;
}
