/**
 * planSync, run after run against a simulated bucket: what is written, in which order, what is
 * invalidated, and how keys come, retire, survive outages and get revoked. Time is injected.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDiscovery, buildJwks, documentPaths, serializeDiscovery, serializeJwks } from '../../core/documents';
import { parseKeyMaterial, type ParsedKey, type PublicJwk } from '../../core/keys';
import {
  documentCacheControl,
  jwkFingerprint,
  parseRotationState,
  planSync,
  serializeRotationState,
  type RotationState,
  type SourceObservation,
  type StoredDocument,
  type SyncInput,
  type SyncPlan,
} from '../../core/rotation';

const ISSUER = 'https://oidc.example.com/cluster-a';
const PATHS = documentPaths(ISSUER);
const JWKS_PATH = `/${PATHS.jwksKey}`;
const JWKS_ALIAS_PATH = `/${PATHS.jwksAliasKey}`;
const DISCOVERY_PATH = `/${PATHS.discoveryKey}`;
const HOUR = 3600;
const GRACE = 24 * HOUR;
const T0 = 1_798_761_600; // 2027-01-01T00:00:00Z

const UPLOADS = 's3://private/keys/';
const CLUSTER = 'https://apiserver:6443/openid/v1/jwks';
const CONFIG = 'config';

function parsedKey(pem: string, source: string): ParsedKey {
  const result = parseKeyMaterial(pem, source);
  expect(result.problems).toEqual([]);
  return result.keys[0];
}

function ecKey(namedCurve: 'P-256' | 'P-384'): ParsedKey {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve });
  return parsedKey(publicKey.export({ type: 'spki', format: 'pem' }) as string, `${namedCurve}.pem`);
}

function listed(source: string, ...keys: ParsedKey[]): SourceObservation {
  return { source, ok: true, keys, problems: [] };
}

function down(source: string, error = 'connect ETIMEDOUT 10.0.0.1:6443'): SourceObservation {
  return { source, ok: false, error };
}

/** The documents and state bucket as the sync runner keeps them: writes applied, state saved only when changed. */
class Bucket {
  documents: Record<string, StoredDocument> = {};
  state?: RotationState;
  stateWrites = 0;

  sync(now: number, observations: SourceObservation[], options: Partial<SyncInput> = {}): SyncPlan {
    const plan = planSync({
      issuer: ISSUER,
      previous: this.state,
      observations,
      revokedKids: new Set(),
      now,
      gracePeriodSeconds: GRACE,
      cacheMaxAgeSeconds: 300,
      current: { ...this.documents },
      ...options,
    });
    for (const write of plan.writes) {
      this.documents[write.key] = { body: write.body, contentType: write.contentType, cacheControl: write.cacheControl };
    }
    if (plan.stateChanged) {
      // Through its stored form, as the runner keeps it.
      this.state = parseRotationState(serializeRotationState(plan.nextState));
      this.stateWrites += 1;
    }
    return plan;
  }

  publishedKids(): string[] {
    return (JSON.parse(this.documents[PATHS.jwksKey].body) as { keys: PublicJwk[] }).keys.map((key) => key.kid);
  }
}

const kids = (...keys: ParsedKey[]): string[] => keys.map((key) => key.jwk.kid).sort();

let rsa: ParsedKey;
let ec: ParsedKey;
let a: ParsedKey;
let b: ParsedKey;
let c: ParsedKey;
let p384: ParsedKey;

beforeAll(() => {
  const fixtures = join(__dirname, '..', 'fixtures', 'kube-format');
  rsa = parsedKey(readFileSync(join(fixtures, 'sa-rsa.pub'), 'utf8'), 'sa-rsa.pub');
  ec = parsedKey(readFileSync(join(fixtures, 'sa-ec.pub'), 'utf8'), 'sa-ec.pub');
  [a, b, c] = [ecKey('P-256'), ecKey('P-256'), ecKey('P-256')];
  p384 = ecKey('P-384');
});

