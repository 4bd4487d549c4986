/**
 * Claim checks of a Kubernetes service-account token whose signature has been verified, and the
 * TokenReview-style identity it yields.
 *
 * Types follow go-jose's decoding as kube-apiserver uses it (a claim of the wrong JSON type makes
 * the whole token unreadable there, so it is `malformed` here); time claims are compared both as
 * go-jose reads them (NumericDate truncated to whole seconds, strict comparisons with leeway) and
 * as RFC 7519 and jose read them (`exp` reached means expired), and refused if either refuses.
 *
 * @see kubernetes/pkg/serviceaccount/claims.go (privateClaims, Validate)
 * @see go-jose/go-jose jwt/claims.go (NumericDate, Audience) and jwt/validation.go
 */

import { isDnsLabel, isDnsSubdomain } from './kube-names';

/** Stable reason codes of a refused token; see docs/verify-api.md. */
export type ReasonCode =
  | 'malformed'
  | 'too_large'
  | 'unknown_issuer'
  | 'unsupported_alg'
  | 'unknown_kid'
  | 'bad_signature'
  | 'bad_issuer'
  | 'bad_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'bad_subject'
  | 'revoked';

/** Every reason code, in the order the checks run. */
export const REASON_CODES: readonly ReasonCode[] = [
  'too_large',
  'malformed',
  'unknown_issuer',
  'unsupported_alg',
  'unknown_kid',
  'bad_signature',
  'bad_issuer',
  'bad_audience',
  'expired',
  'not_yet_valid',
  'issued_in_future',
  'lifetime_too_long',
  'bad_subject',
  'revoked',
];

/** The `extra` keys kube-apiserver sets for a service-account token (TokenReview `status.user.extra`). */
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
/** @see EXTRA_POD_NAME */
export const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';
/** @see EXTRA_POD_NAME */
export const EXTRA_NODE_NAME = 'authentication.kubernetes.io/node-name';
/** @see EXTRA_POD_NAME */
export const EXTRA_NODE_UID = 'authentication.kubernetes.io/node-uid';
/** @see EXTRA_POD_NAME; the value is `JTI=<jti>`. */
export const EXTRA_CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';

/**
 * The `extra` key (TokenReview `status.user.extra`) naming the issuer whose keys verified the
 * token, exactly as in its `iss`. This project's own domain, so it never collides with
 * Kubernetes' `authentication.kubernetes.io/` keys.
 */
export const EXTRA_ISSUER = 'kube-oidc-aws.io/issuer';
/** The `extra` key naming the configured cluster of that issuer, when the verifier has one. */
export const EXTRA_CLUSTER = 'kube-oidc-aws.io/cluster';

/** Who a valid token belongs to, shaped like a TokenReview's `status.user` plus token facts. */
export interface Identity {
  /** `system:serviceaccount:NAMESPACE:NAME`, equal to the token's `sub`. */
  readonly username: string;
  /** The service account's uid. */
  readonly uid: string;
  /** `system:serviceaccounts`, `system:serviceaccounts:NAMESPACE`, `system:authenticated`. */
  readonly groups: readonly string[];
  /** Pod, node and credential facts as TokenReview gives them (each a one-element array). */
  readonly extra: Readonly<Record<string, readonly string[]>>;
  /** The token's audiences that were asked about (the intersection), in request order. */
  readonly audiences: readonly string[];
  /** The token's `exp`, epoch seconds. */
  readonly expiresAt: number;
  /** The service account's namespace. */
  readonly namespace: string;
  /** The service account's name. */
  readonly serviceAccount: string;
  /** The token's `jti`, when it has one. */
  readonly jti?: string;
  /** Key id of the key that verified the signature. */
  readonly kid: string;
}

/** The outcome of a verification: an identity, or a refusal with a stable reason. */
export type VerifyResult =
  | { readonly ok: true; readonly identity: Identity }
  | {
      readonly ok: false;
      readonly reason: ReasonCode;
      /** Human-readable detail; never contains the token. */
      readonly message: string;
      /** The token's kid (or the verifying key's), when known. Unverified before `bad_signature`. */
      readonly kid?: string;
      /** The token's `sub`, set only once the signature has verified. */
      readonly sub?: string;
      /** The token's `jti`, set only once the signature has verified. */
      readonly jti?: string;
    };

/** Deny-list lookups, prepared once per verifier. */
export interface DenySets {
  readonly kids: ReadonlySet<string>;
  readonly jtis: ReadonlySet<string>;
  readonly podUids: ReadonlySet<string>;
  readonly serviceAccounts: ReadonlySet<string>;
}

