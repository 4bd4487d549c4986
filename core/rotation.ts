/**
 * One JWKS sync run, decided without I/O: which keys to publish, which documents to rewrite,
 * which CloudFront paths to invalidate, and the next rotation state.
 *
 * Rules, in order of precedence:
 * 1. A revoked kid is never published, whatever its sources say (no grace period).
 * 2. A key is present when a healthy source lists it, or when a source it came from failed
 *    this run: an outage must not start grace timers or drop keys.
 * 3. A key no source lists any more stays published for the grace period after it was first
 *    missed, so tokens it signed keep verifying until they expire.
 * 4. If every source failed, or the result would be an empty key set, nothing is written: the
 *    last published documents stay as they are and the run fails.
 * 5. A kid is bound to its key material for good once published: a source offering other material
 *    under it is refused (`kid_conflict`) and the published key stays. Two sources offering one new
 *    kid with different material publish neither.
 * 6. A key set larger than AWS IAM accepts is refused (`too_many_keys`), not published.
 * 7. A published document that is not what the sync last wrote was changed by someone else: the
 *    sync writes its own version back (`documents_tampered`).
 */
import type { KeyProblem, ParsedKey, PublicJwk } from './keys';
import { buildDiscovery, buildJwks, canonicalJwk, contentHash, documentPaths, JwksDocument, MAX_JWKS_KEYS_PER_TYPE, serializeDiscovery, serializeJwks } from './documents';

/** What the sync remembers about one published key. */
export interface KeyRecord {
  readonly jwk: PublicJwk;
  /** Epoch seconds of the run that first published the key. */
  readonly firstSeen: number;
  /** Epoch seconds of the last run in which a source listed the key (or a source of it was down). */
  readonly lastSeen: number;
  /** Epoch seconds of the first run in which no source listed it; its grace period starts there. */
  readonly missingSince?: number;
  /** The sources that listed the key when it was last seen. */
  readonly sources: readonly string[];
}

/** The rotation state, kept as a small JSON object in the private bucket, never served. */
export interface RotationState {
  readonly version: 1;
  /** Records by kid. */
  readonly keys: Readonly<Record<string, KeyRecord>>;
  /** Epoch seconds of the last run that wrote the documents. */
  readonly lastPublishedAt?: number;
  /**
   * Fingerprint of each document (body and headers) as of its last successful CloudFront
   * invalidation, by object key. A document whose fingerprint differs is invalidated again, so
   * an invalidation that failed after the write is retried by the next run.
   */
  readonly invalidated?: Readonly<Record<string, string>>;
  /**
   * Fingerprint of each document (body and headers) as the sync last wrote it, by object key. A
   * stored document that differs was written by someone else, and is restored.
   */
  readonly written?: Readonly<Record<string, string>>;
  /**
   * Every kid ever published, with the fingerprint of its key material ({@link jwkFingerprint}).
   * Kept after the key retires, so that a kid can never come back with other material.
   */
  readonly boundKids?: Readonly<Record<string, string>>;
}

/** Machine-readable codes of the problems the planner itself raises (operators alarm on them). */
export type SyncProblemCode = 'kid_conflict' | 'documents_tampered' | 'too_many_keys';

/** A skipped input or a refused change, with a code when the planner raised it. */
export interface SyncProblem extends KeyProblem {
  readonly code?: SyncProblemCode;
}

/** A kid offered with key material other than the one it is bound to (or with two materials at once). */
export interface KidConflict {
  readonly kid: string;
  /** The objects or sources that offered the refused material. */
  readonly sources: readonly string[];
  /** `true` when the kid was already bound (its published key stays); `false` for two new offers. */
  readonly bound: boolean;
}

/** What one key source gave this run. */
export type SourceObservation =
  | { readonly source: string; readonly ok: true; readonly keys: readonly ParsedKey[]; readonly problems: readonly KeyProblem[] }
  | { readonly source: string; readonly ok: false; readonly error: string };

/** The document as it is stored now, with the headers that matter to relying parties. */
export interface StoredDocument {
  readonly body: string;
  readonly contentType?: string;
  readonly cacheControl?: string;
}

