/**
 * Verification of Kubernetes service-account tokens against a published JWKS: the pure core of
 * the Verify API, the local mode and the in-process library.
 *
 * The hot path is synchronous and costs little more than the signature check itself: keys are
 * imported once per key set into `KeyObject`s, looked up by kid, each bound to its one
 * algorithm; the signature is checked with one-shot `crypto.verify`; parsed headers are cached
 * per key set; the payload is parsed once. The refusals follow kube-apiserver's authenticator
 * (every token it would refuse is refused here) and jose's JWT rules; docs/verify-api.md lists
 * the deliberate differences.
 *
 * @see kubernetes/pkg/serviceaccount/jwt.go (JWTTokenAuthenticator.AuthenticateToken)
 */
import { createPublicKey, verify as cryptoVerify, KeyObject } from 'node:crypto';
import type { DenyList } from './deny-list';
import { decodeAsciiBase64Url, decodeJsonObjectSegment, isCanonicalBase64Url, parseJsonObject } from './jws-compact';
import { parseKeyMaterial, PRIVATE_JWK_MEMBERS, SIGNING_ALGS, type SigningAlg } from './keys';
import { createClaimChecker, quote, type DenySets, type ReasonCode, type VerifyResult } from './token-claims';

export type { Identity, ReasonCode, VerifyResult } from './token-claims';
export { REASON_CODES } from './token-claims';

/** What tokens a verifier accepts besides a good signature. */
export interface VerifierPolicy {
  /** The issuer, exactly as in tokens' `iss` (byte for byte, trailing slash included). */
  readonly issuer: string;
  /** Audiences callers may ask about; a request naming any other is refused (`bad_audience`). */
  readonly allowedAudiences: readonly string[];
  /**
   * Audiences checked when a request names none; a subset of `allowedAudiences`.
   * @default - all of `allowedAudiences`
   */
  readonly defaultAudiences?: readonly string[];
  /**
   * Leeway for `exp`, `nbf` and `iat`, in seconds (kube-apiserver uses 60).
   * @default 60
   */
  readonly clockSkewSeconds?: number;
  /**
   * Longest accepted `exp - iat`, in seconds, to refuse tokens such as kube's one-year
   * "extended expiration" tokens. When set, tokens without `iat` are refused.
   * @default - no limit
   */
  readonly maxTokenLifetimeSeconds?: number;
  /**
   * Longest accepted token, in characters (tokens are ASCII), checked before anything else.
   * @default 16384
   */
  readonly maxTokenBytes?: number;
  /**
   * Accept tokens without a kid (clusters before Kubernetes 1.16) by trying every key of the
   * token's algorithm, as kube-apiserver does.
   * @default false
   */
  readonly kidlessCompat?: boolean;
}

/** One verification request. */
export interface VerifyRequest {
  /**
   * Audiences the caller asks about; the token must carry at least one. Empty or absent means
   * the policy's default audiences. Each must be an allowed audience.
   */
  readonly audiences?: readonly string[];
  /** Verification time, epoch seconds (fractions allowed). */
  readonly now: number;
  /**
   * The payload of this very token, already decoded with the same strict rules by whoever chose
   * this verifier by its `iss` (core/trusted-issuers.ts), so it is not parsed twice. Ignored
   * unless its `token` is the token being verified.
   */
  readonly unverifiedPayload?: UnverifiedPayload;
}

/** A token's claims decoded before its signature was checked (so not to be trusted yet). */
export interface UnverifiedPayload {
  /** The token the claims were read from. */
  readonly token: string;
  readonly claims: Record<string, unknown>;
}

/** A JWKS entry that was not imported, and why. */
export interface SkippedKey {
  /** Position in the JWKS `keys` array. */
  readonly index: number;
  /** The entry's kid, when it had a string one. */
  readonly kid?: string;
  readonly reason: string;
}

/** A verifier bound to one key set, policy and deny list. Rebuild it when any of them changes. */
export interface Verifier {
  /** Verifies a token. Synchronous and total: any input gives a result, never an exception. */
  verify(token: string, request: VerifyRequest): VerifyResult;
  /** Whether a key with this kid was imported. */
  hasKid(kid: string): boolean;
  /** Kids of the imported keys, sorted. */
  readonly kids: readonly string[];
  /** JWKS entries that could not be used, with the reason (they are ignored, never fatal). */
  readonly skippedKeys: readonly SkippedKey[];
  /** The policy with its defaults applied. */
  readonly policy: Readonly<Required<Omit<VerifierPolicy, 'maxTokenLifetimeSeconds'>>> & Pick<VerifierPolicy, 'maxTokenLifetimeSeconds'>;
}