describe('first publish', () => {
  it('writes the JWKS and its /.well-known/jwks.json copy, then the discovery document, and invalidates all three paths', () => {
    const bucket = new Bucket();
    const plan = bucket.sync(T0, [listed(UPLOADS, rsa), listed(CLUSTER, ec)]);
    const jwks = buildJwks([rsa.jwk, ec.jwk]);
    expect(plan.outcome).toBe('published');
    expect(plan.writes).toEqual([
      { key: 'cluster-a/openid/v1/jwks', body: serializeJwks(jwks), contentType: 'application/json', cacheControl: 'public, max-age=300' },
      { key: 'cluster-a/.well-known/jwks.json', body: serializeJwks(jwks), contentType: 'application/json', cacheControl: 'public, max-age=300' },
      {
        key: 'cluster-a/.well-known/openid-configuration',
        body: serializeDiscovery(buildDiscovery(ISSUER, jwks)),
        contentType: 'application/json',
        cacheControl: 'public, max-age=300',
      },
    ]);
    expect(plan.invalidationPaths).toEqual(['/cluster-a/openid/v1/jwks', '/cluster-a/.well-known/jwks.json', '/cluster-a/.well-known/openid-configuration']);
    expect(plan.addedKids).toEqual(kids(rsa, ec));
    expect(plan.publishedKids).toEqual(kids(rsa, ec));
    expect(plan.failedSources).toEqual([]);
    expect(plan.problems).toEqual([]);
  });

  it('records when each key was first and last seen, and by which sources', () => {
    const bucket = new Bucket();
    const plan = bucket.sync(T0, [listed(UPLOADS, rsa, ec), listed(CONFIG, rsa)]);
    expect(plan.stateChanged).toBe(true);
    expect(plan.nextState).toEqual({
      version: 1,
      lastPublishedAt: T0,
      keys: {
        [rsa.jwk.kid]: { jwk: rsa.jwk, firstSeen: T0, lastSeen: T0, sources: [CONFIG, UPLOADS].sort() },
        [ec.jwk.kid]: { jwk: ec.jwk, firstSeen: T0, lastSeen: T0, sources: [UPLOADS] },
      },
      invalidated: {
        'cluster-a/openid/v1/jwks': expect.stringMatching(/^[0-9a-f]{64}$/),
        'cluster-a/.well-known/jwks.json': expect.stringMatching(/^[0-9a-f]{64}$/),
        'cluster-a/.well-known/openid-configuration': expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      written: plan.nextState.invalidated,
      boundKids: { [rsa.jwk.kid]: jwkFingerprint(rsa.jwk), [ec.jwk.kid]: jwkFingerprint(ec.jwk) },
    });
  });

  it('invalidates again on the next run when the state could not record the invalidation', () => {
    const bucket = new Bucket();
    const first = bucket.sync(T0, [listed(UPLOADS, rsa)]);
    expect(first.invalidationPaths).toHaveLength(3);
    // The documents were written, but the run died before saving the state (invalidation failed).
    bucket.state = undefined;
    const retried = planSync({ issuer: ISSUER, previous: { version: 1, keys: first.nextState.keys, invalidated: {} }, observations: [listed(UPLOADS, rsa)], revokedKids: new Set(), now: T0 + 60, gracePeriodSeconds: GRACE, cacheMaxAgeSeconds: 300, current: { ...bucket.documents } });
    expect(retried.writes).toEqual([]);
    expect(retried.outcome).toBe('unchanged');
    expect(retried.invalidationPaths).toEqual(['/cluster-a/openid/v1/jwks', '/cluster-a/.well-known/jwks.json', '/cluster-a/.well-known/openid-configuration']);
    expect(retried.stateChanged).toBe(true);
    // Once recorded, nothing is invalidated again.
    const settled = planSync({ issuer: ISSUER, previous: retried.nextState, observations: [listed(UPLOADS, rsa)], revokedKids: new Set(), now: T0 + 120, gracePeriodSeconds: GRACE, cacheMaxAgeSeconds: 300, current: { ...bucket.documents } });
    expect(settled.invalidationPaths).toEqual([]);
    expect(settled.stateChanged).toBe(false);
  });

  it('uses root paths for an issuer without a path', () => {
    const plan = planSync({
      issuer: 'https://oidc.example.com',
      observations: [listed(CONFIG, ec)],
      revokedKids: new Set(),
      now: T0,
      gracePeriodSeconds: GRACE,
      cacheMaxAgeSeconds: 300,
      current: {},
    });
    expect(plan.writes.map((write) => write.key)).toEqual(['openid/v1/jwks', '.well-known/jwks.json', '.well-known/openid-configuration']);
    expect(plan.invalidationPaths).toEqual(['/openid/v1/jwks', '/.well-known/jwks.json', '/.well-known/openid-configuration']);
  });

  it('publishes kid-less duplicates when asked, without counting them as kids', () => {
    const plan = new Bucket().sync(T0, [listed(CONFIG, rsa)], { includeKidlessDuplicates: true });
    const published = (JSON.parse(plan.writes[0].body) as { keys: PublicJwk[] }).keys;
    expect(published.map((key) => key.kid)).toEqual([rsa.jwk.kid, '']);
    expect(plan.publishedKids).toEqual([rsa.jwk.kid]);
  });
});

describe('an unchanged run', () => {
  it('writes nothing, invalidates nothing and leaves the state as it was', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, rsa), listed(CLUSTER, ec)]);
    const stateBefore = serializeRotationState(bucket.state as RotationState);
    const documentsBefore = structuredClone(bucket.documents);

    const plan = bucket.sync(T0 + 300, [listed(UPLOADS, rsa), listed(CLUSTER, ec)]);
    expect(plan.outcome).toBe('unchanged');
    expect(plan.writes).toEqual([]);
    expect(plan.invalidationPaths).toEqual([]);
    expect(plan.stateChanged).toBe(false);
    expect(serializeRotationState(plan.nextState)).toBe(stateBefore);
    expect(plan.addedKids).toEqual([]);
    expect(bucket.documents).toEqual(documentsBefore);
    expect(bucket.stateWrites).toBe(1);
  });

  it('gives the same plan whatever order the sources and keys come in', () => {
    const inputs = (observations: SourceObservation[]): SyncInput => ({
      issuer: ISSUER,
      observations,
      revokedKids: new Set(),
      now: T0,
      gracePeriodSeconds: GRACE,
      cacheMaxAgeSeconds: 300,
      current: {},
    });
    const one = planSync(inputs([listed(UPLOADS, rsa, a), listed(CLUSTER, ec, b)]));
    const other = planSync(inputs([listed(CLUSTER, b, ec), listed(UPLOADS, a, rsa)]));
    expect(other.writes).toEqual(one.writes);
    expect(serializeRotationState(other.nextState)).toBe(serializeRotationState(one.nextState));
  });

  it('saves the state but writes no document when the documents are already right and the state was lost', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CONFIG, rsa)]);
    bucket.state = undefined;
    const plan = bucket.sync(T0 + 300, [listed(CONFIG, rsa)]);
    expect(plan.writes).toEqual([]);
    expect(plan.stateChanged).toBe(true);
    expect(plan.nextState.keys[rsa.jwk.kid]).toMatchObject({ firstSeen: T0 + 300 });
  });
});