/** The fixed part of the claim checks: what a verifier knows before any token arrives. */
export interface ClaimPolicy {
  readonly issuer: string;
  readonly clockSkewSeconds: number;
  readonly maxTokenLifetimeSeconds: number | undefined;
  readonly deny: DenySets | undefined;
}

/**
 * Checks the claims of a token whose signature verified, and builds its identity. Never throws.
 * Checks run in a fixed order (issuer, audience, time, subject, deny list) so a token with
 * several faults always gets the same reason.
 *
 * @param audiences audiences asked about, already checked against the allowed ones
 * @param now verification time, epoch seconds
 * @param kid kid of the key that verified the signature
 */
export type ClaimChecker = (claims: Record<string, unknown>, audiences: readonly string[], now: number, kid: string) => VerifyResult;

/** A service account whose names passed validation, with what its identity shares across tokens. */
interface KnownSubject {
  readonly sub: string;
  readonly username: string;
  readonly namespace: string;
  readonly name: string;
  readonly groups: readonly string[];
}

/** Largest magnitude accepted for a time claim: beyond it go-jose's float-to-int64 conversion is undefined. */
const MAX_NUMERIC_DATE = 2 ** 53;
const SUBJECT_PREFIX = 'system:serviceaccount:';
/** Bound on remembered subjects: tokens with made-up (but signed) subjects must not grow it without limit. */
const SUBJECT_CACHE_LIMIT = 1024;

class ClaimRefusal {
  constructor(
    readonly reason: ReasonCode,
    readonly message: string,
  ) {}
}

/**
 * Returns the claim checker for one verifier. It remembers the service accounts it has already
 * validated (a cluster has few, and each signs many tokens), so the name rules and the shared
 * parts of an identity are worked out once per account rather than once per token.
 */
export function createClaimChecker(policy: ClaimPolicy): ClaimChecker {
  const subjects = new Map<string, KnownSubject>();
  // Tokens often come in runs from one account: comparing with the last one skips hashing `sub`.
  let last: KnownSubject | undefined;

  function knownSubject(sub: string, namespace: string, name: string): KnownSubject {
    if (last !== undefined && last.sub === sub && last.namespace === namespace && last.name === name) return last;
    const known = subjects.get(sub);
    if (known !== undefined && known.namespace === namespace && known.name === name) {
      last = known;
      return known;
    }
    if (!isDnsLabel(namespace)) refuse('bad_subject', `namespace ${quote(namespace)} is not a valid namespace name`);
    if (!isDnsSubdomain(name)) refuse('bad_subject', `service account name ${quote(name)} is not a valid name`);
    const username = `${SUBJECT_PREFIX}${namespace}:${name}`;
    if (sub !== username) refuse('bad_subject', `sub ${quote(sub)} does not match the kubernetes.io claim (${username})`);
    const groups = Object.freeze(['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated']);
    if (subjects.size >= SUBJECT_CACHE_LIMIT) subjects.clear();
    const subject = { sub, username, namespace, name, groups };
    subjects.set(sub, subject);
    last = subject;
    return subject;
  }

  function checkedIdentity(claims: Record<string, unknown>, requested: readonly string[], now: number, kid: string): Identity {
    const { iss } = claims;
    if (iss === undefined) refuse('bad_issuer', 'token has no iss claim');
    if (typeof iss !== 'string') refuse('malformed', 'iss claim is not a string');
    if (iss !== policy.issuer) refuse('bad_issuer', `token issuer ${quote(iss)} is not ${quote(policy.issuer)}`);

    const audiences = intersectAudiences(claims.aud, requested);

    const expiresAt = checkTimes(claims, now, policy.clockSkewSeconds, policy.maxTokenLifetimeSeconds);

    const jti = claims.jti;
    if (jti !== undefined && typeof jti !== 'string') refuse('malformed', 'jti claim is not a string');

    // Subject: kube's privateClaims, read as go-jose would decode them.
    const { sub } = claims;
    if (sub === undefined) refuse('bad_subject', 'token has no sub claim');
    if (typeof sub !== 'string') refuse('malformed', 'sub claim is not a string');
    const kube = claims['kubernetes.io'];
    if (kube === undefined) refuse('bad_subject', 'token has no kubernetes.io claim: not a service-account token');
    if (!isPlainObject(kube)) refuse('malformed', 'kubernetes.io claim is not an object');
    const namespace = kube.namespace;
    if (namespace === undefined) refuse('bad_subject', 'kubernetes.io claim has no namespace');
    if (typeof namespace !== 'string') refuse('malformed', 'kubernetes.io namespace is not a string');
    const account = objectRef(kube.serviceaccount, 'serviceaccount', true);
    if (account === undefined) refuse('bad_subject', 'kubernetes.io claim has no serviceaccount');
    const subject = knownSubject(sub, namespace, account.name);
    const pod = objectRef(kube.pod, 'pod', true);
    const node = objectRef(kube.node, 'node', false);
    // A secret-bound (legacy projected) token names its secret; kube checks it exists, which offline
    // verification cannot, but its shape must still be what kube would decode.
    objectRef(kube.secret, 'secret', false);
    const warnafter = kube.warnafter;
    if (warnafter !== undefined) numericDate(warnafter, 'kubernetes.io warnafter');

    const deny = policy.deny;
    if (deny !== undefined) {
      if (deny.kids.has(kid)) refuse('revoked', `signing key ${quote(kid)} is revoked`);
      if (jti !== undefined && jti !== '' && deny.jtis.has(jti)) refuse('revoked', `token ${quote(jti)} is on the deny list`);
      if (pod !== undefined && deny.podUids.has(pod.uid as string)) refuse('revoked', `tokens of pod uid ${quote(pod.uid as string)} are on the deny list`);
      const accountKey = `${namespace}/${account.name}`;
      if (deny.serviceAccounts.has(accountKey)) refuse('revoked', `tokens of service account ${accountKey} are on the deny list`);
    }

    const hasJti = jti !== undefined && jti !== '';
    const extra = extraOf(pod, node, hasJti ? jti : undefined);

    const identity: { -readonly [K in keyof Identity]: Identity[K] } = {
      username: subject.username,
      uid: account.uid as string,
      groups: subject.groups,
      extra,
      audiences,
      expiresAt,
      namespace,
      serviceAccount: account.name,
      kid,
    };
    if (hasJti) identity.jti = jti;
    return identity;
  }

  return (claims, audiences, now, kid) => {
    try {
      return { ok: true, identity: checkedIdentity(claims, audiences, now, kid) };
    } catch (err) {
      if (!(err instanceof ClaimRefusal)) throw err;
      const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
      const jti = typeof claims.jti === 'string' ? claims.jti : undefined;
      return { ok: false, reason: err.reason, message: err.message, kid, sub, jti };
    }
  };
}