/** Default of {@link VerifierPolicy.clockSkewSeconds}. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
/** Default of {@link VerifierPolicy.maxTokenBytes}. */
export const DEFAULT_MAX_TOKEN_BYTES = 16384;

interface ImportedKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** What `crypto.verify` takes: the KeyObject, or for ECDSA the KeyObject with JOSE's signature encoding. */
  readonly verifyKey: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
  /** Exact signature length: go-jose refuses any other, whatever OpenSSL would do. */
  readonly signatureBytes: number;
}

interface ParsedHeader {
  readonly kid: string | undefined;
  readonly candidates: readonly ImportedKey[];
}

type HeaderOutcome = { readonly ok: true; readonly header: ParsedHeader } | Extract<VerifyResult, { ok: false }>;

const HASH_OF: Record<SigningAlg, ImportedKey['hash']> = { RS256: 'sha256', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' };
const EC_SIGNATURE_BYTES: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 };
/** Header members that carry or point at keys: keys come only from the published JWKS. */
const KEY_CARRYING_HEADERS = ['jwk', 'jku', 'x5c', 'x5u', 'x5t', 'x5t#S256'];
const HEADER_CACHE_LIMIT = 64;

/**
 * Imports a JWKS once and returns a verifier for it. Entries that are not usable public
 * signing keys (wrong type, RSA under 2048 bits, private members, `alg` not matching the key,
 * no kid) are skipped and listed in `skippedKeys`.
 *
 * @throws TypeError when the policy is invalid or `jwks.keys` is not an array (configuration
 * errors, found once at load time rather than on every request)
 */
