import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";

/** A certificate authority made for one test: its certificate and key files. */
export interface TestCa {
  certFile: string;
  keyFile: string;
}

/** A certificate and its key, signed by a TestCa. */
export interface TestCert {
  certFile: string;
  keyFile: string;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA with Debian's openssl, valid for a day, under `dir` as `<name>-ca.pem` / `<name>-ca.key`. */
export function makeTestCa(dir: string, name: string): TestCa {
  const ca = { certFile: join(dir, `${name}-ca.pem`), keyFile: join(dir, `${name}-ca.key`) };
  openssl(["req", "-x509", ...EC_KEY, "-days", "1", "-subj", `/CN=${name} test CA`, "-keyout", ca.keyFile, "-out", ca.certFile]);
  return ca;
}

/**
 * A certificate for `commonName` signed by `ca`: a server's (with `ip`, its subjectAltName, e.g. 127.0.0.1) or a
 * client's. Files `<commonName>.<ca name>.pem` / `.key` under `dir`.
 */
export function issueTestCert(dir: string, ca: TestCa, commonName: string, opts: { ip?: string } = {}): TestCert {
  const base = join(dir, `${commonName}.${basename(ca.certFile, "-ca.pem")}`);
  const cert = { certFile: `${base}.pem`, keyFile: `${base}.key` };
  const csr = `${base}.csr`;
  openssl(["req", ...EC_KEY, "-subj", `/CN=${commonName}`, "-keyout", cert.keyFile, "-out", csr]);
  const ext = `${base}.ext`;
  const extensions = opts.ip ? `subjectAltName=IP:${opts.ip}\nextendedKeyUsage=serverAuth\n` : "extendedKeyUsage=clientAuth\n";
  writeFileSync(ext, extensions);
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    ext,
    "-out",
    cert.certFile,
  ]);
  return cert;
}