/** Everything one sync run decides from. */
export interface SyncInput {
  readonly issuer: string;
  readonly previous?: RotationState;
  readonly observations: readonly SourceObservation[];
  /** Kids revoked by an operator (the deny list's `kids`). */
  readonly revokedKids: ReadonlySet<string>;
  /** Epoch seconds. */
  readonly now: number;
  readonly gracePeriodSeconds: number;
  readonly cacheMaxAgeSeconds: number;
  readonly includeKidlessDuplicates?: boolean;
  /** The documents currently stored, by object key. */
  readonly current: Readonly<Record<string, StoredDocument | undefined>>;
}

/** A document to write, in order (the JWKS always before the discovery document). */
export interface DocumentWrite {
  readonly key: string;
  readonly body: string;
  readonly contentType: 'application/json';
  readonly cacheControl: string;
}

/** The decision of one sync run. */
export interface SyncPlan {
  /** `published`: documents change; `unchanged`: nothing to write; `failed`: nothing written. */
  readonly outcome: 'published' | 'unchanged' | 'failed';
  readonly failureReason?: string;
  readonly writes: readonly DocumentWrite[];
  /** CloudFront paths of the documents that changed. */
  readonly invalidationPaths: readonly string[];
  /** The state to save; `stateChanged` says whether it differs from the previous one. */
  readonly nextState: RotationState;
  readonly stateChanged: boolean;
  /** Kids published for the first time. */
  readonly addedKids: readonly string[];
  /** Kids no source lists any more, kept during their grace period. */
  readonly retiringKids: readonly string[];
  /** Kids dropped this run because their grace period ended. */
  readonly retiredKids: readonly string[];
  /** Kids dropped this run because they are revoked. */
  readonly revokedKids: readonly string[];
  readonly publishedKids: readonly string[];
  readonly failedSources: readonly string[];
  /** Inputs that were skipped or refused, and why. */
  readonly problems: readonly SyncProblem[];
  /** Kids offered with other material than they are bound to: refused. */
  readonly kidConflicts: readonly KidConflict[];
  /** Documents found changed by someone other than the sync (restored by {@link writes}). */
  readonly tamperedDocuments: readonly string[];
}

/** `Cache-Control` for the two documents: short, so verifiers pick up new keys quickly. */
export function documentCacheControl(maxAgeSeconds: number): string {
  return `public, max-age=${maxAgeSeconds}`;
}