export function createVerifier(jwks: { keys: unknown[] }, policy: VerifierPolicy, denyList?: DenyList): Verifier {
  const settings = normalizePolicy(policy);
  if (jwks === null || typeof jwks !== 'object' || !Array.isArray(jwks.keys)) throw new TypeError('JWKS must be an object with a "keys" array');

  const { keys, skippedKeys } = withoutConflictingKids(importKeys(jwks.keys, settings.kidlessCompat));
  const byKid = new Map<string, ImportedKey[]>();
  const byAlgForKidless = new Map<SigningAlg, ImportedKey[]>();
  const kidlessSeen = new Set<string>();
  for (const { key, material } of keys) {
    if (key.kid !== '') {
      const list = byKid.get(key.kid) ?? [];
      list.push(key);
      byKid.set(key.kid, list);
    }
    // The kid-less copies the sync publishes duplicate real keys: try each key once.
    const identity = `${key.alg}:${material}`;
    if (!kidlessSeen.has(identity)) {
      kidlessSeen.add(identity);
      const list = byAlgForKidless.get(key.alg) ?? [];
      list.push(key);
      byAlgForKidless.set(key.alg, list);
    }
  }
  const deny = denyList ? denySets(denyList) : undefined;
  const checkClaims = createClaimChecker({
    issuer: settings.issuer,
    clockSkewSeconds: settings.clockSkewSeconds,
    maxTokenLifetimeSeconds: settings.maxTokenLifetimeSeconds,
    deny,
  });
  const allowed = new Set(settings.allowedAudiences);
  const headerCache = new Map<string, ParsedHeader>();
  let lastHeader: { readonly segment: string; readonly header: ParsedHeader } | undefined;
  // Reused by every call (verify is synchronous); 4 spare bytes so a non-ASCII character at the
  // limit still makes the written length differ from the character count.
  const asciiScratch = Buffer.allocUnsafe(settings.maxTokenBytes + 4);

  function parseHeader(segment: string): HeaderOutcome {
    if (!isCanonicalBase64Url(segment)) return refusal('malformed', 'header is not canonical unpadded base64url');
    const decoded = decodeJsonObjectSegment(segment);
    if (!decoded.ok) return refusal('malformed', `header is ${decoded.problem}`);
    const header = decoded.value;
    const { alg, kid } = header;
    if (kid !== undefined && typeof kid !== 'string') return refusal('malformed', 'header kid is not a string');
    const kidShown = typeof kid === 'string' && kid !== '' ? kid : undefined;
    if (typeof alg !== 'string') return refusal('malformed', 'header has no alg', kidShown);
    if (!(SIGNING_ALGS as readonly string[]).includes(alg)) {
      return refusal('unsupported_alg', `alg ${quote(alg)} is not accepted: kube signs with ${SIGNING_ALGS.join(', ')}`, kidShown);
    }
    if (header.crit !== undefined) return refusal('malformed', 'header has a crit parameter: no JWS extension is supported', kidShown);
    if (header.b64 !== undefined && header.b64 !== true) return refusal('malformed', 'header b64 other than true is not supported', kidShown);
    for (const member of KEY_CARRYING_HEADERS) {
      if (header[member] !== undefined) return refusal('malformed', `header carries ${member}: keys come only from the published JWKS`, kidShown);
    }
    if (kidShown === undefined) {
      if (!settings.kidlessCompat) return refusal('unknown_kid', 'token has no kid (enable kidlessCompat for clusters before Kubernetes 1.16)');
      const candidates = byAlgForKidless.get(alg as SigningAlg);
      if (candidates === undefined) return refusal('unknown_kid', `token has no kid and no ${alg} key is published`);
      return { ok: true, header: { kid: undefined, candidates } };
    }
    const withKid = byKid.get(kidShown);
    if (withKid === undefined) return refusal('unknown_kid', `no published key has kid ${quote(kidShown)}`, kidShown);
    const candidates = withKid.filter((key) => key.alg === alg);
    if (candidates.length === 0) {
      return refusal('unsupported_alg', `token alg ${alg} does not match key ${quote(kidShown)} (${withKid.map((key) => key.alg).join(', ')})`, kidShown);
    }
    return { ok: true, header: { kid: kidShown, candidates } };
  }

  function verify(token: string, request: VerifyRequest): VerifyResult {
    if (typeof token !== 'string') return refusal('malformed', 'token is not a string');
    if (token.length > settings.maxTokenBytes) return refusal('too_large', `token is longer than ${settings.maxTokenBytes} characters`);
    const audiences = requestedAudiences(request);
    if (typeof audiences === 'string') return refusal('bad_audience', audiences);
    const now = request.now;
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError('verify: request.now must be a finite number of epoch seconds');

    const firstDot = token.indexOf('.');
    const secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
    if (secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) return refusal('malformed', segmentCountMessage(token));

    // One UTF-8 write both refuses non-ASCII (which base64 decoding would misread) and yields the
    // signing input without a new allocation.
    const written = asciiScratch.write(token, 0, 'utf8');
    if (written !== token.length) return refusal('malformed', 'token contains non-ASCII characters');

    let header: ParsedHeader | undefined;
    // Most tokens in a row share the header of the last one: a prefix compare beats hashing it.
    if (lastHeader !== undefined && firstDot === lastHeader.segment.length && token.startsWith(lastHeader.segment)) {
      header = lastHeader.header;
    } else {
      const headerSegment = token.slice(0, firstDot);
      header = headerCache.get(headerSegment);
      if (header === undefined) {
        const outcome = parseHeader(headerSegment);
        if (!outcome.ok) return outcome;
        header = outcome.header;
        // Bounded: tokens with made-up headers must not grow it without limit.
        if (headerCache.size >= HEADER_CACHE_LIMIT) headerCache.clear();
        headerCache.set(headerSegment, header);
      }
      lastHeader = { segment: headerSegment, header };
    }
    const kid = header.kid;

    const preParsed = request.unverifiedPayload;
    const knownClaims = preParsed !== undefined && preParsed.token === token ? preParsed.claims : undefined;
    const payloadBytes = knownClaims === undefined ? decodeAsciiBase64Url(token.slice(firstDot + 1, secondDot), true) : undefined;
    if (knownClaims === undefined && payloadBytes === undefined) return refusal('malformed', 'payload is not canonical unpadded base64url', kid);
    const signature = decodeAsciiBase64Url(token.slice(secondDot + 1), false);
    if (signature === undefined) return refusal('malformed', 'signature is not unpadded base64url', kid);
    if (kid !== undefined && deny !== undefined && deny.kids.has(kid)) return refusal('revoked', `signing key ${quote(kid)} is revoked`, kid);

    const signingInput = asciiScratch.subarray(0, secondDot);
    let verifiedBy: ImportedKey | undefined;
    for (const key of header.candidates) {
      if (signature.length === key.signatureBytes && cryptoVerify(key.hash, signingInput, key.verifyKey, signature)) {
        verifiedBy = key;
        break;
      }
    }
    if (verifiedBy === undefined) return refusal('bad_signature', 'signature does not verify', kid);

    const payload = knownClaims !== undefined ? { ok: true as const, value: knownClaims } : parseJsonObject(payloadBytes as Buffer);
    const keyKid = verifiedBy.kid !== '' ? verifiedBy.kid : (kid ?? '');
    if (!payload.ok) return refusal('malformed', `payload is ${payload.problem}`, keyKid);
    return checkClaims(payload.value, audiences, now, keyKid);
  }

  /** The audiences to check, or why the request may not ask about them. */
  function requestedAudiences(request: VerifyRequest): readonly string[] | string {
    const asked = request.audiences;
    if (asked === undefined || asked.length === 0) return settings.defaultAudiences;
    if (!Array.isArray(asked)) return 'requested audiences are not a list';
    for (const audience of asked) {
      if (typeof audience !== 'string' || !allowed.has(audience)) {
        return `audience ${typeof audience === 'string' ? quote(audience) : 'of a non-string type'} may not be checked by this verifier`;
      }
    }
    return asked;
  }

  const kids = [...byKid.keys()].sort();
  return {
    verify,
    hasKid: (kid: string) => byKid.has(kid),
    kids,
    skippedKeys,
    policy: settings,
  };
}

