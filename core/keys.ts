/**
 * Service-account key parsing: every input form kube-apiserver accepts for
 * `--service-account-key-file`, plus JWK/JWKS JSON, to public JWKs with kube's key ids.
 *
 * @see kubernetes/pkg/serviceaccount/jwt.go (keyIDFromPublicKey, signerFromRSAPrivateKey)
 * @see kubernetes/staging/src/k8s.io/client-go/util/keyutil/key.go (ParsePublicKeysPEM)
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, X509Certificate } from 'node:crypto';

/** The JWS algorithms kube-apiserver signs service-account tokens with. */
export type SigningAlg = 'RS256' | 'ES256' | 'ES384' | 'ES512';

/** The signing algorithms, in the order this project prefers to report them. */
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'ES256', 'ES384', 'ES512'];

/** A public signing key as kube-apiserver publishes it at `/openid/v1/jwks`. */
export interface PublicJwk {
  readonly kty: 'RSA' | 'EC';
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly use: 'sig';
  readonly n?: string;
  readonly e?: string;
  readonly crv?: 'P-256' | 'P-384' | 'P-521';
  readonly x?: string;
  readonly y?: string;
}

/** One key found in an input. */
export interface ParsedKey {
  readonly jwk: PublicJwk;
  /** Which input (and which block or entry of it) the key came from. */
  readonly source: string;
  /**
   * True when the input held private key material (only the public half is kept). Callers that
   * take keys from a shared location refuse such keys: a private key there is a leak.
   */
  readonly fromPrivateKey: boolean;
}

/** An input, or part of one, that could not be used, and why. */
export interface KeyProblem {
  readonly source: string;
  readonly reason: string;
}

/** What one input yielded: the usable keys, and the parts that were refused. */
export interface KeyParseResult {
  readonly keys: ParsedKey[];
  readonly problems: KeyProblem[];
}

/** Smallest RSA modulus accepted, as NIST and AWS STS require. */
export const MIN_RSA_BITS = 2048;

const CURVE_ALG: Record<string, { crv: PublicJwk['crv']; alg: SigningAlg }> = {
  'P-256': { crv: 'P-256', alg: 'ES256' },
  'P-384': { crv: 'P-384', alg: 'ES384' },
  'P-521': { crv: 'P-521', alg: 'ES512' },
};

const ENCRYPTED_KEY_REASON = 'encrypted private key: give the public key (`openssl pkey -pubout`) instead';

/** JWK members that carry private key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
export const PRIVATE_JWK_MEMBERS: readonly string[] = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * The key id kube-apiserver gives a key read from a key file: the unpadded base64url SHA-256 of
 * the public key's DER SubjectPublicKeyInfo.
 */
export function kubeKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

/**
 * Parses key material in any accepted form: one or more PEM blocks (`PUBLIC KEY`,
 * `RSA PUBLIC KEY`, `CERTIFICATE`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`, `PRIVATE KEY`, with
 * `EC PARAMETERS` blocks tolerated), a JWK, or a JWKS. Never throws: refused parts come back as
 * problems naming the source and the reason.
 *
 * @param input the file's content
 * @param source a label for messages, such as the file name or object key
 */
export function parseKeyMaterial(input: string | Uint8Array, source: string): KeyParseResult {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const trimmed = text.trim();
  if (trimmed === '') return refuse(source, 'empty input: expected PEM key(s), a JWK or a JWKS');
  if (trimmed.startsWith('{')) return parseJson(trimmed, source);
  if (trimmed.includes('-----BEGIN ')) return parsePem(text, source);
  if (/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-)/.test(trimmed)) {
    return refuse(source, 'SSH public key format is not accepted: convert it with `ssh-keygen -e -m PKCS8 -f KEY.pub`');
  }
  return refuse(source, 'not a PEM key, JWK or JWKS');
}

function parsePem(text: string, source: string): KeyParseResult {
  const result: KeyParseResult = { keys: [], problems: [] };
  const blockPattern = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  let index = 0;
  for (const match of text.matchAll(blockPattern)) {
    index += 1;
    const label = match[1];
    const blockSource = `${source}#${index} (${label})`;
    if (label === 'EC PARAMETERS') continue; // `openssl ecparam -genkey` writes one; kube skips it too
    try {
      const { publicKey, fromPrivateKey } = publicKeyFromPem(label, match[0]);
      result.keys.push({ jwk: jwkFromPublicKey(publicKey), source: blockSource, fromPrivateKey });
    } catch (err) {
      result.problems.push({ source: blockSource, reason: pemErrorReason(err, label) });
    }
  }
  if (index === 0) result.problems.push({ source, reason: 'no complete PEM block (missing END line?)' });
  // Only EC PARAMETERS blocks: no key and nothing refused, which would otherwise pass unnoticed.
  else if (result.keys.length === 0 && result.problems.length === 0) result.problems.push({ source, reason: 'no key in the PEM blocks (only EC PARAMETERS)' });
  return result;
}

function publicKeyFromPem(label: string, pem: string): { publicKey: KeyObject; fromPrivateKey: boolean } {
  switch (label) {
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY':
      return { publicKey: createPublicKey(pem), fromPrivateKey: false };
    case 'CERTIFICATE':
      return { publicKey: new X509Certificate(pem).publicKey, fromPrivateKey: false };
    case 'RSA PRIVATE KEY':
    case 'EC PRIVATE KEY':
    case 'PRIVATE KEY':
      // Legacy OpenSSL encryption keeps the label and adds headers; OpenSSL's own error would only say "interrupted".
      if (/^Proc-Type:\s*4,ENCRYPTED/m.test(pem)) throw new KeyRefused(ENCRYPTED_KEY_REASON);
      return { publicKey: createPublicKey(createPrivateKey(pem)), fromPrivateKey: true };
    case 'ENCRYPTED PRIVATE KEY':
      throw new KeyRefused(ENCRYPTED_KEY_REASON);
    default:
      throw new KeyRefused(`unsupported PEM block type "${label}"`);
  }
}

