/** The verifier's key cache, with an injected clock and loaders: TTL, cooldown, single flight, stale window. */
import { generateKeyPairSync } from 'node:crypto';
import { jwkFromPublicKey } from '../../core/keys';
import { KeyCache, KeyCacheOptions } from '../../runtime/key-cache';

const jwks = (count: number) => JSON.stringify({ keys: Array.from({ length: count }, () => jwkFromPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)) });
const policy = { issuer: 'https://oidc.example.com', allowedAudiences: ['aud'] };

function cache(overrides: Partial<KeyCacheOptions> & { jwksText?: () => Promise<string | undefined> } = {}) {
  let clock = 1_000_000;
  let fetches = 0;
  const text = jwks(1);
  const keys = new KeyCache({
    loadJwks: async () => { fetches += 1; return (overrides.jwksText ?? (async () => text))(); },
    loadDenyList: async () => undefined,
    policy,
    nowMs: () => clock,
    ttlSeconds: 60,
    unknownKidCooldownSeconds: 30,
    staleWindowSeconds: 900,
    ...overrides,
  });
  return { keys, advance: (ms: number) => { clock += ms; }, fetches: () => fetches };
}

it('makes concurrent first requests wait for the one initial fetch instead of answering "no key set"', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const text = jwks(1);
  const { keys, fetches } = cache({ jwksText: async () => { await gate; return text; } });
  const waiting = Array.from({ length: 20 }, () => keys.current());
  release();
  const verifiers = await Promise.all(waiting);
  expect(verifiers.every((v) => v !== undefined)).toBe(true);
  expect(fetches()).toBe(1);
});

it('refreshes after the TTL, not before', async () => {
  const { keys, advance, fetches } = cache();
  await keys.current();
  advance(59_000);
  await keys.current();
  expect(fetches()).toBe(1);
  advance(1_000);
  await keys.current();
  expect(fetches()).toBe(2);
});

it('refetches for unknown kids at most once per cooldown, however many arrive', async () => {
  const { keys, advance, fetches } = cache();
  await keys.current();
  const results = [];
  for (let i = 0; i < 10_000; i += 1) results.push(await keys.refreshForUnknownKid(`kid-${i}`));
  expect(fetches()).toBe(2);
  expect(results.filter((r) => r !== undefined)).toHaveLength(1);
  advance(30_000);
  await keys.refreshForUnknownKid('another');
  expect(fetches()).toBe(3);
});

it('serves the last good set through a store outage for the stale window, then nothing, and recovers', async () => {
  let down = false;
  const text = jwks(1);
  const { keys, advance, fetches } = cache({ jwksText: async () => { if (down) throw new Error('connect ECONNREFUSED'); return text; } });
  const good = await keys.current();
  expect(good).toBeDefined();
  down = true;
  advance(61_000);
  expect(await keys.current()).toBe(good);
  const afterFirstFailure = fetches();
  await keys.current();
  expect(fetches()).toBe(afterFirstFailure); // no hammering within the cooldown
  advance(900_000);
  expect(await keys.current()).toBeUndefined();
  down = false;
  advance(30_000);
  expect(await keys.current()).toBeDefined();
});

it('never installs a key set whose deny list could not be read', async () => {
  let denyBroken = false;
  const { keys, advance } = cache({ loadDenyList: async () => (denyBroken ? '{not json' : undefined) });
  const good = await keys.current();
  denyBroken = true;
  advance(61_000);
  expect(await keys.current()).toBe(good);
});