/** Decides one sync run. Pure: the same input always gives the same plan. */
export function planSync(input: SyncInput): SyncPlan {
  const previousKeys = input.previous?.keys ?? {};
  const failedSources = input.observations.filter((o) => !o.ok).map((o) => o.source);
  const problems: SyncProblem[] = input.observations.flatMap((o) => (o.ok ? o.problems : [{ source: o.source, reason: `source failed: ${o.error}` }]));

  const bound = boundMaterial(input.previous);
  const { listed, conflicts } = collectOffers(input.observations, bound);
  for (const conflict of conflicts) {
    for (const source of conflict.sources) {
      problems.push({
        code: 'kid_conflict',
        source,
        reason: conflict.bound
          ? `kid_conflict: offers other key material under kid ${conflict.kid}, which is bound to the key already published; refused, the published key stays`
          : `kid_conflict: kid ${conflict.kid} is offered with different key material by ${conflict.sources.join(', ')}; neither is published until only one remains`,
      });
    }
  }

  const nextKeys: Record<string, KeyRecord> = {};
  const addedKids: string[] = [];
  const retiringKids: string[] = [];
  const retiredKids: string[] = [];
  const revokedKids: string[] = [];

  for (const [kid, entry] of listed) {
    if (input.revokedKids.has(kid)) {
      if (previousKeys[kid]) revokedKids.push(kid);
      continue;
    }
    const before = previousKeys[kid];
    if (!before) addedKids.push(kid);
    nextKeys[kid] = { jwk: entry.jwk, firstSeen: before?.firstSeen ?? input.now, lastSeen: input.now, sources: [...entry.sources].sort() };
  }

  for (const [kid, record] of Object.entries(previousKeys)) {
    if (listed.has(kid)) continue;
    if (input.revokedKids.has(kid)) {
      revokedKids.push(kid);
      continue;
    }
    if (record.sources.some((source) => failedSources.includes(source))) {
      // Its source is down, not changed: the key stays. A grace timer already running is neither
      // restarted (a flapping source would keep a retired key for ever) nor ended during the outage.
      if (record.missingSince === undefined) {
        nextKeys[kid] = { ...record, lastSeen: input.now };
      } else {
        nextKeys[kid] = record;
        retiringKids.push(kid);
      }
      continue;
    }
    const missingSince = record.missingSince ?? input.now;
    if (input.now - missingSince >= input.gracePeriodSeconds) {
      retiredKids.push(kid);
      continue;
    }
    retiringKids.push(kid);
    nextKeys[kid] = { ...record, missingSince };
  }

  const publishedJwks = Object.keys(nextKeys).sort().map((kid) => nextKeys[kid].jwk);
  const paths = documentPaths(input.issuer);
  const desired = desiredDocuments(input, publishedJwks);
  const tampered = tamperedDocuments(input, desired.docs);
  for (const key of tampered) {
    problems.push({
      code: 'documents_tampered',
      source: key,
      reason: `documents_tampered: ${key} is not what the sync last wrote (${input.current[key] ? 'changed' : 'deleted'} by someone else); the sync's own version is written back`,
    });
  }
  const base = {
    addedKids: addedKids.sort(), retiringKids: retiringKids.sort(), retiredKids: retiredKids.sort(), revokedKids: revokedKids.sort(), failedSources, problems,
    kidConflicts: conflicts, tamperedDocuments: tampered,
  };

  const oversized = oversizedKeyTypes(desired.jwks);
  if (oversized) problems.push({ code: 'too_many_keys', source: paths.jwksKey, reason: `too_many_keys: ${oversized}` });
  const allFailed = input.observations.length > 0 && failedSources.length === input.observations.length;
  const failureReason = input.observations.length === 0
    ? 'no key source is configured'
    : allFailed
      ? `every key source failed (${failedSources.join(', ')})`
      : publishedJwks.length === 0
        ? 'the key set would be empty; the published documents are kept as they are'
        : oversized
          ? `${oversized}; the published documents are kept as they are`
          : undefined;
  if (failureReason) {
    const previous = input.previous ?? { version: 1, keys: {} };
    // Nothing new is published, but a document someone else changed gets the sync's last version
    // back: rebuilt from the recorded keys, it is byte for byte what the sync wrote, or it is not written.
    const restore = tampered.length > 0 ? desiredDocuments(input, Object.keys(previous.keys).sort().map((kid) => previous.keys[kid].jwk)).docs
      .filter((doc) => tampered.includes(doc.key) && previous.written?.[doc.key] === documentFingerprint(doc)) : [];
    return {
      ...base, addedKids: [], retiredKids: [], revokedKids: [], outcome: 'failed', failureReason,
      writes: restore, invalidationPaths: restore.map((doc) => `/${doc.key}`), nextState: previous, stateChanged: false, publishedKids: Object.keys(previous.keys).sort(),
    };
  }

  const writes = desired.docs.filter((doc) => tampered.includes(doc.key) || !sameDocument(input.current[doc.key], doc));
  const fingerprints: Record<string, string> = {};
  for (const doc of desired.docs) fingerprints[doc.key] = documentFingerprint(doc);
  // No record (first run, a lost state, a run that died before saving it): invalidate both, as
  // an invalidation is cheap and a stale cached JWKS breaks every token of a new key. A document
  // someone else wrote may be cached at the edges: invalidate it too.
  const previouslyInvalidated = input.previous?.invalidated ?? {};
  const toInvalidate = desired.docs.filter((doc) => previouslyInvalidated[doc.key] !== fingerprints[doc.key] || tampered.includes(doc.key));

  const nextBound = { ...bound };
  for (const jwk of publishedJwks) nextBound[jwk.kid] = jwkFingerprint(jwk);
  const membershipChanged = !sameMembership(previousKeys, nextKeys);
  const recordsChanged = !sameStrings(input.previous?.written, fingerprints) || !sameStrings(input.previous?.boundKids, nextBound);
  const stateChanged = writes.length > 0 || membershipChanged || toInvalidate.length > 0 || recordsChanged;
  const nextState: RotationState = {
    version: 1,
    keys: sortedRecord(stateChanged ? nextKeys : carrySeenTimes(previousKeys, nextKeys)),
    lastPublishedAt: writes.length > 0 ? input.now : input.previous?.lastPublishedAt,
    invalidated: fingerprints,
    written: fingerprints,
    boundKids: sortedStrings(nextBound),
  };
  return {
    ...base,
    outcome: writes.length > 0 ? 'published' : 'unchanged',
    writes,
    invalidationPaths: toInvalidate.map((doc) => `/${doc.key}`),
    nextState,
    stateChanged,
    publishedKids: publishedJwks.map((jwk) => jwk.kid),
  };
}

