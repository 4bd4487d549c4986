/**
 * Test keys made by the real `openssl` binary, in the forms kube clusters really use, and kube's
 * key id for each computed with openssl alone, so the code under test is checked against an
 * implementation it shares nothing with.
 *
 * Tests call {@link OpensslWorkspace.create} in `beforeAll`: when openssl is missing it throws with
 * an install hint, so the tests fail instead of silently skipping.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What to do when the tests cannot find openssl. */
export const OPENSSL_INSTALL_HINT =
  'these tests generate keys with the real `openssl` binary, which was not found on PATH: install it (Debian/Ubuntu: `apt-get install openssl`)';

/** The curves of `openssl ecparam -name`, by the JOSE name of the curve. */
export const OPENSSL_CURVE = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;

/** Unpadded base64url (RFC 7515 section 2), spelled out from plain base64 rather than taken from the code under test. */
export function base64url(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A key pair written by openssl, with kube's key id computed by openssl. */
export interface OpensslKeyPair {
  /** File name of the private key in the workspace. */
  readonly privateFile: string;
  /** The private key file exactly as openssl wrote it. */
  readonly privatePem: string;
  /** File name of the public key in the workspace. */
  readonly publicFile: string;
  /** The public key as a PKIX `PUBLIC KEY` block, as kubeadm writes `sa.pub`. */
  readonly publicPem: string;
  /** `base64url(SHA-256(DER SubjectPublicKeyInfo))`, unpadded: kube's kid, computed by openssl. */
  readonly kid: string;
}

/** Fails with {@link OPENSSL_INSTALL_HINT} when openssl cannot be run; returns its version line. */
export function requireOpenssl(): string {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    throw new Error(`${OPENSSL_INSTALL_HINT} (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** A temporary directory in which openssl writes keys; {@link remove} it in `afterAll`. */
export class OpensslWorkspace {
  /** Checks that openssl runs, then makes a fresh temporary directory. */
  static create(): OpensslWorkspace {
    requireOpenssl();
    return new OpensslWorkspace(mkdtempSync(join(tmpdir(), 'kube-oidc-openssl-')));
  }

  private constructor(readonly dir: string) {}

  /** Runs openssl in the workspace; a failure carries openssl's stderr, which names the cause. */
  run(args: readonly string[], input?: string | Buffer): Buffer {
    try {
      return execFileSync('openssl', args, { cwd: this.dir, input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8').trim();
      throw new Error(`openssl ${args.join(' ')} failed: ${stderr || (err instanceof Error ? err.message : String(err))}`);
    }
  }

  /** Absolute path of a workspace file. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** Content of a workspace file. */
  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }

  /** Writes a workspace file and returns its name. */
  write(name: string, content: string): string {
    writeFileSync(this.path(name), content);
    return name;
  }

  /** Deletes the workspace. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An RSA key as kubeadm writes `sa.key`: a traditional `RSA PRIVATE KEY` block. */
  rsaKeyPair(name: string, bits = 2048): OpensslKeyPair {
    const privateFile = `${name}.key`;
    this.run(['genrsa', '-traditional', '-out', privateFile, String(bits)]);
    return this.completePair(name, privateFile);
  }

  /**
   * An EC key as `openssl ecparam -genkey` writes it: an `EC PRIVATE KEY` block, preceded by an
   * `EC PARAMETERS` block unless `withParameters` is false (`-noout`).
   */
  ecKeyPair(name: string, curve: keyof typeof OPENSSL_CURVE | 'secp256k1', withParameters = true): OpensslKeyPair {
    const privateFile = `${name}.key`;
    const opensslCurve = curve === 'secp256k1' ? curve : OPENSSL_CURVE[curve];
    this.run(['ecparam', '-name', opensslCurve, '-genkey', ...(withParameters ? [] : ['-noout']), '-out', privateFile]);
    return this.completePair(name, privateFile);
  }

  /** An Ed25519 key (a PKCS#8 `PRIVATE KEY` block), which kube cannot sign tokens with. */
  ed25519KeyPair(name: string): OpensslKeyPair {
    const privateFile = `${name}.key`;
    this.run(['genpkey', '-algorithm', 'ed25519', '-out', privateFile]);
    return this.completePair(name, privateFile);
  }

  /** The public key of an RSA private key as a PKCS#1 `RSA PUBLIC KEY` block. */
  rsaPublicKeyPkcs1(pair: OpensslKeyPair): string {
    return this.run(['rsa', '-in', pair.privateFile, '-RSAPublicKey_out']).toString('utf8');
  }

  /** A self-signed X.509 `CERTIFICATE` for the key pair. */
  selfSignedCertificate(pair: OpensslKeyPair): string {
    return this.run(['req', '-x509', '-new', '-key', pair.privateFile, '-subj', '/CN=kube-oidc-test', '-days', '1', '-sha256']).toString('utf8');
  }

  /** The private key as an unencrypted PKCS#8 `PRIVATE KEY` block. */
  pkcs8PrivateKey(pair: OpensslKeyPair): string {
    return this.run(['pkcs8', '-topk8', '-nocrypt', '-in', pair.privateFile]).toString('utf8');
  }

  /** The private key as a passphrase-protected PKCS#8 `ENCRYPTED PRIVATE KEY` block. */
  encryptedPkcs8PrivateKey(pair: OpensslKeyPair, passphrase: string): string {
    return this.run(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', pair.privateFile, '-passout', `pass:${passphrase}`]).toString('utf8');
  }

  /** An RSA private key encrypted the legacy way: `RSA PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED`. */
  encryptedTraditionalRsaPrivateKey(pair: OpensslKeyPair, passphrase: string): string {
    return this.run(['rsa', '-in', pair.privateFile, '-aes256', '-traditional', '-passout', `pass:${passphrase}`]).toString('utf8');
  }

  /** The DER SubjectPublicKeyInfo of a PEM public key file, as openssl encodes it. */
  publicKeyDer(publicPemFile: string): Buffer {
    return this.run(['pkey', '-pubin', '-in', publicPemFile, '-outform', 'DER']);
  }

  /** The RSA modulus of a PEM public key file, big-endian without leading zeros, as openssl prints it. */
  rsaModulus(publicPemFile: string): Buffer {
    const line = this.run(['rsa', '-pubin', '-in', publicPemFile, '-modulus', '-noout']).toString('utf8').trim();
    const match = /^Modulus=([0-9A-F]+)$/.exec(line);
    if (!match) throw new Error(`unexpected openssl -modulus output: ${line}`);
    return Buffer.from(match[1], 'hex');
  }

  /**
   * kube's key id of a PEM public key, by openssl only:
   * `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary`, then unpadded base64url.
   */
  kubeKeyId(publicPemFile: string): string {
    const der = this.publicKeyDer(publicPemFile);
    const digest = this.run(['dgst', '-sha256', '-binary'], der);
    if (digest.length !== 32) throw new Error(`openssl dgst gave ${digest.length} bytes, not a SHA-256 digest`);
    return base64url(digest);
  }

  private completePair(name: string, privateFile: string): OpensslKeyPair {
    const publicFile = `${name}.pub`;
    this.run(['pkey', '-in', privateFile, '-pubout', '-out', publicFile]);
    return {
      privateFile,
      privatePem: this.read(privateFile),
      publicFile,
      publicPem: this.read(publicFile),
      kid: this.kubeKeyId(publicFile),
    };
  }
}