describe('a key added', () => {
  it('rewrites only the JWKS (both copies), and invalidates only their paths, when the algorithms stay the same', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a)]);
    const plan = bucket.sync(T0 + 300, [listed(UPLOADS, a, b)]);
    expect(plan.outcome).toBe('published');
    expect(plan.writes.map((write) => write.key)).toEqual([PATHS.jwksKey, PATHS.jwksAliasKey]);
    expect(plan.invalidationPaths).toEqual([JWKS_PATH, JWKS_ALIAS_PATH]);
    expect(plan.addedKids).toEqual([b.jwk.kid]);
    expect(bucket.publishedKids()).toEqual(kids(a, b));
    expect(bucket.state?.keys[a.jwk.kid]).toMatchObject({ firstSeen: T0 });
    expect(bucket.state?.keys[b.jwk.kid]).toMatchObject({ firstSeen: T0 + 300, lastSeen: T0 + 300 });
  });

  it('rewrites both documents, JWKS first, when it brings a new algorithm', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, rsa)]);
    const plan = bucket.sync(T0 + 300, [listed(UPLOADS, rsa, p384)]);
    expect(plan.writes.map((write) => write.key)).toEqual([PATHS.jwksKey, PATHS.jwksAliasKey, PATHS.discoveryKey]);
    expect(plan.invalidationPaths).toEqual([JWKS_PATH, JWKS_ALIAS_PATH, DISCOVERY_PATH]);
    expect(JSON.parse(bucket.documents[PATHS.discoveryKey].body)).toMatchObject({ id_token_signing_alg_values_supported: ['ES384', 'RS256'] });
  });
});

