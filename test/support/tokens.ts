/**
 * Test support for the token verifier: kube-shaped tokens (minted with jose, or signed byte for
 * byte with node:crypto when a test needs exact control of the JSON), attack tokens, a seeded
 * corpus generator, and a reference verifier built on `jose.jwtVerify` for differential tests.
 *
 * The corpus generator and the reference are exported for the benchmark script too, which
 * prints the corpus size and the number of disagreements.
 */
import { constants, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { parseDocument } from 'yaml';
import { emptyDenyList, addDenyEntry, type DenyList } from '../../core/deny-list';
import { jwkFromPublicKey, type PublicJwk, type SigningAlg } from '../../core/keys';
import { createVerifier, type VerifierPolicy } from '../../core/verifier';

/** The issuer of the kube-format fixtures, and of every token minted here by default. */
export const TEST_ISSUER = 'https://oidc.example.com/cluster-a';
/** Issue time of the fixture tokens (2027-01-01T00:00:00Z); they expire an hour later. */
export const FIXTURE_IAT = 1798761600;
/** A verification time inside the fixture tokens' hour. */
export const FIXTURE_NOW = 1798761700;

const FIXTURE_DIR = join(__dirname, '..', 'fixtures', 'kube-format');

/** A signing key of a test: the private half and the JWK kube would publish. */
export interface TestKey {
  readonly alg: SigningAlg;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: PublicJwk;
}

/** The kube-format fixtures: keys, published JWKS and tokens exactly as kube-apiserver made them. */
export interface KubeFixtures {
  readonly jwks: { keys: PublicJwk[] };
  readonly rsa: TestKey;
  readonly ec: TestKey;
  readonly rs256Token: string;
  readonly es256Token: string;
  readonly rsaPublicPem: string;
}

/** Reads the kube-format fixtures (test/fixtures/kube-format). */
export function kubeFixtures(): KubeFixtures {
  const read = (name: string) => readFileSync(join(FIXTURE_DIR, name), 'utf8');
  const jwks = JSON.parse(read('jwks.json')) as { keys: PublicJwk[] };
  return {
    jwks,
    rsa: testKeyFrom(createPrivateKey(read('sa-rsa.key'))),
    ec: testKeyFrom(createPrivateKey(read('sa-ec.key'))),
    rs256Token: read('token-rs256.jwt').trim(),
    es256Token: read('token-es256.jwt').trim(),
    rsaPublicPem: read('sa-rsa.pub'),
  };
}

/** A fresh key of the given algorithm, with kube's kid (or the one given). */
export function newTestKey(alg: SigningAlg, kid?: string): TestKey {
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg] });
  const key = testKeyFrom(privateKey);
  return kid === undefined ? key : { ...key, kid, jwk: { ...key.jwk, kid } };
}

function testKeyFrom(privateKey: KeyObject): TestKey {
  const jwk = jwkFromPublicKey(createPublicKey(privateKey));
  return { alg: jwk.alg, kid: jwk.kid, privateKey, jwk };
}

/** Options of {@link kubeClaims}. */
export interface KubeClaimOptions {
  readonly issuer?: string;
  readonly audiences?: readonly string[];
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly iat?: number;
  readonly lifetimeSeconds?: number;
  readonly jti?: string;
  readonly podName?: string;
  readonly podUid?: string;
  readonly nodeName?: string;
  readonly nodeUid?: string;
  readonly serviceAccountUid?: string;
}

/** The claims kube-apiserver puts in a pod-bound projected token, in its member order. */
export function kubeClaims(options: KubeClaimOptions = {}): Record<string, unknown> {
  const iat = options.iat ?? FIXTURE_IAT;
  const namespace = options.namespace ?? 'payments';
  const serviceAccount = options.serviceAccount ?? 'api';
  return {
    aud: [...(options.audiences ?? ['sts.amazonaws.com'])],
    exp: iat + (options.lifetimeSeconds ?? 3600),
    iat,
    iss: options.issuer ?? TEST_ISSUER,
    jti: options.jti ?? '0f8fad5b-d9cb-469f-a165-70867728950e',
    'kubernetes.io': {
      namespace,
      node: { name: options.nodeName ?? 'ip-10-0-1-17', uid: options.nodeUid ?? '7c9e6679-7425-40de-944b-e07fc1f90ae7' },
      pod: { name: options.podName ?? 'api-7d9c5-x2x4z', uid: options.podUid ?? '1b4e28ba-2fa1-11d2-883f-0016d3cca427' },
      serviceaccount: { name: serviceAccount, uid: options.serviceAccountUid ?? '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e' },
    },
    nbf: iat,
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
  };
}

