/**
 * The fleet verifier's key caches behind the Verify API: lazy per-issuer loading (a cold start
 * reads only the keys of issuers whose tokens arrive), no fetch for an unknown issuer, one
 * issuer's outage (503 for its tokens only, after its own stale window), and the answers'
 * shapes on /verify, TokenReview and /auth.
 */
import { handleVerifyRequest, type ApiRequest, type KeySetProvider, type VerifyApiDeps } from '../../core/verify-api';
import { createVerifier } from '../../core/verifier';
import { addDenyEntry, emptyDenyList, serializeDenyList } from '../../core/deny-list';
import { createIssuerKeyCaches, type TrustedIssuerSource } from '../../runtime/issuer-key-caches';
import { FIXTURE_NOW, kubeClaims, kubeToken, newTestKey, type TestKey } from '../support/tokens';

const AUDIENCE = 'api.payments.internal';
const issuerUrl = (index: number) => `https://oidc.example.com/clusters/c${index}`;

interface FakeIssuer {
  readonly issuer: string;
  readonly key: TestKey;
  fetches: number;
  denyFetches: number;
  down: boolean;
  denyList?: string;
}

function fakeFleet(count: number, timing: { staleWindowSeconds?: (index: number) => number } = {}) {
  let clockMs = FIXTURE_NOW * 1000;
  // One key shared by all issuers would hide cross-issuer mistakes: each gets its own.
  const key = newTestKey('ES256');
  const issuers: FakeIssuer[] = Array.from({ length: count }, (_, index) => ({ issuer: issuerUrl(index), key: index < 3 ? newTestKey('ES256') : key, fetches: 0, denyFetches: 0, down: false }));
  const events: { issuer: string; ok: boolean; reason: string }[] = [];
  const sources: TrustedIssuerSource[] = issuers.map((fake, index) => ({
    cluster: `c${index}`,
    policy: { issuer: fake.issuer, allowedAudiences: [AUDIENCE] },
    loadJwks: async () => {
      fake.fetches += 1;
      if (fake.down) throw new Error('store unreachable');
      return JSON.stringify({ keys: [fake.key.jwk] });
    },
    loadDenyList: async () => {
      fake.denyFetches += 1;
      if (fake.down) throw new Error('store unreachable');
      return fake.denyList;
    },
    ttlSeconds: 60,
    unknownKidCooldownSeconds: 30,
    staleWindowSeconds: timing.staleWindowSeconds?.(index) ?? 900,
  }));
  const keys = createIssuerKeyCaches(sources, { nowMs: () => clockMs, onFetch: (event) => events.push(event) });
  const lines: Record<string, unknown>[] = [];
  const deps: VerifyApiDeps = { keys, now: () => clockMs / 1000, authAudiences: [AUDIENCE], log: (line) => lines.push(line) };
  const tokenOf = (index: number, claims: Parameters<typeof kubeClaims>[0] = {}) => kubeToken(issuers[index].key, kubeClaims({ issuer: issuers[index].issuer, audiences: [AUDIENCE], iat: Math.floor(clockMs / 1000) - 10, ...claims }));
  const call = async (request: Partial<ApiRequest>) => {
    const response = await handleVerifyRequest({ method: 'POST', path: '/verify', headers: {}, query: {}, ...request }, deps);
    return { ...response, json: JSON.parse(response.body) as Record<string, any> };
  };
  const verify = (token: string) => call({ body: JSON.stringify({ token }) });
  return { issuers, keys, events, lines, tokenOf, call, verify, advance: (seconds: number) => { clockMs += seconds * 1000; } };
}