describe('a key removed', () => {
  it('stays published through the grace period, then goes', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a, b)]);
    const removedAt = T0 + HOUR;

    const first = bucket.sync(removedAt, [listed(CLUSTER, a)]);
    expect(first.outcome).toBe('unchanged');
    expect(first.writes).toEqual([]);
    expect(first.retiringKids).toEqual([b.jwk.kid]);
    expect(first.retiredKids).toEqual([]);
    expect(first.publishedKids).toEqual(kids(a, b));
    expect(first.stateChanged).toBe(true); // the grace timer must survive to the next run
    expect(bucket.state?.keys[b.jwk.kid]).toMatchObject({ missingSince: removedAt, lastSeen: T0 });

    const justBefore = bucket.sync(removedAt + GRACE - 1, [listed(CLUSTER, a)]);
    expect(justBefore.writes).toEqual([]);
    expect(justBefore.retiringKids).toEqual([b.jwk.kid]);
    expect(bucket.publishedKids()).toEqual(kids(a, b));

    const atEnd = bucket.sync(removedAt + GRACE, [listed(CLUSTER, a)]);
    expect(atEnd.outcome).toBe('published');
    expect(atEnd.retiredKids).toEqual([b.jwk.kid]);
    expect(atEnd.retiringKids).toEqual([]);
    expect(atEnd.writes.map((write) => write.key)).toEqual([PATHS.jwksKey, PATHS.jwksAliasKey]);
    expect(atEnd.invalidationPaths).toEqual([JWKS_PATH, JWKS_ALIAS_PATH]);
    expect(bucket.publishedKids()).toEqual(kids(a));
    expect(bucket.state?.keys).not.toHaveProperty(b.jwk.kid);
  });

  it('keeps its first-seen time and clears its grace timer when it comes back', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a, b)]);
    bucket.sync(T0 + HOUR, [listed(CLUSTER, a)]);
    const back = bucket.sync(T0 + 2 * HOUR, [listed(CLUSTER, a, b)]);
    expect(back.retiringKids).toEqual([]);
    expect(back.addedKids).toEqual([]);
    expect(bucket.state?.keys[b.jwk.kid]).toEqual({ jwk: b.jwk, firstSeen: T0, lastSeen: T0 + 2 * HOUR, sources: [CLUSTER] });
    const later = bucket.sync(T0 + HOUR + GRACE, [listed(CLUSTER, a, b)]);
    expect(later.retiredKids).toEqual([]);
    expect(bucket.publishedKids()).toEqual(kids(a, b));
  });

  it('goes at once with a zero grace period', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a, b)]);
    const plan = bucket.sync(T0 + 300, [listed(CLUSTER, a)], { gracePeriodSeconds: 0 });
    expect(plan.retiredKids).toEqual([b.jwk.kid]);
    expect(bucket.publishedKids()).toEqual(kids(a));
  });
});

describe('a source outage', () => {
  it('keeps the failed source\'s keys, starts no grace timer and writes nothing', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a), listed(CLUSTER, b)]);
    const plan = bucket.sync(T0 + 300, [listed(UPLOADS, a), down(CLUSTER)]);
    expect(plan.outcome).toBe('unchanged');
    expect(plan.writes).toEqual([]);
    expect(plan.failedSources).toEqual([CLUSTER]);
    expect(plan.problems).toEqual([{ source: CLUSTER, reason: 'source failed: connect ETIMEDOUT 10.0.0.1:6443' }]);
    expect(plan.retiringKids).toEqual([]);
    expect(plan.publishedKids).toEqual(kids(a, b));
    expect(plan.nextState.keys[b.jwk.kid].missingSince).toBeUndefined();
  });

  it('keeps them however long it lasts, and the grace period starts only once the source answers without them', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a), listed(CLUSTER, b)]);
    bucket.sync(T0 + 3 * GRACE, [listed(UPLOADS, a), down(CLUSTER)]);
    expect(bucket.publishedKids()).toEqual(kids(a, b));

    const recovered = T0 + 3 * GRACE + 300;
    const plan = bucket.sync(recovered, [listed(UPLOADS, a), listed(CLUSTER)]);
    expect(plan.retiringKids).toEqual([b.jwk.kid]);
    expect(bucket.state?.keys[b.jwk.kid].missingSince).toBe(recovered);
    expect(bucket.sync(recovered + GRACE, [listed(UPLOADS, a), listed(CLUSTER)]).retiredKids).toEqual([b.jwk.kid]);
  });

  it('neither restarts nor ends a grace period already running: a flapping source cannot keep a retired key for ever', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a), listed(CLUSTER, b, c)]);
    const removedAt = T0 + HOUR;
    bucket.sync(removedAt, [listed(UPLOADS, a), listed(CLUSTER, c)]); // b leaves its source

    // The source fails every other run; b must still retire one grace period after it left.
    let now = removedAt;
    while (now < removedAt + GRACE - 2 * HOUR) {
      now += HOUR;
      const outage = bucket.sync(now, [listed(UPLOADS, a), down(CLUSTER)]);
      expect(outage.publishedKids).toEqual(kids(a, b, c));
      expect(outage.retiringKids).toEqual([b.jwk.kid]);
      now += HOUR;
      bucket.sync(now, [listed(UPLOADS, a), listed(CLUSTER, c)]);
    }
    const outageAtEnd = bucket.sync(removedAt + GRACE, [listed(UPLOADS, a), down(CLUSTER)]);
    expect(outageAtEnd.publishedKids).toEqual(kids(a, b, c)); // an outage drops no key
    const plan = bucket.sync(removedAt + GRACE + 300, [listed(UPLOADS, a), listed(CLUSTER, c)]);
    expect(plan.retiredKids).toEqual([b.jwk.kid]);
    expect(bucket.publishedKids()).toEqual(kids(a, c));
  });
});

