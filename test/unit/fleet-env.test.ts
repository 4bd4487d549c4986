/** The fleet verifier's TRUSTED_ISSUERS variable: accepted shapes and clear errors naming the entry. */
import { trustedIssuersEnv } from '../../lambda/env';

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