function parseJson(text: string, source: string): KeyParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse(source, 'invalid JSON');
  }
  if (!isObject(value)) return refuse(source, 'JSON is not a JWK or JWKS object');
  if (Array.isArray(value.keys)) {
    const result: KeyParseResult = { keys: [], problems: [] };
    value.keys.forEach((entry, i) => {
      const entrySource = `${source}#keys[${i}]`;
      try {
        result.keys.push(parseJwk(entry, entrySource));
      } catch (err) {
        result.problems.push({ source: entrySource, reason: errorReason(err) });
      }
    });
    if (value.keys.length === 0) result.problems.push({ source, reason: 'JWKS has no keys' });
    return result;
  }
  try {
    return { keys: [parseJwk(value, source)], problems: [] };
  } catch (err) {
    return refuse(source, errorReason(err));
  }
}

function parseJwk(entry: unknown, source: string): ParsedKey {
  if (!isObject(entry)) throw new KeyRefused('JWK is not an object');
  if (entry.use !== undefined && entry.use !== 'sig') throw new KeyRefused(`JWK "use" is ${JSON.stringify(entry.use)}, not "sig"`);
  if (entry.kty !== 'RSA' && entry.kty !== 'EC') throw new KeyRefused(`unsupported key type ${JSON.stringify(entry.kty)}: only RSA and EC sign kube tokens`);
  const fromPrivateKey = PRIVATE_JWK_MEMBERS.some((member) => member in entry);
  let publicKey: KeyObject;
  try {
    const keyObject = fromPrivateKey
      ? createPublicKey(createPrivateKey({ key: entry as never, format: 'jwk' }))
      : createPublicKey({ key: publicMembers(entry) as never, format: 'jwk' });
    publicKey = keyObject;
  } catch (err) {
    throw new KeyRefused(`invalid ${String(entry.kty)} JWK: ${errorReason(err)}`);
  }
  const derived = jwkFromPublicKey(publicKey);
  if (entry.alg !== undefined && entry.alg !== derived.alg) {
    throw new KeyRefused(`JWK "alg" is ${JSON.stringify(entry.alg)} but the key signs ${derived.alg}`);
  }
  if (entry.kid !== undefined && typeof entry.kid !== 'string') throw new KeyRefused('JWK "kid" is not a string');
  // External signers choose their own key ids: a kid given in the JWK is kept as it is.
  // An empty kid is no id (old pod-identity-webhook files carry one): kube's kid is used, and the
  // kid-less duplicate, when wanted, comes from the `includeKidlessDuplicates` option.
  const kid = typeof entry.kid === 'string' && entry.kid !== '' ? entry.kid : derived.kid;
  return { jwk: { ...derived, kid }, source, fromPrivateKey };
}

/**
 * Converts a public key to the JWK kube-apiserver publishes, after checking that kube could
 * sign with it (RSA of at least 2048 bits, or EC on P-256, P-384 or P-521).
 */
export function jwkFromPublicKey(publicKey: KeyObject): PublicJwk {
  const kid = kubeKeyId(publicKey);
  const type = publicKey.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new KeyRefused(`RSA key of ${bits} bits is too small: at least ${MIN_RSA_BITS} bits are required`);
    const { n, e } = publicKey.export({ format: 'jwk' });
    return { use: 'sig', kty: 'RSA', kid, alg: 'RS256', n: n as string, e: e as string };
  }
  if (type === 'ec') {
    const { crv, x, y } = publicKey.export({ format: 'jwk' });
    const curve = CURVE_ALG[crv as string];
    if (!curve) throw new KeyRefused(`EC curve ${String(crv ?? publicKey.asymmetricKeyDetails?.namedCurve)} is not supported: use P-256, P-384 or P-521`);
    return { use: 'sig', kty: 'EC', kid, crv: curve.crv, alg: curve.alg, x: x as string, y: y as string };
  }
  throw new KeyRefused(`unsupported key type "${type}": kube signs service-account tokens with RSA or EC keys`);
}

/** A key that was read but cannot be used; its message is the reason shown to the operator. */
export class KeyRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'KeyRefused';
  }
}

function publicMembers(entry: Record<string, unknown>): Record<string, unknown> {
  return entry.kty === 'RSA' ? { kty: 'RSA', n: entry.n, e: entry.e } : { kty: 'EC', crv: entry.crv, x: entry.x, y: entry.y };
}

function refuse(source: string, reason: string): KeyParseResult {
  return { keys: [], problems: [{ source, reason }] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A PEM block's failure in words: OpenSSL's own codes (`error:1E08010C:DECODER routines::unsupported`)
 * tell an operator nothing, so a decoding failure says which block could not be read and why.
 */
function pemErrorReason(err: unknown, label: string): string {
  if (err instanceof KeyRefused) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  if (/^error:[0-9A-Fa-f]+:/.test(message) || (typeof code === 'string' && code.startsWith('ERR_OSSL'))) {
    return `the ${label} block cannot be decoded (corrupt, truncated or mislabelled base64): export the key again, e.g. \`openssl pkey -in KEY -pubout\``;
  }
  return errorReason(err);
}

function errorReason(err: unknown): string {
  if (err instanceof KeyRefused) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  // Never echo key material: OpenSSL messages name the failure, not the bytes.
  return message.replace(/-----BEGIN[\s\S]*$/, '').trim() || 'unreadable key';
}