describe('a failed run', () => {
  it('when every source fails: nothing written, state untouched, every source named', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a), listed(CLUSTER, b)]);
    const documentsBefore = structuredClone(bucket.documents);
    const stateBefore = bucket.state;

    const plan = bucket.sync(T0 + 300, [down(UPLOADS, 'AccessDenied'), down(CLUSTER)]);
    expect(plan.outcome).toBe('failed');
    expect(plan.failureReason).toBe(`every key source failed (${UPLOADS}, ${CLUSTER})`);
    expect(plan.writes).toEqual([]);
    expect(plan.invalidationPaths).toEqual([]);
    expect(plan.stateChanged).toBe(false);
    expect(plan.nextState).toBe(stateBefore);
    expect(plan.failedSources).toEqual([UPLOADS, CLUSTER]);
    expect(bucket.documents).toEqual(documentsBefore);
  });

  it('when every source fails on the very first run', () => {
    const plan = new Bucket().sync(T0, [down(CLUSTER)]);
    expect(plan).toMatchObject({ outcome: 'failed', writes: [], invalidationPaths: [], stateChanged: false, nextState: { version: 1, keys: {} } });
  });

  it('when no source is configured', () => {
    const plan = new Bucket().sync(T0, []);
    expect(plan).toMatchObject({ outcome: 'failed', failureReason: 'no key source is configured', writes: [] });
  });

  it('when the sources answer with no key at all', () => {
    const plan = new Bucket().sync(T0, [listed(UPLOADS), listed(CLUSTER)]);
    expect(plan.outcome).toBe('failed');
    expect(plan.failureReason).toMatch(/key set would be empty/);
    expect(plan.writes).toEqual([]);
  });

  it('when every key is gone and its grace period over, rather than publish an empty JWKS', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a)]);
    bucket.sync(T0 + 300, [listed(CLUSTER)]);
    const documentsBefore = structuredClone(bucket.documents);
    const plan = bucket.sync(T0 + 300 + GRACE, [listed(CLUSTER)]);
    expect(plan.outcome).toBe('failed');
    expect(plan.writes).toEqual([]);
    expect(plan.publishedKids).toEqual(kids(a));
    expect(bucket.documents).toEqual(documentsBefore);
  });
});

describe('invalid keys in a source', () => {
  it('are reported by object and reason while the valid keys publish', () => {
    const upload = parseKeyMaterial(`not a key\n`, 'keys/notes.txt');
    const bundle = parseKeyMaterial(`${readFileSync(join(__dirname, '..', 'fixtures', 'kube-format', 'sa-ec.pub'), 'utf8')}-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n`, 'keys/bundle.pem');
    const observation: SourceObservation = {
      source: UPLOADS,
      ok: true,
      keys: [...upload.keys, ...bundle.keys],
      problems: [...upload.problems, ...bundle.problems],
    };
    const plan = new Bucket().sync(T0, [observation]);
    expect(plan.outcome).toBe('published');
    expect(plan.publishedKids).toEqual(kids(ec));
    expect(plan.problems).toEqual([
      { source: 'keys/notes.txt', reason: 'not a PEM key, JWK or JWKS' },
      { source: 'keys/bundle.pem#2 (PUBLIC KEY)', reason: expect.any(String) },
    ]);
  });
});