/** TokenReview's `extra` of a token: pod, node and credential facts, each a one-element list. */
function extraOf(pod: ObjectRef | undefined, node: ObjectRef | undefined, jti: string | undefined): Record<string, readonly string[]> {
  if (pod !== undefined && node !== undefined && node.uid !== undefined && node.uid !== '' && jti !== undefined) {
    // The shape of every pod-bound token kube issues since 1.30, as one literal with literal keys,
    // which V8 builds from a template instead of adding five properties one by one.
    return {
      'authentication.kubernetes.io/pod-name': [pod.name],
      'authentication.kubernetes.io/pod-uid': [pod.uid as string],
      'authentication.kubernetes.io/node-name': [node.name],
      'authentication.kubernetes.io/node-uid': [node.uid],
      'authentication.kubernetes.io/credential-id': [`JTI=${jti}`],
    } satisfies Record<typeof EXTRA_POD_NAME | typeof EXTRA_POD_UID | typeof EXTRA_NODE_NAME | typeof EXTRA_NODE_UID | typeof EXTRA_CREDENTIAL_ID, readonly string[]>;
  }
  const extra: Record<string, readonly string[]> = {};
  if (pod !== undefined) {
    extra[EXTRA_POD_NAME] = [pod.name];
    extra[EXTRA_POD_UID] = [pod.uid as string];
  }
  if (node !== undefined) {
    extra[EXTRA_NODE_NAME] = [node.name];
    if (node.uid !== undefined && node.uid !== '') extra[EXTRA_NODE_UID] = [node.uid];
  }
  if (jti !== undefined) extra[EXTRA_CREDENTIAL_ID] = [`JTI=${jti}`];
  return extra;
}