/**
 * Fingerprint of a key's material and declared use: every public member of the canonical JWK
 * except the kid. Two JWKs under one kid with different fingerprints are different keys.
 */
export function jwkFingerprint(jwk: PublicJwk): string {
  const { kid: _kid, ...rest } = canonicalJwk(jwk) as PublicJwk & Record<string, string>;
  return contentHash(JSON.stringify(rest));
}

/** The kids bound to material: every kid the state records, published now or ever before. */
function boundMaterial(previous: RotationState | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(previous?.boundKids ?? {}) };
  for (const [kid, record] of Object.entries(previous?.keys ?? {})) {
    if (out[kid] === undefined) out[kid] = jwkFingerprint(record.jwk);
  }
  return out;
}

/**
 * Groups this run's offers by kid. An offer whose material differs from the kid's binding is
 * refused; a new kid offered with two materials is withheld altogether. Order-independent: the
 * result is the same whatever order the sources list their keys in.
 */
function collectOffers(observations: readonly SourceObservation[], bound: Readonly<Record<string, string>>): {
  listed: Map<string, { jwk: PublicJwk; sources: Set<string> }>;
  conflicts: KidConflict[];
} {
  const offers = new Map<string, Map<string, { jwk: PublicJwk; sources: Set<string>; objects: Set<string> }>>();
  const refused = new Map<string, Set<string>>();
  for (const observation of observations) {
    if (!observation.ok) continue;
    for (const key of observation.keys) {
      const jwk = canonicalJwk(key.jwk);
      const fingerprint = jwkFingerprint(jwk);
      const binding = bound[jwk.kid];
      if (binding !== undefined && binding !== fingerprint) {
        const objects = refused.get(jwk.kid) ?? new Set<string>();
        objects.add(key.source);
        refused.set(jwk.kid, objects);
        continue;
      }
      const byMaterial = offers.get(jwk.kid) ?? new Map();
      const entry = byMaterial.get(fingerprint) ?? { jwk, sources: new Set<string>(), objects: new Set<string>() };
      entry.sources.add(observation.source);
      entry.objects.add(key.source);
      byMaterial.set(fingerprint, entry);
      offers.set(jwk.kid, byMaterial);
    }
  }
  const listed = new Map<string, { jwk: PublicJwk; sources: Set<string> }>();
  const conflicts: KidConflict[] = [];
  for (const [kid, objects] of refused) conflicts.push({ kid, sources: [...objects].sort(), bound: true });
  for (const [kid, byMaterial] of offers) {
    if (byMaterial.size === 1) {
      const [entry] = byMaterial.values();
      listed.set(kid, { jwk: entry.jwk, sources: entry.sources });
    } else {
      conflicts.push({ kid, sources: [...byMaterial.values()].flatMap((entry) => [...entry.objects]).sort(), bound: false });
    }
  }
  conflicts.sort((a, b) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
  return { listed, conflicts };
}

/** The documents a key set gives, in write order: both JWKS copies before the discovery document. */
function desiredDocuments(input: SyncInput, keys: readonly PublicJwk[]): { jwks: JwksDocument; docs: DocumentWrite[] } {
  const jwks = buildJwks(keys, { includeKidlessDuplicates: input.includeKidlessDuplicates });
  const paths = documentPaths(input.issuer);
  const cacheControl = documentCacheControl(input.cacheMaxAgeSeconds);
  const jwksBody = serializeJwks(jwks);
  return {
    jwks,
    docs: [
      { key: paths.jwksKey, body: jwksBody, contentType: 'application/json', cacheControl },
      { key: paths.jwksAliasKey, body: jwksBody, contentType: 'application/json', cacheControl },
      { key: paths.discoveryKey, body: serializeDiscovery(buildDiscovery(input.issuer, jwks)), contentType: 'application/json', cacheControl },
    ],
  };
}

/**
 * Stored documents that differ from (or are missing since) what the sync last recorded writing.
 * A document equal to what this run would write is the sync's own too: a run that wrote it and
 * then failed before saving its state (a failed invalidation, a lost race) leaves the record behind.
 */
function tamperedDocuments(input: SyncInput, desired: readonly DocumentWrite[]): string[] {
  const written = input.previous?.written ?? {};
  const wouldWrite = new Map(desired.map((doc) => [doc.key, documentFingerprint(doc)]));
  return Object.keys(written).sort().filter((key) => {
    const stored = input.current[key];
    if (stored === undefined) return true;
    const fingerprint = storedFingerprint(stored);
    return fingerprint !== written[key] && fingerprint !== wouldWrite.get(key);
  });
}

/** Why a key set is too large for AWS IAM, or `undefined` when it fits. */
function oversizedKeyTypes(jwks: JwksDocument): string | undefined {
  const counts: Record<string, number> = {};
  for (const key of jwks.keys) counts[key.kty] = (counts[key.kty] ?? 0) + 1;
  const over = (Object.keys(MAX_JWKS_KEYS_PER_TYPE) as PublicJwk['kty'][]).filter((kty) => (counts[kty] ?? 0) > MAX_JWKS_KEYS_PER_TYPE[kty]);
  if (over.length === 0) return undefined;
  return `the JWKS would hold ${over.map((kty) => `${counts[kty]} ${kty} keys`).join(' and ')}; AWS IAM accepts at most ${MAX_JWKS_KEYS_PER_TYPE.RSA} RSA and ${MAX_JWKS_KEYS_PER_TYPE.EC} EC keys (kid-less duplicates count): retire or revoke keys`;
}

/** Serializes the rotation state deterministically. */
export function serializeRotationState(state: RotationState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Parses a stored rotation state; throws a clear error when it is not one. */
export function parseRotationState(text: string): RotationState {
  const value = JSON.parse(text) as RotationState;
  if (typeof value !== 'object' || value === null || value.version !== 1 || typeof value.keys !== 'object' || value.keys === null) {
    throw new Error('rotation state is not a version 1 state object');
  }
  return value;
}

/** What a viewer gets for a document: its body and the headers it is served with. */
function documentFingerprint(doc: DocumentWrite): string {
  return storedFingerprint(doc);
}

function storedFingerprint(doc: StoredDocument): string {
  return contentHash(`${doc.contentType ?? ''}\n${doc.cacheControl ?? ''}\n${doc.body}`);
}

function sameStrings(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>): boolean {
  return JSON.stringify(sortedStrings(a ?? {})) === JSON.stringify(sortedStrings(b));
}

function sortedStrings(record: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key];
  return out;
}

function sameDocument(stored: StoredDocument | undefined, desired: DocumentWrite): boolean {
  return stored !== undefined && stored.body === desired.body && stored.contentType === desired.contentType && stored.cacheControl === desired.cacheControl;
}

/** Same kids, same grace timers: seen-times alone do not justify a state write. */
function sameMembership(a: Readonly<Record<string, KeyRecord>>, b: Readonly<Record<string, KeyRecord>>): boolean {
  const kidsA = Object.keys(a).sort();
  const kidsB = Object.keys(b).sort();
  if (kidsA.join('\n') !== kidsB.join('\n')) return false;
  return kidsA.every((kid) => a[kid].missingSince === b[kid].missingSince && a[kid].sources.join() === b[kid].sources.join());
}

/** Keeps the stored record when nothing but its last-seen time would change. */
function carrySeenTimes(previous: Readonly<Record<string, KeyRecord>>, next: Record<string, KeyRecord>): Record<string, KeyRecord> {
  const out: Record<string, KeyRecord> = {};
  for (const kid of Object.keys(next)) out[kid] = previous[kid] ?? next[kid];
  return out;
}

function sortedRecord(records: Record<string, KeyRecord>): Record<string, KeyRecord> {
  const out: Record<string, KeyRecord> = {};
  for (const kid of Object.keys(records).sort()) {
    const { missingSince, ...rest } = records[kid];
    out[kid] = missingSince === undefined ? rest : { ...rest, missingSince };
  }
  return out;
}