describe('a revoked kid', () => {
  it('leaves at once, with no grace period, even while its source still lists it', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a, b)]);
    const revoked = new Set([b.jwk.kid]);
    const plan = bucket.sync(T0 + 300, [listed(CLUSTER, a, b)], { revokedKids: revoked });
    expect(plan.outcome).toBe('published');
    expect(plan.revokedKids).toEqual([b.jwk.kid]);
    expect(plan.retiringKids).toEqual([]);
    expect(plan.invalidationPaths).toEqual([JWKS_PATH, JWKS_ALIAS_PATH]);
    expect(bucket.publishedKids()).toEqual(kids(a));

    for (const now of [T0 + 600, T0 + 2 * GRACE]) {
      const next = bucket.sync(now, [listed(CLUSTER, a, b)], { revokedKids: revoked });
      expect(next.writes).toEqual([]);
      expect(next.addedKids).toEqual([]);
      expect(next.publishedKids).toEqual(kids(a));
    }
    expect(bucket.publishedKids()).toEqual(kids(a));
  });

  it('leaves at once while its source is down (the outage rule does not protect it)', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a), listed(CLUSTER, b)]);
    const plan = bucket.sync(T0 + 300, [listed(UPLOADS, a), down(CLUSTER)], { revokedKids: new Set([b.jwk.kid]) });
    expect(plan.revokedKids).toEqual([b.jwk.kid]);
    expect(bucket.publishedKids()).toEqual(kids(a));
  });

  it('leaves at once while it is retiring', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a, b)]);
    bucket.sync(T0 + 300, [listed(CLUSTER, a)]);
    const plan = bucket.sync(T0 + 600, [listed(CLUSTER, a)], { revokedKids: new Set([b.jwk.kid]) });
    expect(plan.revokedKids).toEqual([b.jwk.kid]);
    expect(plan.retiringKids).toEqual([]);
    expect(bucket.publishedKids()).toEqual(kids(a));
  });

  it('is never published when revoked before it was ever seen', () => {
    const plan = new Bucket().sync(T0, [listed(CLUSTER, a, b)], { revokedKids: new Set([b.jwk.kid]) });
    expect(plan.publishedKids).toEqual(kids(a));
    expect(plan.addedKids).toEqual(kids(a));
    expect(plan.nextState.keys).not.toHaveProperty(b.jwk.kid);
  });

  it('fails the run rather than publish an empty JWKS when it is the only key (decision: an alarm, not an empty issuer)', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a)]);
    const plan = bucket.sync(T0 + 300, [listed(CLUSTER, a)], { revokedKids: new Set([a.jwk.kid]) });
    expect(plan.outcome).toBe('failed');
    expect(plan.failureReason).toMatch(/key set would be empty/);
    expect(plan.writes).toEqual([]);
  });
});

describe('document headers', () => {
  it('are application/json with the configured short max-age', () => {
    expect(documentCacheControl(300)).toBe('public, max-age=300');
    const plan = new Bucket().sync(T0, [listed(CONFIG, a)], { cacheMaxAgeSeconds: 60 });
    for (const write of plan.writes) expect([write.contentType, write.cacheControl]).toEqual(['application/json', 'public, max-age=60']);
  });

  it('are enough to rewrite both documents when only the cache max-age changed', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CONFIG, a)]);
    const bodies = Object.fromEntries(Object.entries(bucket.documents).map(([key, doc]) => [key, doc.body]));
    const plan = bucket.sync(T0 + 300, [listed(CONFIG, a)], { cacheMaxAgeSeconds: 120 });
    expect(plan.outcome).toBe('published');
    expect(plan.writes.map((write) => [write.key, write.body, write.cacheControl])).toEqual([
      [PATHS.jwksKey, bodies[PATHS.jwksKey], 'public, max-age=120'],
      [PATHS.jwksAliasKey, bodies[PATHS.jwksKey], 'public, max-age=120'],
      [PATHS.discoveryKey, bodies[PATHS.discoveryKey], 'public, max-age=120'],
    ]);
    expect(plan.invalidationPaths).toEqual([JWKS_PATH, JWKS_ALIAS_PATH, DISCOVERY_PATH]);
  });

  it('are rewritten when a stored document lost its content type', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CONFIG, a)]);
    bucket.documents[PATHS.jwksKey] = { ...bucket.documents[PATHS.jwksKey], contentType: 'binary/octet-stream' };
    const plan = bucket.sync(T0 + 300, [listed(CONFIG, a)]);
    expect(plan.writes.map((write) => write.key)).toEqual([PATHS.jwksKey]);
    expect(bucket.documents[PATHS.jwksKey].contentType).toBe('application/json');
  });
});

describe('rotation state storage', () => {
  it('round-trips through its serialized form', () => {
    const plan = new Bucket().sync(T0, [listed(CONFIG, a, rsa)]);
    const text = serializeRotationState(plan.nextState);
    expect(text.endsWith('\n')).toBe(true);
    expect(parseRotationState(text)).toEqual(plan.nextState);
  });

  it.each([
    ['another version', '{"version":2,"keys":{}}'],
    ['no keys', '{"version":1}'],
    ['null keys', '{"version":1,"keys":null}'],
    ['a JSON array', '[]'],
    ['null', 'null'],
  ])('refuses a state with %s', (_name, text) => {
    expect(() => parseRotationState(text)).toThrow('rotation state is not a version 1 state object');
  });

  it('throws on text that is not JSON', () => {
    expect(() => parseRotationState('{"version":1,')).toThrow(SyntaxError);
  });
});