/** Signs claims with jose's SignJWT, as an independent producer of well-formed tokens. */
export async function mintWithJose(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

/** base64url of a text's UTF-8 bytes (or of raw bytes), unpadded. */
export function b64url(input: string | Uint8Array): string {
  return Buffer.from(input as never).toString('base64url');
}

/** How {@link signToken} signs. */
export type SigningMethod = SigningAlg | 'PS256' | { readonly hmacSecret: string | Buffer; readonly alg?: string } | 'none';

/**
 * Signs a compact JWS byte for byte: the header and payload are taken as given (objects are
 * JSON-serialized, strings are used verbatim, so tests can write duplicate members or odd
 * spacing), and the signature covers exactly the segments produced.
 */
export function signToken(
  key: TestKey | undefined,
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
  options: { method?: SigningMethod; headerSegment?: string; payloadSegment?: string } = {},
): string {
  const headerSegment = options.headerSegment ?? b64url(typeof header === 'string' ? header : JSON.stringify(header));
  const payloadSegment = options.payloadSegment ?? b64url(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const input = Buffer.from(`${headerSegment}.${payloadSegment}`, 'latin1');
  const method = options.method ?? key?.alg ?? 'none';
  return `${headerSegment}.${payloadSegment}.${b64url(signatureBytes(key, input, method))}`;
}

function signatureBytes(key: TestKey | undefined, input: Buffer, method: SigningMethod): Buffer {
  if (method === 'none') return Buffer.alloc(0);
  if (typeof method === 'object') return createHmac('sha256', method.hmacSecret).update(input).digest();
  if (key === undefined) throw new Error(`signing with ${method} needs a key`);
  if (method === 'PS256') return cryptoSign('sha256', input, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  const hash = { RS256: 'sha256', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' }[method];
  return method === 'RS256' ? cryptoSign(hash, input, key.privateKey) : cryptoSign(hash, input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
}

/** A kube-shaped token signed by `key` with header `{alg, kid}`. */
export function kubeToken(key: TestKey, claims: Record<string, unknown> = kubeClaims(), headerExtra: Record<string, unknown> = {}): string {
  return signToken(key, { alg: key.alg, kid: key.kid, ...headerExtra }, claims);
}

/** The three segments of a token. */
export function segments(token: string): [string, string, string] {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a three-segment token');
  return [parts[0], parts[1], parts[2]];
}

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** The other valid ECDSA P-256 signature of the same token, (r, n − s): ECDSA is malleable. */
export function malleateEs256(token: string): string {
  const [header, payload, signature] = segments(token);
  const bytes = Buffer.from(signature, 'base64url');
  const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
  const flipped = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
  return `${header}.${payload}.${b64url(Buffer.concat([bytes.subarray(0, 32), flipped]))}`;
}

/** Changes the unused low bits of a segment's last character, leaving its decoded bytes alone. */
export function withNonCanonicalTail(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const rest = segment.length % 4;
  if (rest === 0) throw new Error('segment has no unused bits');
  const value = alphabet.indexOf(segment[segment.length - 1]);
  return segment.slice(0, -1) + alphabet[value | 1];
}

// ----- the differential corpus ---------------------------------------------------------------

/** One token of the corpus with the request it is verified under. */
export interface CorpusCase {
  /** Which class of the corpus produced it (for reporting disagreements). */
  readonly label: string;
  readonly token: string;
  readonly audiences?: readonly string[];
  readonly now: number;
}

/** A corpus: the key set, policy and deny list both verifiers use, and the cases. */
export interface VerifierCorpus {
  readonly jwks: { keys: PublicJwk[] };
  readonly policy: VerifierPolicy;
  readonly denyList: DenyList;
  readonly cases: readonly CorpusCase[];
  /** The keys that sign the corpus' valid tokens (published in `jwks`). */
  readonly keys: { readonly rsa: TestKey; readonly rsaRotated: TestKey; readonly ec: TestKey; readonly ec384: TestKey; readonly revoked: TestKey };
}

/** Options of {@link generateVerifierCorpus}. */
export interface CorpusOptions {
  /** Seed of the mutation choices (keys are fresh each run; decisions do not depend on them). */
  readonly seed?: number;
  /** Random mutations made of each valid base token. @default 40 */
  readonly mutationsPerToken?: number;
  /** Generate for a policy with `kidlessCompat` on (and the JWKS with kid-less duplicates). */
  readonly kidlessCompat?: boolean;
}

/**
 * Builds a corpus for differential testing: valid tokens of every key (rotation included), the
 * time boundaries, every claim fault, every attack class of the verify issue, and random
 * mutations of valid tokens. Deterministic for a seed apart from key material.
 */
export function generateVerifierCorpus(options: CorpusOptions = {}): VerifierCorpus {
  const random = mulberry32(options.seed ?? 1);
  const fixtures = kubeFixtures();
  const rsa = fixtures.rsa;
  const ec = fixtures.ec;
  const rsaRotated = newTestKey('RS256');
  const ec384 = newTestKey('ES384');
  const revoked = newTestKey('RS256');
  const attacker = newTestKey('RS256');
  const attackerWithRealKid = { ...attacker, kid: rsa.kid };
  const published = [rsa, rsaRotated, ec, ec384, revoked].map((key) => key.jwk);
  const kidlessCompat = options.kidlessCompat === true;
  const jwks = { keys: kidlessCompat ? [...published, ...published.map((jwk) => ({ ...jwk, kid: '' }))] : published };
  const policy: VerifierPolicy = {
    issuer: TEST_ISSUER,
    allowedAudiences: ['sts.amazonaws.com', 'api.payments.internal', 'vault'],
    defaultAudiences: ['api.payments.internal', 'sts.amazonaws.com'],
    clockSkewSeconds: 60,
    maxTokenLifetimeSeconds: kidlessCompat ? undefined : 86400,
    maxTokenBytes: 16384,
    kidlessCompat,
  };
  let denyList = emptyDenyList();
  denyList = addDenyEntry(denyList, 'kid', revoked.kid, { at: FIXTURE_IAT });
  denyList = addDenyEntry(denyList, 'jti', 'revoked-jti', { at: FIXTURE_IAT });
  denyList = addDenyEntry(denyList, 'podUid', 'dead-pod-uid', { at: FIXTURE_IAT });
  denyList = addDenyEntry(denyList, 'serviceAccount', 'payments/fired', { at: FIXTURE_IAT });

  const cases: CorpusCase[] = [];
  const now = FIXTURE_NOW;
  const add = (label: string, token: string, extra: { audiences?: readonly string[]; now?: number } = {}) =>
    cases.push({ label, token, now: extra.now ?? now, ...(extra.audiences !== undefined ? { audiences: extra.audiences } : {}) });
  const claims = (overrides: Record<string, unknown> = {}, base: KubeClaimOptions = {}) => ({ ...kubeClaims(base), ...overrides });
  const kube = (overrides: Record<string, unknown>) => ({ ...(kubeClaims()['kubernetes.io'] as Record<string, unknown>), ...overrides });

  // Valid tokens of every key, and the fixtures exactly as kube made them.
  const valid: string[] = [];
  for (const key of [rsa, rsaRotated, ec, ec384]) valid.push(kubeToken(key, claims({}, { audiences: ['sts.amazonaws.com', 'vault'] })));
  valid.push(fixtures.rs256Token, fixtures.es256Token);
  for (const token of valid) add('valid', token);
  add('valid: string aud', kubeToken(rsa, claims({ aud: 'api.payments.internal' })));
  add('valid: no pod or node', kubeToken(ec, claims({ 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api', uid: 'u-1' } } })));
  add('valid: float times', kubeToken(rsa, claims({ exp: FIXTURE_IAT + 3600.9, iat: FIXTURE_IAT + 0.5, nbf: FIXTURE_IAT - 0.5 })));
  add('valid: ES256 (r, n-s)', malleateEs256(kubeToken(ec)));
  add('valid: non-canonical signature tail', nonCanonicalSignature(kubeToken(rsa)));

  // Requested audiences.
  add('audience: asked subset', valid[0], { audiences: ['vault'] });
  add('audience: asked not allowed', valid[0], { audiences: ['kubernetes.default.svc'] });
  add('audience: asked disjoint', valid[0], { audiences: ['api.payments.internal'] });
  add('audience: fixture for sts with default', fixtures.rs256Token, { audiences: [] });

  // Time boundaries (skew 60) around a valid RS256 token.
  const base = valid[0];
  const exp = FIXTURE_IAT + 3600;
  for (const [label, at] of [
    ['time: exp+59', exp + 59],
    ['time: exp+60', exp + 60],
    ['time: exp+60.5', exp + 60.5],
    ['time: exp+61', exp + 61],
    ['time: nbf-60', FIXTURE_IAT - 60],
    ['time: nbf-60.5', FIXTURE_IAT - 60.5],
    ['time: nbf-61', FIXTURE_IAT - 61],
    ['time: far future', exp + 86400 * 365],
  ] as const) {
    add(label, base, { now: at });
  }
  add('time: exp at fraction, boundary', kubeToken(rsa, claims({ exp: exp + 0.5 })), { now: exp + 60 });
  add('time: nbf fraction ahead', kubeToken(rsa, claims({ nbf: now + 60.5 })));
  add('time: iat ahead beyond skew', kubeToken(rsa, claims({ iat: now + 61, nbf: now - 10 })));
  add('time: iat ahead within skew', kubeToken(rsa, claims({ iat: now + 60, nbf: now - 10 })));
  add('time: one-year token', kubeToken(rsa, claims({}, { lifetimeSeconds: 365 * 86400 })));
  add('time: lifetime at limit', kubeToken(rsa, claims({}, { lifetimeSeconds: 86400 })));
  add('time: no iat', kubeToken(rsa, claims({ iat: undefined })));
  add('time: no exp', kubeToken(rsa, claims({ exp: undefined })));
  add('time: exp string', kubeToken(rsa, claims({ exp: String(exp) })));
  add('time: exp null', kubeToken(rsa, claims({ exp: null })));
  add('time: nbf null', kubeToken(rsa, claims({ nbf: null })));
  add('time: exp huge', signToken(rsa, { alg: 'RS256', kid: rsa.kid }, JSON.stringify(claims()).replace(`"exp":${exp}`, '"exp":1e400')));
  add('time: exp 2^60', kubeToken(rsa, claims({ exp: 2 ** 60 })));

  // Claim faults.
  add('iss: trailing slash', kubeToken(rsa, claims({ iss: `${TEST_ISSUER}/` })));
  add('iss: other', kubeToken(rsa, claims({ iss: 'https://kubernetes.default.svc' })));
  add('iss: missing', kubeToken(rsa, claims({ iss: undefined })));
  add('iss: number', kubeToken(rsa, claims({ iss: 7 })));
  add('aud: missing', kubeToken(rsa, claims({ aud: undefined })));
  add('aud: empty list', kubeToken(rsa, claims({ aud: [] })));
  add('aud: mixed types', kubeToken(rsa, claims({ aud: ['sts.amazonaws.com', 5] })));
  add('aud: object', kubeToken(rsa, claims({ aud: { sts: true } })));
  add('sub: disagrees with kubernetes.io', kubeToken(rsa, claims({ sub: 'system:serviceaccount:kube-system:admin' })));
  add('sub: missing', kubeToken(rsa, claims({ sub: undefined })));
  add('sub: not a service account', kubeToken(rsa, claims({ sub: 'alice' })));
  add('kubernetes.io: missing', kubeToken(rsa, claims({ 'kubernetes.io': undefined })));
  add('kubernetes.io: bad namespace', kubeToken(rsa, claims({ sub: 'system:serviceaccount:Pay_ments:api', 'kubernetes.io': kube({ namespace: 'Pay_ments' }) })));
  add('kubernetes.io: no sa uid', kubeToken(rsa, claims({ 'kubernetes.io': kube({ serviceaccount: { name: 'api' } }) })));
  add('kubernetes.io: pod without uid', kubeToken(rsa, claims({ 'kubernetes.io': kube({ pod: { name: 'p' } }) })));
  add('kubernetes.io: pod null', kubeToken(rsa, claims({ 'kubernetes.io': kube({ pod: null }) })));
  add('kubernetes.io: namespace number', kubeToken(rsa, claims({ 'kubernetes.io': kube({ namespace: 3 }) })));
  add('jti: number', kubeToken(rsa, claims({ jti: 42 })));
  add('deny: jti', kubeToken(rsa, claims({ jti: 'revoked-jti' })));
  add('deny: pod uid', kubeToken(rsa, claims({}, { podUid: 'dead-pod-uid' })));
  add('deny: service account', kubeToken(rsa, claims({}, { serviceAccount: 'fired' })));
  add('deny: revoked key', kubeToken(revoked, claims()));

  // JSON-level faults, signed byte for byte.
  const claimsJson = JSON.stringify(claims());
  const header = (key: TestKey) => JSON.stringify({ alg: key.alg, kid: key.kid });
  add('json: duplicate iss', signToken(rsa, header(rsa), claimsJson.replace('{', `{"iss":"https://evil.example",`)));
  add('json: duplicate escaped iss', signToken(rsa, header(rsa), claimsJson.replace('{', `{"i\\u0073s":"https://evil.example",`)));
  add('json: duplicate nested', signToken(rsa, header(rsa), claimsJson.replace('"namespace":"payments"', '"namespace":"kube-system","namespace":"payments"')));
  add('json: duplicate in header', signToken(rsa, `{"alg":"RS256","kid":"${rsa.kid}","kid":"${rsa.kid}"}`, claimsJson));
  add('json: byte order mark in payload', signToken(rsa, header(rsa), `\ufeff${claimsJson}`));
  add('json: byte order mark in header', signToken(rsa, `\ufeff${header(rsa)}`, claimsJson));
  add('json: invalid UTF-8 in payload', signToken(rsa, header(rsa), '', { payloadSegment: b64url(Buffer.concat([Buffer.from(claimsJson.slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')])) }));
  add('json: escaped colon', signToken(rsa, header(rsa), claimsJson.replace('{', '{"note\\u003a":"a:b",')));
  add('json: whitespace', signToken(rsa, header(rsa), JSON.stringify(claims(), null, 2)));
  add('json: payload is an array', signToken(rsa, header(rsa), '[1,2]'));
  add('json: payload not JSON', signToken(rsa, header(rsa), 'hello'));

  // Attacks of the verify issue.
  add('attack: alg none', signToken(undefined, { alg: 'none', kid: rsa.kid }, claims(), { method: 'none' }));
  add('attack: alg none, no kid', signToken(undefined, { alg: 'none' }, claims(), { method: 'none' }));
  add('attack: alg NONE', signToken(undefined, { alg: 'NONE', kid: rsa.kid }, claims(), { method: 'none' }));
  add('attack: HS256 with public PEM', signToken(undefined, { alg: 'HS256', kid: rsa.kid }, claims(), { method: { hmacSecret: fixtures.rsaPublicPem } }));
  add('attack: HS256 with modulus', signToken(undefined, { alg: 'HS256', kid: rsa.kid }, claims(), { method: { hmacSecret: rsa.jwk.n ?? '' } }));
  add('attack: RS256 header over EC kid', signToken(attacker, { alg: 'RS256', kid: ec.kid }, claims(), { method: 'RS256' }));
  add('attack: ES256 header over RSA kid', signToken(ec, { alg: 'ES256', kid: rsa.kid }, claims(), { method: 'ES256' }));
  add('attack: PS256 with the real key', signToken(rsa, { alg: 'PS256', kid: rsa.kid }, claims(), { method: 'PS256' }));
  add('attack: attacker key, real kid', kubeToken(attackerWithRealKid, claims()));
  add('attack: attacker key, own kid', kubeToken(attacker, claims()));
  add('attack: embedded jwk', kubeToken(attacker, claims(), { jwk: attacker.jwk }));
  add('attack: jku', kubeToken(rsa, claims(), { jku: 'https://evil.example/jwks' }));
  add('attack: crit', kubeToken(rsa, claims(), { crit: ['exp'], exp: 1 }));
  add('attack: crit b64', kubeToken(rsa, claims(), { crit: ['b64'], b64: true }));
  add('attack: b64 false', kubeToken(rsa, claims(), { b64: false }));
  add('attack: kid number', signToken(rsa, { alg: 'RS256', kid: 5 }, claims()));
  add('attack: no kid', signToken(rsa, { alg: 'RS256' }, claims()));
  add('attack: empty kid', signToken(rsa, { alg: 'RS256', kid: '' }, claims()));
  const [h0, p0, s0] = segments(valid[0]);
  const tampered = b64url(JSON.stringify(claims({ sub: 'system:serviceaccount:kube-system:admin', 'kubernetes.io': kube({ namespace: 'kube-system' }) })));
  add('attack: tampered payload, old signature', `${h0}.${tampered}.${s0}`);
  add('attack: stripped signature', `${h0}.${p0}.`);
  add('attack: stripped signature, no dot', `${h0}.${p0}`);
  add('attack: truncated signature', `${h0}.${p0}.${s0.slice(0, -4)}`);
  add('attack: truncated signature by one', `${h0}.${p0}.${s0.slice(0, -1)}`);
  add('attack: signature of another token', `${h0}.${p0}.${segments(valid[1])[2]}`);
  add('attack: RSA signature without its leading zero', rsaLeadingZeroStripped(rsa));
  add('attack: JWE-shaped', `${b64url('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.${b64url('k')}.${b64url('iv')}.${b64url('ct')}.${b64url('tag')}`);
  add('attack: four segments', `${valid[0]}.${s0}`);
  add('attack: oversized', kubeToken(rsa, claims({ padding: 'x'.repeat(12500) })));
  add('size: just under the limit', kubeToken(rsa, claims({ padding: 'x'.repeat(11000) })));
  add('attack: padded signature', `${h0}.${p0}.${s0}==`);
  add('attack: signature with whitespace', `${h0}.${p0}.${s0.slice(0, 10)} ${s0.slice(10)}`);
  add('attack: signature with newline', `${h0}.${p0}.${s0.slice(0, 10)}\n${s0.slice(10)}`);
  add('attack: standard alphabet', `${h0}.${p0}.${s0.replace(/-/g, '+').replace(/_/g, '/')}`);
  add('attack: non-canonical header tail', `${withNonCanonicalTail(h0)}.${p0}.${s0}`);
  add('attack: non-canonical payload tail', nonCanonicalPayload(valid[0]));
  add('attack: header re-signed non-canonical', resignedNonCanonicalHeader(rsa, claims()));
  add('attack: wide character in signature', `${h0}.${p0}.${s0.slice(0, 5)}\u0155${s0.slice(6)}`);
  add('attack: latin-1 character in payload', `${h0}.${p0.slice(0, 5)}\u00e9${p0.slice(6)}.${s0}`);
  add('attack: leading space', ` ${valid[0]}`);
  add('attack: empty', '');

  // Random mutations of each valid token.
  const mutations = options.mutationsPerToken ?? 40;
  for (const token of valid) {
    for (let i = 0; i < mutations; i++) add('mutation', mutate(token, random));
  }
  return { jwks, policy, denyList, cases, keys: { rsa, rsaRotated, ec, ec384, revoked } };
}

function nonCanonicalSignature(token: string): string {
  const [header, payload, signature] = segments(token);
  return `${header}.${payload}.${withNonCanonicalTail(signature)}`;
}

function nonCanonicalPayload(token: string): string {
  const [header, payload, signature] = segments(token);
  if (payload.length % 4 === 0) return `${header}.${payload}A.${signature}`;
  return `${header}.${withNonCanonicalTail(payload)}.${signature}`;
}

/** A header whose segment has non-zero unused bits, signed over exactly that text (jose would accept it; kube re-encodes and refuses). */
function resignedNonCanonicalHeader(key: TestKey, claims: Record<string, unknown>): string {
  for (let pad = 0; pad < 4; pad++) {
    const headerSegment = b64url(JSON.stringify({ alg: key.alg, kid: key.kid, x: 'y'.repeat(pad) }));
    if (headerSegment.length % 4 !== 0) return signToken(key, '', claims, { headerSegment: withNonCanonicalTail(headerSegment) });
  }
  throw new Error('unreachable: some padding gives a partial group');
}

/** A valid RS256 token whose signature starts with a zero byte, sent without that byte (kube requires the full length). */
function rsaLeadingZeroStripped(key: TestKey): string {
  for (let i = 0; i < 5000; i++) {
    const token = kubeToken(key, kubeClaims({ jti: `leading-zero-${i}` }));
    const [header, payload, signature] = segments(token);
    const bytes = Buffer.from(signature, 'base64url');
    if (bytes[0] === 0) return `${header}.${payload}.${b64url(bytes.subarray(1))}`;
  }
  throw new Error('no RSA signature with a leading zero byte in 5000 tries');
}

const MUTATION_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\u00e9\u0155';

/** One random edit of a token: replace, insert or delete a character, or swap, cut or repeat a part. */
export function mutate(token: string, random: () => number): string {
  const at = Math.floor(random() * token.length);
  const char = MUTATION_ALPHABET[Math.floor(random() * MUTATION_ALPHABET.length)];
  switch (Math.floor(random() * 8)) {
    case 0:
      return token.slice(0, at) + char + token.slice(at + 1);
    case 1:
      return token.slice(0, at) + char + token.slice(at);
    case 2:
      return token.slice(0, at) + token.slice(at + 1);
    case 3: {
      const other = Math.floor(random() * token.length);
      const chars = token.split('');
      [chars[at], chars[other]] = [chars[other], chars[at]];
      return chars.join('');
    }
    case 4:
      return token.slice(0, at);
    case 5: {
      const [header, payload, signature] = segments(token);
      return [`${header}.${header}.${signature}`, `${payload}.${payload}.${signature}`, `${header}.${payload}.${payload}`][Math.floor(random() * 3)];
    }
    case 6: {
      // Flip one bit of the decoded payload or header and re-encode canonically.
      const parts = segments(token);
      const which = random() < 0.5 ? 0 : 1;
      const bytes = Buffer.from(parts[which], 'base64url');
      bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
      parts[which] = b64url(bytes);
      return parts.join('.');
    }
    default:
      return token.slice(0, at) + token.slice(at, at + 4).toUpperCase() + token.slice(at + 4);
  }
}

/** A small seeded generator (mulberry32), so a corpus is reproducible. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One token on which the fast path and the reference decided differently. */
export interface Disagreement {
  readonly label: string;
  /** The fast path's verdict: `accepted`, or `reason: message`. */
  readonly fast: string;
  /** Whether the reference accepted the token. */
  readonly reference: boolean;
}

/**
 * Verifies every token of a corpus with the fast path (`createVerifier`) and with
 * {@link referenceVerify}, and lists the tokens on which they disagree (there must be none).
 */
export async function runDifferential(corpus: VerifierCorpus): Promise<{ readonly size: number; readonly accepted: number; readonly disagreements: readonly Disagreement[] }> {
  const verifier = createVerifier(corpus.jwks, corpus.policy, corpus.denyList);
  const disagreements: Disagreement[] = [];
  let accepted = 0;
  for (const testCase of corpus.cases) {
    const request = { now: testCase.now, ...(testCase.audiences !== undefined ? { audiences: testCase.audiences } : {}) };
    const fast = verifier.verify(testCase.token, request);
    const reference = await referenceVerify(testCase.token, corpus, request);
    if (fast.ok) accepted += 1;
    if (fast.ok !== reference) disagreements.push({ label: testCase.label, fast: fast.ok ? 'accepted' : `${fast.reason}: ${fast.message}`, reference });
  }
  return { size: corpus.cases.length, accepted, disagreements };
}

// ----- the reference verifier ----------------------------------------------------------------

/** What the reference verifies against: the same inputs the fast path gets. */
export interface ReferenceContext {
  readonly jwks: { keys: readonly PublicJwk[] };
  readonly policy: VerifierPolicy;
  readonly denyList?: DenyList;
}

const KUBE_ALGS = ['RS256', 'ES256', 'ES384', 'ES512'];

/**
 * The reference decision for a token: `jose.jwtVerify` with the same keys, issuer, audiences,
 * algorithms, clock and leeway, followed by kube-apiserver's own refusals that jose does not make
 * and this project's documented policy. Written for clarity, not speed.
 */
export async function referenceVerify(token: string, context: ReferenceContext, request: { audiences?: readonly string[]; now: number }): Promise<boolean> {
  const policy = context.policy;
  const skew = policy.clockSkewSeconds ?? 60;
  if (token.length > (policy.maxTokenBytes ?? 16384)) return false;
  const asked = request.audiences !== undefined && request.audiences.length > 0 ? request.audiences : (policy.defaultAudiences ?? policy.allowedAudiences);
  if (!asked.every((audience) => policy.allowedAudiences.includes(audience))) return false;

  // Encoding, as go-jose reads it: RawURLEncoding, signature checked over the re-encoded bytes.
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const [headerSegment, payloadSegment, signatureSegment] = parts;
  if (!/^[A-Za-z0-9_-]*$/.test(signatureSegment)) return false;
  for (const segment of [headerSegment, payloadSegment]) if (Buffer.from(segment, 'base64url').toString('base64url') !== segment) return false;

  const header = parseStrictJsonObject(Buffer.from(headerSegment, 'base64url'));
  if (header === undefined) return false;
  if (header.kid !== undefined && typeof header.kid !== 'string') return false;
  if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) return false;
  if (['jwk', 'jku', 'x5c', 'x5u', 'x5t', 'x5t#S256'].some((member) => header[member] !== undefined)) return false;
  const kidless = header.kid === undefined || header.kid === '';
  if (kidless && policy.kidlessCompat !== true) return false;

  const options: JWTVerifyOptions = {
    issuer: policy.issuer,
    audience: [...asked],
    algorithms: KUBE_ALGS,
    clockTolerance: skew,
    requiredClaims: ['exp', 'iss', 'aud', 'sub'],
    currentDate: new Date(request.now * 1000),
  };
  const usableKeys = context.jwks.keys.filter((jwk) => jwk.kid !== '' || policy.kidlessCompat === true);
  let claims: JWTPayload | undefined;
  let signingKid = kidless ? undefined : (header.kid as string);
  if (kidless) {
    for (const jwk of usableKeys.filter((candidate) => candidate.alg === header.alg)) {
      claims = await joseClaims(token, await importJWK({ ...jwk }, jwk.alg), options);
      if (claims !== undefined) {
        signingKid = jwk.kid;
        break;
      }
    }
  } else {
    claims = await joseClaims(token, createLocalJWKSet({ keys: usableKeys.map((jwk) => ({ ...jwk })) }), options);
  }
  if (claims === undefined) return false;

  // The payload as kube decodes it (go-jose JSON: no duplicates, no BOM; typed claims).
  const payload = parseStrictJsonObject(Buffer.from(payloadSegment, 'base64url'));
  if (payload === undefined) return false;
  return kubeClaimsAccepted(payload, context, request.now, skew, signingKid);
}

async function joseClaims(token: string, key: Parameters<typeof jwtVerify>[1], options: JWTVerifyOptions): Promise<JWTPayload | undefined> {
  try {
    return (await jwtVerify(token, key as never, options)).payload;
  } catch (err) {
    // Several keys share the kid: jose hands them out to try one by one.
    if ((err as { code?: string }).code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
      for await (const candidate of err as AsyncIterable<CryptoKey>) {
        try {
          return (await jwtVerify(token, candidate, options)).payload;
        } catch {
          // next candidate
        }
      }
    }
    return undefined;
  }
}

function parseStrictJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  // An independent duplicate-member check: YAML 1.2 reads JSON and refuses repeated keys.
  if (parseDocument(text, { uniqueKeys: true }).errors.length > 0) return undefined;
  return value as Record<string, unknown>;
}

function kubeClaimsAccepted(payload: Record<string, unknown>, context: ReferenceContext, now: number, skew: number, signingKid: string | undefined): boolean {
  const policy = context.policy;
  const time = (value: unknown) => value === undefined || (typeof value === 'number' && Math.abs(value) <= 2 ** 53);
  if (!time(payload.exp) || !time(payload.nbf) || !time(payload.iat) || payload.exp === undefined) return false;
  const exp = payload.exp as number;
  const nbf = payload.nbf as number | undefined;
  const iat = payload.iat as number | undefined;
  // go-jose: NumericDate truncated to int64 seconds; expired when now - leeway is after exp, and so on.
  if (now - skew > Math.trunc(exp)) return false;
  if (nbf !== undefined && now + skew < Math.trunc(nbf)) return false;
  if (iat !== undefined && (now + skew < Math.trunc(iat) || iat > Math.floor(now) + skew)) return false;
  if (policy.maxTokenLifetimeSeconds !== undefined && (iat === undefined || Math.trunc(exp) - Math.trunc(iat) > policy.maxTokenLifetimeSeconds)) return false;

  const aud = payload.aud;
  if (!(typeof aud === 'string' || (Array.isArray(aud) && aud.every((member) => typeof member === 'string')))) return false;
  if (payload.jti !== undefined && typeof payload.jti !== 'string') return false;

  const kube = payload['kubernetes.io'];
  if (typeof kube !== 'object' || kube === null || Array.isArray(kube)) return false;
  const { namespace, serviceaccount, pod, node, secret, warnafter } = kube as Record<string, unknown>;
  const ref = (value: unknown, uidRequired: boolean): value is { name: string; uid?: string } => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const { name, uid } = value as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') return false;
    if (uid !== undefined && typeof uid !== 'string') return false;
    return !uidRequired || (typeof uid === 'string' && uid !== '');
  };
  if (typeof namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) return false;
  if (!ref(serviceaccount, true) || serviceaccount.name.length > 253) return false;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(serviceaccount.name)) return false;
  if (pod !== undefined && !ref(pod, true)) return false;
  if (node !== undefined && !ref(node, false)) return false;
  if (secret !== undefined && !ref(secret, false)) return false;
  if (!time(warnafter)) return false;
  if (payload.sub !== `system:serviceaccount:${namespace}:${serviceaccount.name}`) return false;

  const deny = context.denyList;
  if (deny !== undefined) {
    const listed = (entries: readonly { value: string }[], value: string | undefined) => value !== undefined && entries.some((entry) => entry.value === value);
    if (listed(deny.kids, signingKid)) return false;
    if (payload.jti !== '' && listed(deny.jtis, payload.jti as string | undefined)) return false;
    if (pod !== undefined && listed(deny.podUids, (pod as { uid: string }).uid)) return false;
    if (listed(deny.serviceAccounts, `${namespace}/${serviceaccount.name}`)) return false;
  }
  return true;
}