function normalizePolicy(policy: VerifierPolicy): Verifier['policy'] {
  if (policy === null || typeof policy !== 'object') throw new TypeError('verifier policy must be an object');
  const { issuer, allowedAudiences } = policy;
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('verifier policy: issuer must be a non-empty string');
  if (!isNonEmptyStringList(allowedAudiences)) throw new TypeError('verifier policy: allowedAudiences must be a non-empty list of non-empty strings');
  const defaultAudiences = policy.defaultAudiences === undefined || policy.defaultAudiences.length === 0 ? [...allowedAudiences] : policy.defaultAudiences;
  if (!isNonEmptyStringList(defaultAudiences)) throw new TypeError('verifier policy: defaultAudiences must be a list of non-empty strings');
  const outside = defaultAudiences.filter((audience) => !allowedAudiences.includes(audience));
  if (outside.length > 0) throw new TypeError(`verifier policy: default audiences ${outside.map(quote).join(', ')} are not in allowedAudiences`);
  const clockSkewSeconds = policy.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (!Number.isFinite(clockSkewSeconds) || clockSkewSeconds < 0) throw new TypeError('verifier policy: clockSkewSeconds must be a number >= 0');
  const maxTokenBytes = policy.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  if (!Number.isInteger(maxTokenBytes) || maxTokenBytes <= 0) throw new TypeError('verifier policy: maxTokenBytes must be a positive integer');
  const maxTokenLifetimeSeconds = policy.maxTokenLifetimeSeconds;
  if (maxTokenLifetimeSeconds !== undefined && (!Number.isFinite(maxTokenLifetimeSeconds) || maxTokenLifetimeSeconds <= 0)) {
    throw new TypeError('verifier policy: maxTokenLifetimeSeconds must be a positive number');
  }
  return Object.freeze({
    issuer,
    allowedAudiences: Object.freeze([...allowedAudiences]),
    defaultAudiences: Object.freeze([...defaultAudiences]),
    clockSkewSeconds,
    maxTokenBytes,
    maxTokenLifetimeSeconds,
    kidlessCompat: policy.kidlessCompat === true,
  });
}

function isNonEmptyStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item !== '');
}

function importKeys(entries: readonly unknown[], kidlessCompat: boolean): { keys: { key: ImportedKey; material: string; index: number }[]; skippedKeys: SkippedKey[] } {
  const keys: { key: ImportedKey; material: string; index: number }[] = [];
  const skippedKeys: SkippedKey[] = [];
  entries.forEach((entry, index) => {
    const imported = importKey(entry, index, kidlessCompat);
    if ('reason' in imported) skippedKeys.push(imported);
    else keys.push({ ...imported, index });
  });
  return { keys, skippedKeys };
}

/**
 * Drops every key of a kid that appears with different key material: a kid names one key for
 * good, so a key set that binds it to two (a document written by something other than the sync)
 * cannot tell which is genuine, and trying both would let an intruder's key verify under the real
 * key's kid. Identical copies (the same kid and material, listed twice) stay usable. Kid-less
 * entries (`kid: ""`, kube's compat copies) are not a kid and never conflict.
 */