/** Another key's material under `kid`: what an intruder writes to take a published kid over. */
function underKid(kid: string, material: ParsedKey, source: string): ParsedKey {
  return { jwk: { ...material.jwk, kid }, source, fromPrivateKey: false };
}

describe('a kid is bound to its key material for good (issue 12 §1)', () => {
  it('refuses other material offered under a published kid, keeps the published key and reports kid_conflict naming the object', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, { ...a, source: 's3://private/keys/cluster.pub' })]);
    const published = bucket.documents[PATHS.jwksKey].body;
    const intruder = underKid(a.jwk.kid, b, 's3://private/keys/aa-extra.jwks');

    // Listing order must not matter: the intruder first, then the real key, and the other way round.
    for (const keys of [[intruder, a], [a, intruder]]) {
      const plan = bucket.sync(T0 + 300, [listed(UPLOADS, ...keys)]);
      expect(plan.outcome).toBe('unchanged');
      expect(plan.addedKids).toEqual([]);
      expect(bucket.documents[PATHS.jwksKey].body).toBe(published);
      expect(plan.problems).toContainEqual(expect.objectContaining({ code: 'kid_conflict', source: 's3://private/keys/aa-extra.jwks' }));
      expect(plan.kidConflicts).toEqual([{ kid: a.jwk.kid, sources: ['s3://private/keys/aa-extra.jwks'], bound: true }]);
    }
  });

  it('refuses the intruder even when it is the only key offered under that kid', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a), listed(UPLOADS, c)]);
    const plan = bucket.sync(T0 + 300, [down(CLUSTER), listed(UPLOADS, c, underKid(a.jwk.kid, b, 'keys/x.jwks'))]);
    expect(plan.problems.map((p) => p.reason).join('\n')).toMatch(/kid_conflict/);
    expect(JSON.parse(bucket.documents[PATHS.jwksKey].body).keys).toContainEqual(a.jwk);
    expect(bucket.documents[PATHS.jwksKey].body).not.toContain(b.jwk.x);
  });

  it('remembers the binding after the key retired: a kid never comes back with other material', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a, c)]);
    bucket.sync(T0 + 300, [listed(CLUSTER, c)]);
    bucket.sync(T0 + 300 + GRACE, [listed(CLUSTER, c)]);
    expect(bucket.publishedKids()).toEqual(kids(c));
    const plan = bucket.sync(T0 + 600 + GRACE, [listed(CLUSTER, c, underKid(a.jwk.kid, b, 'keys/revenant.jwks'))]);
    expect(plan.kidConflicts).toEqual([{ kid: a.jwk.kid, sources: ['keys/revenant.jwks'], bound: true }]);
    expect(bucket.publishedKids()).toEqual(kids(c));
    // The same material under its own kid comes back normally.
    expect(bucket.sync(T0 + 900 + GRACE, [listed(CLUSTER, a, c)]).addedKids).toEqual([a.jwk.kid]);
  });

  it('publishes neither key when two sources offer one new kid with different material, keeps the last good document and reports both', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CONFIG, c)]);
    const before = structuredClone(bucket.documents);
    const first = { ...a, source: 'https://apiserver/openid/v1/jwks#0' };
    const second = underKid(a.jwk.kid, b, 's3://private/keys/other.jwks');
    for (const observations of [[listed(CLUSTER, first), listed(UPLOADS, second), listed(CONFIG, c)], [listed(UPLOADS, second), listed(CONFIG, c), listed(CLUSTER, first)]]) {
      const plan = bucket.sync(T0 + 300, observations);
      expect(plan.outcome).toBe('unchanged');
      expect(plan.addedKids).toEqual([]);
      expect(bucket.documents).toEqual(before);
      expect(plan.kidConflicts).toEqual([{ kid: a.jwk.kid, sources: ['https://apiserver/openid/v1/jwks#0', 's3://private/keys/other.jwks'], bound: false }]);
      expect(plan.problems.filter((p) => p.code === 'kid_conflict').map((p) => p.source).sort()).toEqual(['https://apiserver/openid/v1/jwks#0', 's3://private/keys/other.jwks']);
    }
  });

  it('accepts the same key offered by several sources, and a PEM whose kid is derived from it', () => {
    const bucket = new Bucket();
    const plan = bucket.sync(T0, [listed(CLUSTER, rsa), listed(UPLOADS, { ...rsa, source: 'keys/sa.pub' })]);
    expect(plan.kidConflicts).toEqual([]);
    expect(plan.publishedKids).toEqual(kids(rsa));
  });
});

