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
 */
import type { KeyProblem, ParsedKey, PublicJwk } from './keys';
import { buildDiscovery, buildJwks, canonicalJwk, contentHash, documentPaths, serializeDiscovery, serializeJwks } from './documents';

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
  /** Inputs that were skipped, and why. */
  readonly problems: readonly KeyProblem[];
}

/** `Cache-Control` for the two documents: short, so verifiers pick up new keys quickly. */
export function documentCacheControl(maxAgeSeconds: number): string {
  return `public, max-age=${maxAgeSeconds}`;
}

/** Decides one sync run. Pure: the same input always gives the same plan. */
export function planSync(input: SyncInput): SyncPlan {
  const previousKeys = input.previous?.keys ?? {};
  const failedSources = input.observations.filter((o) => !o.ok).map((o) => o.source);
  const problems = input.observations.flatMap((o) => (o.ok ? o.problems : [{ source: o.source, reason: `source failed: ${o.error}` }]));

  const listed = new Map<string, { jwk: PublicJwk; sources: Set<string> }>();
  for (const observation of input.observations) {
    if (!observation.ok) continue;
    for (const key of observation.keys) {
      const entry = listed.get(key.jwk.kid) ?? { jwk: canonicalJwk(key.jwk), sources: new Set<string>() };
      entry.sources.add(observation.source);
      listed.set(key.jwk.kid, entry);
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
  const base = { addedKids: addedKids.sort(), retiringKids: retiringKids.sort(), retiredKids: retiredKids.sort(), revokedKids: revokedKids.sort(), failedSources, problems };

  const allFailed = input.observations.length > 0 && failedSources.length === input.observations.length;
  const failureReason = input.observations.length === 0
    ? 'no key source is configured'
    : allFailed
      ? `every key source failed (${failedSources.join(', ')})`
      : publishedJwks.length === 0
        ? 'the key set would be empty; the published documents are kept as they are'
        : undefined;
  if (failureReason) {
    const previous = input.previous ?? { version: 1, keys: {} };
    return { ...base, addedKids: [], retiredKids: [], revokedKids: [], outcome: 'failed', failureReason, writes: [], invalidationPaths: [], nextState: previous, stateChanged: false, publishedKids: Object.keys(previous.keys).sort() };
  }

  const jwks = buildJwks(publishedJwks, { includeKidlessDuplicates: input.includeKidlessDuplicates });
  const paths = documentPaths(input.issuer);
  const cacheControl = documentCacheControl(input.cacheMaxAgeSeconds);
  const desired: DocumentWrite[] = [
    { key: paths.jwksKey, body: serializeJwks(jwks), contentType: 'application/json', cacheControl },
    { key: paths.discoveryKey, body: serializeDiscovery(buildDiscovery(input.issuer, jwks)), contentType: 'application/json', cacheControl },
  ];
  const writes = desired.filter((doc) => !sameDocument(input.current[doc.key], doc));
  const fingerprints: Record<string, string> = {};
  for (const doc of desired) fingerprints[doc.key] = documentFingerprint(doc);
  // No record (first run, a lost state, a run that died before saving it): invalidate both, as
  // an invalidation is cheap and a stale cached JWKS breaks every token of a new key.
  const previouslyInvalidated = input.previous?.invalidated ?? {};
  const toInvalidate = desired.filter((doc) => previouslyInvalidated[doc.key] !== fingerprints[doc.key]);

  const membershipChanged = !sameMembership(previousKeys, nextKeys);
  const stateChanged = writes.length > 0 || membershipChanged || toInvalidate.length > 0;
  const nextState: RotationState = {
    version: 1,
    keys: sortedRecord(stateChanged ? nextKeys : carrySeenTimes(previousKeys, nextKeys)),
    lastPublishedAt: writes.length > 0 ? input.now : input.previous?.lastPublishedAt,
    invalidated: fingerprints,
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
  return contentHash(`${doc.contentType}\n${doc.cacheControl}\n${doc.body}`);
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