function withoutConflictingKids(imported: { keys: { key: ImportedKey; material: string; index: number }[]; skippedKeys: SkippedKey[] }): {
  keys: { key: ImportedKey; material: string }[];
  skippedKeys: SkippedKey[];
} {
  const materialsOf = new Map<string, Set<string>>();
  for (const { key, material } of imported.keys) {
    if (key.kid === '') continue;
    const materials = materialsOf.get(key.kid) ?? new Set<string>();
    materials.add(material);
    materialsOf.set(key.kid, materials);
  }
  const conflicting = new Set([...materialsOf].filter(([, materials]) => materials.size > 1).map(([kid]) => kid));
  if (conflicting.size === 0) return imported;
  const skippedKeys = [...imported.skippedKeys];
  const keys: { key: ImportedKey; material: string }[] = [];
  for (const entry of imported.keys) {
    if (conflicting.has(entry.key.kid)) {
      skippedKeys.push({ index: entry.index, kid: entry.key.kid, reason: 'kid appears with different key material in this key set: no key of this kid is used' });
    } else {
      keys.push(entry);
    }
  }
  skippedKeys.sort((a, b) => a.index - b.index);
  return { keys, skippedKeys };
}

function importKey(entry: unknown, index: number, kidlessCompat: boolean): { key: ImportedKey; material: string } | SkippedKey {
  const skip = (reason: string, kid?: string): SkippedKey => ({ index, ...(kid !== undefined ? { kid } : {}), reason });
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return skip('not a JSON object');
  const jwk = entry as Record<string, unknown>;
  if (typeof jwk.kid !== 'string') return skip('no kid');
  const kid = jwk.kid;
  if (kid === '' && !kidlessCompat) return skip('empty kid (a kid-less duplicate), used only with kidlessCompat', kid);
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) return skip('contains private key material: refused', kid);
  let text: string;
  try {
    text = JSON.stringify(jwk);
  } catch {
    return skip('not serializable JSON', kid);
  }
  // The same checks as every other key input: RSA of at least 2048 bits, kube's curves, alg bound to the key.
  const parsed = parseKeyMaterial(text, `keys[${index}]`);
  if (parsed.problems.length > 0 || parsed.keys.length !== 1) return skip(parsed.problems.map((problem) => problem.reason).join('; ') || 'not a key', kid);
  const publicJwk = parsed.keys[0].jwk;
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: publicJwk as never, format: 'jwk' });
  } catch {
    return skip('key could not be imported', kid);
  }
  const alg = publicJwk.alg;
  const signatureBytes = alg === 'RS256' ? Math.ceil((keyObject.asymmetricKeyDetails?.modulusLength ?? 0) / 8) : EC_SIGNATURE_BYTES[alg];
  const material = publicJwk.kty === 'RSA' ? `${publicJwk.n}.${publicJwk.e}` : `${publicJwk.crv}.${publicJwk.x}.${publicJwk.y}`;
  return {
    key: {
      kid,
      alg,
      hash: HASH_OF[alg],
      verifyKey: alg === 'RS256' ? keyObject : { key: keyObject, dsaEncoding: 'ieee-p1363' },
      signatureBytes,
    },
    material,
  };
}

function denySets(list: DenyList): DenySets {
  const values = (entries: readonly { value: string }[]) => new Set(entries.map((entry) => entry.value));
  return { kids: values(list.kids), jtis: values(list.jtis), podUids: values(list.podUids), serviceAccounts: values(list.serviceAccounts) };
}

function refusal(reason: ReasonCode, message: string, kid?: string): Extract<VerifyResult, { ok: false }> {
  return kid === undefined ? { ok: false, reason, message } : { ok: false, reason, message, kid };
}

function segmentCountMessage(token: string): string {
  const segments = token.split('.').length;
  if (segments === 5) return 'token has 5 segments: an encrypted JWE, not a signed JWT';
  return `token has ${segments} segment${segments === 1 ? '' : 's'}, not the 3 of a signed JWT`;
}


/**
 * Checks a policy the way {@link createVerifier} does, without building a verifier (for
 * configuration read at start, such as a fleet's trusted issuers, whose keys load later).
 *
 * @throws TypeError naming the invalid field
 */
export function validateVerifierPolicy(policy: VerifierPolicy): void {
  normalizePolicy(policy);
}