describe('lazy loading', () => {
  it('a cold start with 100 trusted issuers fetches only the keys of the issuers whose tokens arrive', async () => {
    const fleet = fakeFleet(100);
    expect(fleet.issuers.every((fake) => fake.fetches === 0)).toBe(true);
    expect((await fleet.verify(fleet.tokenOf(7))).json).toMatchObject({ authenticated: true, issuer: issuerUrl(7), cluster: 'c7' });
    expect((await fleet.verify(fleet.tokenOf(42))).json).toMatchObject({ authenticated: true, issuer: issuerUrl(42), cluster: 'c42' });
    expect((await fleet.verify(fleet.tokenOf(7))).json.authenticated).toBe(true);
    const fetched = fleet.issuers.filter((fake) => fake.fetches > 0).map((fake) => fake.issuer);
    expect(fetched).toEqual([issuerUrl(7), issuerUrl(42)]);
    expect(fleet.issuers[7].fetches).toBe(1);
    expect(fleet.issuers[7].denyFetches).toBe(1);
  });

  it('refuses a token of an unconfigured issuer with unknown_issuer and fetches nothing', async () => {
    const fleet = fakeFleet(5);
    for (let i = 0; i < 50; i += 1) {
      const stranger = kubeToken(fleet.issuers[0].key, kubeClaims({ issuer: `https://attacker.example/${i}`, audiences: [AUDIENCE] }));
      const answer = await fleet.verify(stranger);
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ authenticated: false, reason: 'unknown_issuer', message: expect.stringContaining(`https://attacker.example/${i}`) });
    }
    expect(fleet.issuers.reduce((sum, fake) => sum + fake.fetches + fake.denyFetches, 0)).toBe(0);
    expect(fleet.events).toEqual([]);
  });

  it('refetches only the issuer whose token named an unknown kid, once per its cooldown', async () => {
    const fleet = fakeFleet(3);
    await fleet.verify(fleet.tokenOf(0));
    await fleet.verify(fleet.tokenOf(1));
    const stranger = newTestKey('ES256');
    for (let i = 0; i < 20; i += 1) {
      const answer = await fleet.verify(kubeToken(stranger, kubeClaims({ issuer: issuerUrl(0), audiences: [AUDIENCE] })));
      expect(answer.json.reason).toBe('unknown_kid');
    }
    expect(fleet.issuers.map((fake) => fake.fetches)).toEqual([2, 1, 0]);
  });
});

describe('one issuer down', () => {
  it('answers 503 for its tokens only once its stale window has passed, while the others keep working', async () => {
    // Issuer 0 has a 120 s stale window, issuer 1 the default 900 s.
    const fleet = fakeFleet(3, { staleWindowSeconds: (index) => (index === 0 ? 120 : 900) });
    for (const index of [0, 1, 2]) expect((await fleet.verify(fleet.tokenOf(index))).status).toBe(200);
    fleet.issuers[0].down = true;
    fleet.issuers[1].down = true;

    fleet.advance(100); // past the TTL, inside both stale windows: the last good sets serve.
    expect((await fleet.verify(fleet.tokenOf(0))).json.authenticated).toBe(true);
    expect((await fleet.verify(fleet.tokenOf(1))).json.authenticated).toBe(true);

    fleet.advance(100); // 200 s: past issuer 0's window only.
    const down = await fleet.verify(fleet.tokenOf(0));
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.json).toEqual({ error: 'unavailable', message: expect.stringContaining('no usable key set') });
    expect((await fleet.verify(fleet.tokenOf(1))).json).toMatchObject({ authenticated: true, issuer: issuerUrl(1) });
    expect((await fleet.verify(fleet.tokenOf(2))).json).toMatchObject({ authenticated: true, issuer: issuerUrl(2) });

    fleet.advance(800); // past issuer 1's window too; issuer 2 (up) is unaffected.
    expect((await fleet.verify(fleet.tokenOf(1))).status).toBe(503);
    expect((await fleet.verify(fleet.tokenOf(2))).status).toBe(200);

    fleet.issuers[0].down = false;
    fleet.advance(31); // a cooldown later the store is read again.
    expect((await fleet.verify(fleet.tokenOf(0))).json.authenticated).toBe(true);
    expect(fleet.events.filter((event) => !event.ok).every((event) => event.issuer !== issuerUrl(2))).toBe(true);
  });

  it('an issuer whose first load fails answers 503 while another, never loaded, still loads and answers', async () => {
    const fleet = fakeFleet(2);
    fleet.issuers[0].down = true;
    expect((await fleet.verify(fleet.tokenOf(0))).status).toBe(503);
    expect((await fleet.verify(fleet.tokenOf(1))).status).toBe(200);
  });

  it('reads each issuer\'s own deny list', async () => {
    const fleet = fakeFleet(2);
    fleet.issuers[1].denyList = serializeDenyList(addDenyEntry(emptyDenyList(), 'serviceAccount', 'payments/api', { at: FIXTURE_NOW }));
    expect((await fleet.verify(fleet.tokenOf(0))).json.authenticated).toBe(true);
    expect((await fleet.verify(fleet.tokenOf(1))).json).toMatchObject({ authenticated: false, reason: 'revoked' });
  });
});