function intersectAudiences(aud: unknown, requested: readonly string[]): string[] {
  let tokenAudiences: readonly string[];
  if (aud === undefined) refuse('bad_audience', 'token has no aud claim');
  if (typeof aud === 'string') {
    tokenAudiences = [aud];
  } else if (Array.isArray(aud)) {
    for (const member of aud) if (typeof member !== 'string') refuse('malformed', 'aud claim is not a string or an array of strings');
    tokenAudiences = aud as string[];
  } else {
    refuse('malformed', 'aud claim is not a string or an array of strings');
  }
  // Request order, as kube's Audiences.Intersect gives it.
  const matched: string[] = [];
  for (const audience of requested) {
    if (tokenAudiences.includes(audience) && !matched.includes(audience)) matched.push(audience);
  }
  if (matched.length === 0) {
    refuse('bad_audience', `token audiences ${quoteList(tokenAudiences)} include none of ${quoteList(requested)}`);
  }
  return matched;
}

/** Checks exp, nbf, iat and the lifetime; returns the expiry in whole seconds. */
function checkTimes(claims: Record<string, unknown>, now: number, skew: number, maxLifetime: number | undefined): number {
  const wholeNow = Math.floor(now);
  const exp = numericDate(claims.exp, 'exp');
  if (exp === undefined) refuse('malformed', 'token has no exp claim: tokens that never expire are not accepted');
  const nbf = numericDate(claims.nbf, 'nbf');
  const iat = numericDate(claims.iat, 'iat');

  // jose/RFC 7519 read (exp reached = expired, whole-second clock) or kube's (truncated claim, strict).
  if (exp <= wholeNow - skew || now - skew > Math.trunc(exp)) {
    refuse('expired', `token expired at ${isoTime(exp)} (clock skew ${skew}s)`);
  }
  if (nbf !== undefined && (nbf > wholeNow + skew || now + skew < Math.trunc(nbf))) {
    refuse('not_yet_valid', `token is not valid before ${isoTime(nbf)} (clock skew ${skew}s)`);
  }
  if (iat !== undefined && (iat > wholeNow + skew || now + skew < Math.trunc(iat))) {
    refuse('issued_in_future', `token was issued in the future, at ${isoTime(iat)} (clock skew ${skew}s)`);
  }
  if (maxLifetime !== undefined) {
    if (iat === undefined) refuse('lifetime_too_long', 'token has no iat claim, so its lifetime cannot be bounded');
    const lifetime = Math.trunc(exp) - Math.trunc(iat);
    if (lifetime > maxLifetime) refuse('lifetime_too_long', `token lifetime ${lifetime}s exceeds the maximum ${maxLifetime}s`);
  }
  return Math.trunc(exp);
}

function numericDate(value: unknown, claim: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') refuse('malformed', `${claim} claim is not a number`);
  if (!(Math.abs(value) <= MAX_NUMERIC_DATE)) refuse('malformed', `${claim} claim is out of range`);
  return value;
}

/** A `{name, uid}` reference as kube decodes it: the claim object itself, once checked. */
interface ObjectRef {
  readonly name: string;
  readonly uid?: string;
}

/**
 * Reads `{name, uid}`. kube looks the object up by name and compares the uid, so a present
 * reference needs a name, and a uid where kube compares one (`uidRequired`).
 */
function objectRef(value: unknown, label: string, uidRequired: boolean): ObjectRef | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) refuse('malformed', `kubernetes.io ${label} is not an object`);
  const { name, uid } = value;
  if (name !== undefined && typeof name !== 'string') refuse('malformed', `kubernetes.io ${label} name is not a string`);
  if (uid !== undefined && typeof uid !== 'string') refuse('malformed', `kubernetes.io ${label} uid is not a string`);
  if (name === undefined || name === '') refuse('bad_subject', `kubernetes.io ${label} has no name`);
  if (uidRequired && (uid === undefined || uid === '')) refuse('bad_subject', `kubernetes.io ${label} has no uid`);
  // Checked above: name is a non-empty string, uid a string or absent. No copy: nothing keeps it.
  return value as unknown as ObjectRef;
}

function refuse(reason: ReasonCode, message: string): never {
  throw new ClaimRefusal(reason, message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Quotes a value for a message, cut short so a hostile claim cannot flood logs. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value);
}

function quoteList(values: readonly string[]): string {
  const shown = values.slice(0, 5).map(quote).join(', ');
  return `[${shown}${values.length > 5 ? `, … (${values.length} in all)` : ''}]`;
}

function isoTime(epochSeconds: number): string {
  const date = new Date(Math.trunc(epochSeconds) * 1000);
  return Number.isNaN(date.getTime()) ? `${epochSeconds}` : date.toISOString().replace('.000Z', 'Z');
}