describe('documents changed by someone else (issue 12 §3)', () => {
  const foreign = (body: string): StoredDocument => ({ body, contentType: 'application/json', cacheControl: 'public, max-age=300' });

  it('are written back with the sync\'s own version, invalidated and reported as documents_tampered', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a)]);
    const ours = structuredClone(bucket.documents);
    const intruderJwks = serializeJwks(buildJwks([b.jwk]));
    bucket.documents[PATHS.jwksKey] = foreign(intruderJwks);
    delete bucket.documents[PATHS.jwksAliasKey];

    const plan = bucket.sync(T0 + 300, [listed(CLUSTER, a)]);
    expect(plan.tamperedDocuments).toEqual([PATHS.jwksKey, PATHS.jwksAliasKey].sort());
    expect(plan.problems.filter((p) => p.code === 'documents_tampered').map((p) => p.source).sort()).toEqual([PATHS.jwksKey, PATHS.jwksAliasKey].sort());
    expect(bucket.documents).toEqual(ours);
    expect(plan.invalidationPaths).toEqual([JWKS_PATH, JWKS_ALIAS_PATH]);
    // Restored and recorded: the next run is quiet.
    const next = bucket.sync(T0 + 600, [listed(CLUSTER, a)]);
    expect(next.tamperedDocuments).toEqual([]);
    expect(next.writes).toEqual([]);
  });

  it('are written back even in a run that publishes nothing new (every source down)', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a)]);
    const ours = structuredClone(bucket.documents);
    bucket.documents[PATHS.discoveryKey] = foreign('{"issuer":"https://evil.example"}');
    const plan = bucket.sync(T0 + 300, [down(CLUSTER)]);
    expect(plan.outcome).toBe('failed');
    expect(plan.tamperedDocuments).toEqual([PATHS.discoveryKey]);
    expect(plan.writes.map((write) => write.key)).toEqual([PATHS.discoveryKey]);
    expect(plan.invalidationPaths).toEqual([DISCOVERY_PATH]);
    expect(bucket.documents).toEqual(ours);
  });

  it('are not reported when the sync itself wrote them in a run whose state was not saved', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(CLUSTER, a)]);
    const stateBefore = bucket.state;
    bucket.sync(T0 + 300, [listed(CLUSTER, a, c)]);
    bucket.state = stateBefore; // the run wrote the documents, then died before saving its state
    const plan = bucket.sync(T0 + 600, [listed(CLUSTER, a, c)]);
    expect(plan.tamperedDocuments).toEqual([]);
    expect(plan.problems).toEqual([]);
  });
});

describe('the size of the published key set (issue 12 §5)', () => {
  const manyEcKeys = (count: number): ParsedKey[] => Array.from({ length: count }, (_, i) => underKid(`ec-${String(i).padStart(3, '0')}`, a, `keys/${i}.jwk`));

  it('publishes up to 100 keys of one type', () => {
    const plan = new Bucket().sync(T0, [listed(UPLOADS, ...manyEcKeys(100))]);
    expect(plan.outcome).toBe('published');
    expect(plan.publishedKids).toHaveLength(100);
  });

  it('refuses a JWKS over AWS IAM\'s 100 keys per type with too_many_keys, keeping the last good document', () => {
    const bucket = new Bucket();
    bucket.sync(T0, [listed(UPLOADS, a)]);
    const before = structuredClone(bucket.documents);
    const plan = bucket.sync(T0 + 300, [listed(UPLOADS, a, ...manyEcKeys(100))]);
    expect(plan.outcome).toBe('failed');
    expect(plan.failureReason).toMatch(/101 EC keys.*at most 100 RSA and 100 EC keys/);
    expect(plan.problems).toContainEqual(expect.objectContaining({ code: 'too_many_keys' }));
    expect(plan.writes).toEqual([]);
    expect(bucket.documents).toEqual(before);
  });

  it('counts kid-less duplicates, which are keys of the set too', () => {
    const plan = new Bucket().sync(T0, [listed(UPLOADS, ...manyEcKeys(51))], { includeKidlessDuplicates: true });
    expect(plan.outcome).toBe('failed');
    expect(plan.failureReason).toMatch(/102 EC keys/);
  });
});

describe('the /.well-known/jwks.json copy (issue 13)', () => {
  it('holds the same bytes and headers as the JWKS, and is written before the discovery document', () => {
    const bucket = new Bucket();
    const plan = bucket.sync(T0, [listed(CLUSTER, a, rsa)]);
    expect(bucket.documents[PATHS.jwksAliasKey]).toEqual(bucket.documents[PATHS.jwksKey]);
    const order = plan.writes.map((write) => write.key);
    expect(order.indexOf(PATHS.jwksAliasKey)).toBeLessThan(order.indexOf(PATHS.discoveryKey));
  });
});
