/** The fleet verifier's TRUSTED_ISSUERS variable: accepted shapes and clear errors naming the entry. */
import fc from 'fast-check';
import { isValidTrustedIssuerEntry, trustedIssuerEntry, trustedIssuerPolicy, trustedIssuersEnv } from '../../lambda/env';

const parse = (value: unknown) => trustedIssuersEnv('TRUSTED_ISSUERS', { TRUSTED_ISSUERS: typeof value === 'string' ? value : JSON.stringify(value) });

it('is undefined when unset, so the single-cluster variables apply', () => {
  expect(trustedIssuersEnv('TRUSTED_ISSUERS', {})).toBeUndefined();
});

it('accepts each key source with its options', () => {
  const entries = [
    { issuer: 'https://oidc.example.com/alpha', cluster: 'alpha', documentsBucket: 'docs', privateBucket: 'private', denyListKey: 'control/deny-list.json', staleWindowSeconds: 300 },
    { issuer: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABC', discovery: true, allowedAudiences: ['api.example'] },
    { issuer: 'https://issuer.example', jwksUrl: 'https://keys.example/jwks', caBundle: '-----BEGIN CERTIFICATE-----', kidlessCompat: true },
  ];
  expect(parse(entries)).toEqual(entries);
});

it.each([
  ['not JSON', '[', 'is not JSON'],
  ['an empty list', [], 'non-empty JSON array'],
  ['no issuer', [{ discovery: true }], 'TRUSTED_ISSUERS[0]: issuer is required'],
  ['an issuer that is not a URL', [{ issuer: 'oidc.example.com/alpha', discovery: true }], 'issuer must be an absolute http(s) URL'],
  ['no key source', [{ issuer: 'https://a.example' }], 'TRUSTED_ISSUERS[0] ("https://a.example"): give exactly one key source'],
  ['two key sources', [{ issuer: 'https://a.example', discovery: true, jwksUrl: 'https://a.example/k' }], 'got discovery, jwksUrl'],
  ['a misspelt member', [{ issuer: 'https://a.example', discovery: true, allowedAudience: ['x'] }], 'unknown member "allowedAudience"'],
  ['discovery: false', [{ issuer: 'https://a.example', discovery: false }], 'discovery must be true'],
  ['jwksKey without a bucket', [{ issuer: 'https://a.example', discovery: true, jwksKey: 'k' }], 'jwksKey needs documentsBucket'],
  ['denyListKey without a bucket', [{ issuer: 'https://a.example', discovery: true, denyListKey: 'k' }], 'denyListKey needs privateBucket'],
  ['a negative window', [{ issuer: 'https://a.example', discovery: true, staleWindowSeconds: -1 }], 'staleWindowSeconds must be a whole number'],
  ['audiences that are not strings', [{ issuer: 'https://a.example', discovery: true, allowedAudiences: [1] }], 'allowedAudiences must be a list'],
])('refuses %s', (_label, value, message) => {
  expect(() => parse(value)).toThrow(message);
});

describe('the quick check of valid entries', () => {
  // Each cold start of a fleet verifier passes every entry through isValidTrustedIssuerEntry and
  // only a refused one through the full check; the two must agree on every entry, or a quick
  // "valid" would let through what the full check refuses.
  const values = fc.constantFrom<unknown>(
    'https://oidc.example.com/a', 'http://127.0.0.1:8080/x', 'https://a.example/p?q=1', 'oidc.example.com', '', 'k',
    true, false, 0, 7, -1, 1.5, null, [], ['api.example'], ['', 'x'], [1], {},
  );
  const members = ['issuer', 'cluster', 'documentsBucket', 'jwksKey', 'discovery', 'jwksUrl', 'caBundle', 'privateBucket', 'denyListKey',
    'allowedAudiences', 'defaultAudiences', 'clockSkewSeconds', 'maxTokenLifetimeSeconds', 'kidlessCompat', 'keysTtlSeconds',
    'unknownKidCooldownSeconds', 'staleWindowSeconds', 'allowedAudience', '__proto__'];
  // Entries near validity: an issuer URL and one key source most of the time, then random members.
  const entries = fc.tuple(
    fc.boolean(), fc.constantFrom<Record<string, unknown>>({ documentsBucket: 'docs' }, { discovery: true }, { jwksUrl: 'https://k.example/jwks' }, {}),
    fc.dictionary(fc.constantFrom(...members), values, { maxKeys: 4 }),
  ).map(([withIssuer, source, extra]) => JSON.parse(JSON.stringify({ ...(withIssuer ? { issuer: 'https://oidc.example.com/c' } : {}), ...source, ...extra })) as unknown);
  const fullCheckAccepts = (entry: unknown) => {
    try {
      trustedIssuerEntry(entry, 'entry');
      return true;
    } catch {
      return false;
    }
  };

  it('accepts exactly the entries the full check accepts', () => {
    fc.assert(fc.property(fc.oneof(entries, values), (entry) => isValidTrustedIssuerEntry(entry) === fullCheckAccepts(entry)), { numRuns: 3000 });
  });

  it('leaves the naming of a fault to the full check, entry by entry', () => {
    const good = { issuer: 'https://a.example', discovery: true };
    expect(() => parse([good, good, { issuer: 'https://b.example', discovery: true, clockSkewSeconds: 1.5 }])).toThrow('TRUSTED_ISSUERS[2] ("https://b.example"): clockSkewSeconds must be a whole number');
    expect(() => parse([good, { issuer: 'https://c.example', jwksUrl: 'https://c.example/k', documentsBucket: 'd' }, { bad: 1 }])).toThrow('TRUSTED_ISSUERS[1] ("https://c.example"): give exactly one key source');
  });
});

describe('an entry\'s policy', () => {
  const globals = { allowedAudiences: ['global.example'], defaultAudiences: ['global.example'], clockSkewSeconds: 60, maxTokenLifetimeSeconds: undefined, maxTokenBytes: 16_384, kidlessCompat: false };

  it('takes the global variables where the entry gives nothing', () => {
    expect(trustedIssuerPolicy({ issuer: 'https://a.example', discovery: true }, globals)).toEqual({ issuer: 'https://a.example', ...globals });
  });

  it('takes each member the entry gives, and own allowed audiences bring their own default', () => {
    const entry = { issuer: 'https://a.example', discovery: true as const, allowedAudiences: ['a1', 'a2'], clockSkewSeconds: 5, maxTokenLifetimeSeconds: 3600, kidlessCompat: true };
    expect(trustedIssuerPolicy(entry, globals)).toEqual({ issuer: 'https://a.example', allowedAudiences: ['a1', 'a2'], defaultAudiences: ['a1', 'a2'], clockSkewSeconds: 5, maxTokenLifetimeSeconds: 3600, maxTokenBytes: 16_384, kidlessCompat: true });
    expect(trustedIssuerPolicy({ ...entry, defaultAudiences: ['a2'] }, globals).defaultAudiences).toEqual(['a2']);
  });

  it('keeps the global allowed audiences when the entry names only its default', () => {
    const policy = trustedIssuerPolicy({ issuer: 'https://a.example', discovery: true, defaultAudiences: ['global.example'] }, { ...globals, allowedAudiences: ['global.example', 'other.example'] });
    expect(policy.allowedAudiences).toEqual(['global.example', 'other.example']);
    expect(policy.defaultAudiences).toEqual(['global.example']);
  });

  it('keeps false and zero given by the entry over the globals', () => {
    const policy = trustedIssuerPolicy({ issuer: 'https://a.example', discovery: true, clockSkewSeconds: 0, kidlessCompat: false }, { ...globals, clockSkewSeconds: 60, kidlessCompat: true });
    expect(policy).toMatchObject({ clockSkewSeconds: 0, kidlessCompat: false });
  });
});