describe('answers name the issuer and cluster', () => {
  it('/verify gives issuer and cluster next to the Kubernetes username', async () => {
    const fleet = fakeFleet(2);
    const answer = await fleet.verify(fleet.tokenOf(1));
    expect(answer.json).toMatchObject({
      authenticated: true,
      issuer: issuerUrl(1),
      cluster: 'c1',
      namespace: 'payments',
      serviceAccount: 'api',
      user: { username: 'system:serviceaccount:payments:api' },
    });
    expect(fleet.lines.at(-1)).toMatchObject({ verdict: 'authenticated', iss: issuerUrl(1), cluster: 'c1' });
  });

  it('TokenReview puts them in user.extra under this project\'s keys', async () => {
    const fleet = fakeFleet(2);
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: fleet.tokenOf(0) } });
    const answer = await fleet.call({ path: '/apis/authentication.k8s.io/v1/tokenreviews', body });
    expect(answer.json.status.user).toEqual({
      username: 'system:serviceaccount:payments:api',
      uid: expect.any(String),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:payments', 'system:authenticated'],
      extra: expect.objectContaining({
        'authentication.kubernetes.io/pod-name': ['api-7d9c5-x2x4z'],
        'kube-oidc-aws.io/issuer': [issuerUrl(0)],
        'kube-oidc-aws.io/cluster': ['c0'],
      }),
    });
  });

  it('/auth adds them as identity headers', async () => {
    const fleet = fakeFleet(2);
    const answer = await fleet.call({ method: 'GET', path: '/auth', headers: { authorization: `Bearer ${fleet.tokenOf(1)}` } });
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({ 'x-auth-request-issuer': issuerUrl(1), 'x-auth-request-cluster': 'c1', 'x-auth-request-user': 'system:serviceaccount:payments:api' });
    const refused = await fleet.call({ method: 'GET', path: '/auth', headers: { authorization: `Bearer ${kubeToken(fleet.issuers[0].key, kubeClaims({ issuer: 'https://elsewhere.example', audiences: [AUDIENCE] }))}` } });
    expect(refused.status).toBe(401);
    expect(refused.json.reason).toBe('unknown_issuer');
    expect(refused.headers['x-auth-request-issuer']).toBeUndefined();
  });

  it('a single-issuer verifier answers in the same shape (cluster only when configured)', async () => {
    const key = newTestKey('ES256');
    const issuer = issuerUrl(9);
    const verifier = createVerifier({ keys: [key.jwk] }, { issuer, allowedAudiences: [AUDIENCE] });
    const single: KeySetProvider = { current: async () => verifier, refreshForUnknownKid: async () => undefined };
    const token = kubeToken(key, kubeClaims({ issuer, audiences: [AUDIENCE] }));
    const ask = (deps: Partial<VerifyApiDeps>, request: Partial<ApiRequest>) =>
      handleVerifyRequest({ method: 'POST', path: '/verify', headers: {}, query: {}, ...request }, { keys: single, now: () => FIXTURE_NOW, authAudiences: [AUDIENCE], ...deps });
    const bare = JSON.parse((await ask({}, { body: JSON.stringify({ token }) })).body);
    expect(bare).toMatchObject({ authenticated: true, issuer });
    expect('cluster' in bare).toBe(false);
    expect(JSON.parse((await ask({ cluster: 'solo' }, { body: JSON.stringify({ token }) })).body)).toMatchObject({ issuer, cluster: 'solo' });
    const auth = await ask({ cluster: 'solo' }, { method: 'GET', path: '/auth', headers: { authorization: `Bearer ${token}` } });
    expect(auth.headers).toMatchObject({ 'x-auth-request-issuer': issuer, 'x-auth-request-cluster': 'solo' });
  });
});

describe('configuration', () => {
  it('names the issuer of an invalid policy at start', () => {
    const source = (issuer: string, allowedAudiences: string[]): TrustedIssuerSource => ({ policy: { issuer, allowedAudiences }, loadJwks: async () => undefined, loadDenyList: async () => undefined });
    expect(() => createIssuerKeyCaches([source(issuerUrl(0), [AUDIENCE]), source(issuerUrl(1), [])], { nowMs: () => 0 })).toThrow(`trusted issuer "${issuerUrl(1)}": verifier policy: allowedAudiences`);
    expect(() => createIssuerKeyCaches([source(issuerUrl(0), [AUDIENCE]), source(issuerUrl(0), [AUDIENCE])], { nowMs: () => 0 })).toThrow(/configured twice/);
  });
});

describe('per-issuer caches built on first use', () => {
  it('gives each configured issuer one cache for good, fetching nothing until a token names it', async () => {
    const fleet = fakeFleet(3);
    const first = fleet.keys.cacheOf(issuerUrl(1));
    expect(first).toBeDefined();
    expect(first?.ageMs()).toBeUndefined();
    expect(fleet.keys.cacheOf(`${issuerUrl(1)}/`)).toBeUndefined();
    expect(await fleet.verify(fleet.tokenOf(1))).toMatchObject({ status: 200, json: { authenticated: true } });
    // The cache the token loaded is the one handed out before: one per issuer, never replaced.
    expect(fleet.keys.cacheOf(issuerUrl(1))).toBe(first);
    expect(first?.ageMs()).toBe(0);
    expect(fleet.events).toEqual([{ issuer: issuerUrl(1), cluster: 'c1', ok: true, reason: 'initial' }]);
    expect(fleet.issuers.map((fake) => fake.fetches)).toEqual([0, 1, 0]);
  });
});
