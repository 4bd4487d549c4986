import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  discoveryUrlFor,
  FetchedResponse,
  FetchOutcome,
  Finding,
  humanSeconds,
  IssuerCheckInput,
  jwksUriFrom,
  runIssuerChecks,
} from '../../core/issuer-checks';
import { issuerUrlProblems } from '../../core/issuer-url';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kube-format');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8').trim();

const ISSUER = 'https://oidc.example.com/cluster-a';
const DISCOVERY_URL = `${ISSUER}/.well-known/openid-configuration`;
const JWKS_URL = `${ISSUER}/openid/v1/jwks`;
const TOKEN_IAT = 1798761600;
const JWKS = JSON.parse(fixture('jwks.json')) as { keys: Record<string, unknown>[] };
const RSA_KID = 'Hc7qjYNLyRyB_udgR7uwmh20HxFPZbbiqUqfFgW1m1c';

const GOOD_HEADERS = { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' };

function ok(url: string, body: string, headers: Record<string, string> = GOOD_HEADERS, status = 200, elapsedMs = 40): FetchOutcome {
  const response: FetchedResponse = { status, headers, body, elapsedMs, url };
  return { ok: true, response };
}

function jwksWith(keys: Record<string, unknown>[]): FetchOutcome {
  return ok(JWKS_URL, JSON.stringify({ keys }));
}

function input(overrides: Partial<IssuerCheckInput> = {}): IssuerCheckInput {
  return {
    issuer: ISSUER,
    allowHttp: false,
    caFileGiven: false,
    discovery: ok(DISCOVERY_URL, fixture('openid-configuration.json')),
    jwks: ok(JWKS_URL, fixture('jwks.json')),
    audience: 'sts.amazonaws.com',
    now: TOKEN_IAT + 60,
    ...overrides,
  };
}

function finding(findings: Finding[], id: string): Finding {
  const found = findings.find((f) => f.id === id);
  if (!found) throw new Error(`no finding ${id} in ${findings.map((f) => f.id).join(', ')}`);
  return found;
}

function failures(findings: Finding[]): string[] {
  return findings.filter((f) => !f.ok).map((f) => f.id);
}

describe('runIssuerChecks on a correct issuer', () => {
  test('kube-apiserver\'s own documents and token pass every check', () => {
    // GIVEN the documents kube-apiserver serves and one of its tokens
    const findings = runIssuerChecks(input({ token: fixture('token-rs256.jwt') }));
    // THEN nothing fails, and every document and token check ran
    expect(failures(findings)).toEqual([]);
    expect(findings.map((f) => f.id)).toEqual([
      'issuer-url', 'https', 'tls-certificate', 'discovery-fetch', 'discovery-content-type', 'discovery-json', 'issuer-match', 'jwks-uri',
      'jwks-fetch', 'jwks-content-type', 'cache-max-age', 'response-time', 'jwks-json', 'jwks-key-private', 'jwks-key-kid', 'jwks-key-alg',
      'jwks-key-use', 'jwks-key-strength', 'signing-algs', 'token-format', 'token-issuer', 'token-audience', 'token-kid', 'token-signature',
      'token-time',
    ]);
    expect(findings.every((f) => f.fix === undefined)).toBe(true);
    expect(finding(findings, 'token-signature').seen).toBe('RS256 signature valid');
  });

  test('the EC token verifies with its P-256 key, and application/jwk-set+json is accepted', () => {
    const findings = runIssuerChecks(input({
      token: fixture('token-es256.jwt'),
      audience: 'api.payments.internal',
      jwks: ok(JWKS_URL, fixture('jwks.json'), { 'content-type': 'application/jwk-set+json' }),
    }));
    expect(failures(findings)).toEqual([]);
    expect(finding(findings, 'token-signature').seen).toBe('ES256 signature valid');
  });
});

describe('runIssuerChecks on a misconfigured issuer', () => {
  test('a discovery "issuer" for another URL fails issuer-match', () => {
    const doc = { ...JSON.parse(fixture('openid-configuration.json')), issuer: 'https://oidc.example.com/cluster-b' };
    const result = finding(runIssuerChecks(input({ discovery: ok(DISCOVERY_URL, JSON.stringify(doc)) })), 'issuer-match');
    expect(result.ok).toBe(false);
    expect(result.seen).toContain('"https://oidc.example.com/cluster-b"');
    expect(result.fix).toContain('exactly');
  });

  test('a trailing slash in the discovery "issuer" is named as such', () => {
    const doc = { ...JSON.parse(fixture('openid-configuration.json')), issuer: `${ISSUER}/` };
    const result = finding(runIssuerChecks(input({ discovery: ok(DISCOVERY_URL, JSON.stringify(doc)) })), 'issuer-match');
    expect(result.ok).toBe(false);
    expect(result.seen).toContain('differ only by a trailing slash');
    expect(result.fix).toContain('remove the trailing slash');
  });

  test('a trailing slash in the issuer URL itself fails issuer-url', () => {
    const result = finding(runIssuerChecks(input({ issuer: `${ISSUER}/` })), 'issuer-url');
    expect(result.ok).toBe(false);
    expect(result.seen).toBe(`${ISSUER}/: ends with a slash`);
    expect(result.fix).toContain(`remove the trailing slash (${JSON.stringify(ISSUER)})`);
  });

  test('a redirecting jwks_uri fails jwks-fetch and nothing is concluded about keys', () => {
    const findings = runIssuerChecks(input({ jwks: ok(JWKS_URL, '', { location: 'https://bucket.s3.amazonaws.com/jwks' }, 301) }));
    const result = finding(findings, 'jwks-fetch');
    expect(result.ok).toBe(false);
    expect(result.seen).toContain('HTTP 301 redirecting to https://bucket.s3.amazonaws.com/jwks');
    expect(result.fix).toContain('do not follow redirects');
    expect(findings.some((f) => f.id.startsWith('jwks-key-'))).toBe(false);
  });

  test('a key without kid fails jwks-key-kid', () => {
    const { kid: _dropped, ...kidless } = JWKS.keys[0];
    const result = finding(runIssuerChecks(input({ jwks: jwksWith([kidless, JWKS.keys[1]]) })), 'jwks-key-kid');
    expect(result.ok).toBe(false);
    expect(result.seen).toBe('key #0 has no kid');
    expect(result.fix).toContain('kid');
  });

  test('an empty kid is accepted only as a duplicate of a key published under its real kid', () => {
    const duplicate = { ...JWKS.keys[0], kid: '' };
    expect(finding(runIssuerChecks(input({ jwks: jwksWith([...JWKS.keys, duplicate]) })), 'jwks-key-kid').ok).toBe(true);
    const alone = finding(runIssuerChecks(input({ jwks: jwksWith([duplicate, JWKS.keys[1]]) })), 'jwks-key-kid');
    expect(alone.ok).toBe(false);
    expect(alone.seen).toContain('empty kid');
  });

  test('the same kid on two different keys fails jwks-key-kid', () => {
    const clash = { ...JWKS.keys[1], kid: RSA_KID };
    const result = finding(runIssuerChecks(input({ jwks: jwksWith([JWKS.keys[0], clash]) })), 'jwks-key-kid');
    expect(result.ok).toBe(false);
    expect(result.seen).toContain('names two different keys');
  });

  test('private members in a key fail jwks-key-private without echoing their values', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'leaked', alg: 'RS256', use: 'sig' } as Record<string, unknown>;
    const result = finding(runIssuerChecks(input({ jwks: jwksWith([privateJwk]) })), 'jwks-key-private');
    expect(result.ok).toBe(false);
    expect(result.seen).toBe('key "leaked" carries private members d, p, q, dp, dq, qi');
    expect(result.fix).toContain('rotate the key');
    expect(JSON.stringify(result)).not.toContain(privateJwk.d as string);
  });

  test('binary/octet-stream fails jwks-content-type', () => {
    const result = finding(runIssuerChecks(input({ jwks: ok(JWKS_URL, fixture('jwks.json'), { 'content-type': 'binary/octet-stream' }) })), 'jwks-content-type');
    expect(result.ok).toBe(false);
    expect(result.seen).toBe('Content-Type: binary/octet-stream');
    expect(result.fix).toContain('application/json');
  });

  test('a week-long max-age fails cache-max-age; s-maxage counts too', () => {
    const week = finding(runIssuerChecks(input({ jwks: ok(JWKS_URL, fixture('jwks.json'), { 'content-type': 'application/json', 'cache-control': 'public, max-age=604800' }) })), 'cache-max-age');
    expect(week.ok).toBe(false);
    expect(week.seen).toContain('JWKS: max-age=604800 (7d)');
    const shared = finding(runIssuerChecks(input({ jwks: ok(JWKS_URL, fixture('jwks.json'), { 'content-type': 'application/json', 'cache-control': 'max-age=60, s-maxage=86400' }) })), 'cache-max-age');
    expect(shared.ok).toBe(false);
    const none = finding(runIssuerChecks(input({ jwks: ok(JWKS_URL, fixture('jwks.json'), { 'content-type': 'application/json' }) })), 'cache-max-age');
    expect(none.ok).toBe(true);
  });

  test('a token whose kid is not published fails token-kid with the STS message', () => {
    const findings = runIssuerChecks(input({ token: fixture('token-rs256.jwt'), jwks: jwksWith([JWKS.keys[1]]) }));
    const result = finding(findings, 'token-kid');
    expect(result.ok).toBe(false);
    expect(result.seen).toContain(`token kid "${RSA_KID}" is not in the published JWKS`);
    expect(result.fix).toContain('Couldn\'t retrieve verification key');
    expect(findings.some((f) => f.id === 'token-signature')).toBe(false);
  });

  test('a different key published under the token\'s kid fails token-signature', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const impostor = { ...publicKey.export({ format: 'jwk' }), kid: RSA_KID, alg: 'RS256', use: 'sig' };
    const result = finding(runIssuerChecks(input({ token: fixture('token-rs256.jwt'), jwks: jwksWith([impostor, JWKS.keys[1]]) })), 'token-signature');
    expect(result.ok).toBe(false);
  });

  test('token iss, aud and expiry are each checked', () => {
    const findings = runIssuerChecks(input({
      issuer: 'https://oidc.example.com/cluster-b',
      token: fixture('token-rs256.jwt'),
      audience: 'sts.amazon.com',
      now: TOKEN_IAT + 7200,
    }));
    expect(finding(findings, 'token-issuer').seen).toContain('"https://oidc.example.com/cluster-a"');
    expect(finding(findings, 'token-audience')).toMatchObject({ ok: false, seen: 'aud [sts.amazonaws.com]' });
    expect(finding(findings, 'token-time')).toMatchObject({ ok: false, seen: 'expired 1h ago (exp 2027-01-01T01:00:00.000Z)' });
  });

  test('something that is not a JWT fails token-format and is not echoed', () => {
    const result = finding(runIssuerChecks(input({ token: 'not-a-token-secret' })), 'token-format');
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain('not-a-token-secret');
  });

  test('advertised algorithms must equal the keys\' algorithms', () => {
    const doc = { ...JSON.parse(fixture('openid-configuration.json')), id_token_signing_alg_values_supported: ['RS256'] };
    const result = finding(runIssuerChecks(input({ discovery: ok(DISCOVERY_URL, JSON.stringify(doc)) })), 'signing-algs');
    expect(result).toMatchObject({ ok: false, seen: 'advertised [RS256], keys sign [ES256, RS256]' });
  });

  test('a key with no alg, or the wrong one, fails jwks-key-alg', () => {
    const { alg: _dropped, ...noAlg } = JWKS.keys[0];
    const wrongAlg = { ...JWKS.keys[1], alg: 'RS256' };
    const result = finding(runIssuerChecks(input({ jwks: jwksWith([noAlg, wrongAlg]) })), 'jwks-key-alg');
    expect(result.ok).toBe(false);
    expect(result.seen).toBe(`key "${RSA_KID}" has no alg (should be RS256); key "-EnXQvJzcfC5u5uOCjqgV8KCf5lBbj2EdIpgtFeUHE0" has alg RS256 but its key type signs ES256`);
  });

  test('RSA-1024 and malformed keys fail jwks-key-strength; an encryption key fails jwks-key-use', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak = { ...publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256', use: 'sig' };
    const broken = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'broken', alg: 'ES256', use: 'enc' };
    const findings = runIssuerChecks(input({ jwks: jwksWith([weak, broken]) }));
    const strength = finding(findings, 'jwks-key-strength');
    expect(strength.ok).toBe(false);
    expect(strength.seen).toContain('key "weak" is RSA-1024');
    expect(strength.seen).toContain('key "broken" is not a usable EC key');
    expect(finding(findings, 'jwks-key-use')).toMatchObject({ ok: false, seen: 'key "broken" has use "enc"' });
  });

  test('an empty key set fails jwks-json', () => {
    expect(finding(runIssuerChecks(input({ jwks: jwksWith([]) })), 'jwks-json')).toMatchObject({ ok: false, seen: 'the key set is empty' });
  });

  test('an unreadable discovery document stops the checks that depend on it', () => {
    const findings = runIssuerChecks(input({ discovery: ok(DISCOVERY_URL, '<Error>AccessDenied</Error>', { 'content-type': 'application/xml' }, 403), jwks: undefined }));
    expect(finding(findings, 'discovery-fetch')).toMatchObject({ ok: false, seen: `GET ${DISCOVERY_URL} answered HTTP 403` });
    expect(findings.some((f) => f.id === 'issuer-match' || f.id === 'jwks-fetch')).toBe(false);
  });
});

describe('transport findings', () => {
  test('an untrusted certificate fails tls-certificate, with advice that depends on --ca-file', () => {
    const tlsError: FetchOutcome = { ok: false, url: DISCOVERY_URL, errorCode: 'tls', message: `${DISCOVERY_URL}: TLS failure: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)` };
    const withoutCa = finding(runIssuerChecks(input({ discovery: tlsError, jwks: undefined })), 'tls-certificate');
    expect(withoutCa.ok).toBe(false);
    expect(withoutCa.fix).toContain('pass the CA with --ca-file');
    const withCa = finding(runIssuerChecks(input({ discovery: tlsError, jwks: undefined, caFileGiven: true })), 'tls-certificate');
    expect(withCa.fix).toContain('does not verify against --ca-file');
  });

  test('plain http passes the https finding only with --allow-http on a loopback address', () => {
    const local = 'http://127.0.0.1:8080/cluster-a';
    const discovery = ok(discoveryUrlFor(local), JSON.stringify({ issuer: local, jwks_uri: `${local}/openid/v1/jwks` }));
    expect(finding(runIssuerChecks(input({ issuer: local, discovery, jwks: undefined, allowHttp: true })), 'https').ok).toBe(true);
    expect(finding(runIssuerChecks(input({ issuer: local, discovery, jwks: undefined, allowHttp: false })), 'https').ok).toBe(false);
    const remote = finding(runIssuerChecks(input({ issuer: 'http://oidc.example.com', discovery, jwks: undefined, allowHttp: true })), 'https');
    expect(remote.ok).toBe(false);
    expect(remote.fix).toContain('only accepts loopback');
    expect(runIssuerChecks(input({ issuer: local, discovery, jwks: undefined, allowHttp: true })).some((f) => f.id === 'tls-certificate')).toBe(false);
  });

  test('a plain-http issuer allowed by --allow-http passes under a title that says http, never "served over HTTPS"', () => {
    const local = 'http://127.0.0.1:8080/cluster-a';
    const discovery = ok(discoveryUrlFor(local), JSON.stringify({ issuer: local, jwks_uri: `${local}/openid/v1/jwks` }));
    const findings = runIssuerChecks(input({ issuer: local, discovery, jwks: undefined, allowHttp: true }));
    const https = finding(findings, 'https');
    expect(https.ok).toBe(true);
    expect(https.title).toBe('served over plain HTTP (allowed on loopback by --allow-http)');
    expect(https.seen).toContain('http://127.0.0.1:8080');
    const jwksUri = finding(findings, 'jwks-uri');
    expect(jwksUri.title).toContain('plain HTTP');
    expect(jwksUri.title).not.toContain('https');
    // An https issuer keeps the https titles.
    expect(finding(runIssuerChecks(input()), 'https').title).toBe('served over HTTPS');
  });

  test('a slow or timed-out response fails response-time', () => {
    const slow = ok(JWKS_URL, fixture('jwks.json'), GOOD_HEADERS, 200, 6200);
    expect(finding(runIssuerChecks(input({ jwks: slow })), 'response-time')).toMatchObject({ ok: false, seen: 'slowest response 6200 ms' });
    const timedOut: FetchOutcome = { ok: false, url: JWKS_URL, errorCode: 'timeout', message: `${JWKS_URL}: no complete response within 10000 ms` };
    expect(finding(runIssuerChecks(input({ jwks: timedOut })), 'response-time').ok).toBe(false);
  });
});

describe('issuer-url applies the configuration\'s issuer rules', () => {
  /** The issuer-url finding alone, for an issuer whose documents need not exist. */
  const issuerUrlFinding = (issuer: string, allowHttp = false): Finding =>
    finding(runIssuerChecks(input({ issuer, allowHttp, discovery: ok(discoveryUrlFor(issuer), '{}'), jwks: undefined })), 'issuer-url');

  test.each([
    ['a port on an https issuer', 'https://oidc.example.com:8443/cluster-a', 'has a port', 'remove the port'],
    ['an uppercase host', 'https://OIDC.example.com/cluster-a', 'has uppercase letters in its host', '"oidc.example.com"'],
    ['a ".." segment', 'https://oidc.example.com/cluster-b/../cluster-a', 'has a dot segment', 'without "." and ".." segments'],
    ['a "." segment', 'https://oidc.example.com/./cluster-a', 'has a dot segment', 'without "." and ".." segments'],
    ['percent-encoding', 'https://oidc.example.com/cluster%2Da', 'has percent-encoding in its path', 'plain characters'],
    ['an IPv4 host', 'https://203.0.113.10/cluster-a', 'does not have a valid DNS host name', 'no IP address'],
    ['an IPv6 host', 'https://[2001:db8::1]/cluster-a', 'does not have a valid DNS host name', 'no IP address'],
    ['more than 255 characters', `https://oidc.example.com/${'a'.repeat(240)}`, 'is longer than 255 characters', 'shorter'],
    ['user information', 'https://admin@oidc.example.com/cluster-a', 'has user information', 'remove "user@"'],
    ['a query', 'https://oidc.example.com/cluster-a?x=1', 'has a query string', 'an issuer has no query'],
    ['an unsupported path character', 'https://oidc.example.com/cluster a', 'has an unsupported path', 'letters, digits'],
  ])('%s fails issuer-url, naming the problem and its fix', (_name, issuer, problem, fix) => {
    const result = issuerUrlFinding(issuer);
    expect(result.ok).toBe(false);
    expect(result.seen).toContain(`${issuer}: `);
    expect(result.seen).toContain(problem);
    expect(result.fix).toContain(fix);
    expect(result.fix).toContain('then use exactly this URL in --service-account-issuer');
  });

  test('every problem is listed, in the configuration\'s words', () => {
    const issuer = 'http://OIDC.example.com:80/a/';
    const result = issuerUrlFinding(issuer);
    expect(result.seen).toBe(`${issuer}: ${issuerUrlProblems(issuer).map(([problem]) => problem).join('; ')}`);
    expect(result.seen).toBe(`${issuer}: does not use https; has a port; has uppercase letters in its host; ends with a slash`);
  });

  test('a loopback IP host and a port fail without --allow-http', () => {
    expect(issuerUrlFinding('https://127.0.0.1:8443/cluster-a').seen).toBe('https://127.0.0.1:8443/cluster-a: has a port; does not have a valid DNS host name');
    expect(issuerUrlFinding('http://127.0.0.1:8787/cluster-a').seen).toBe('http://127.0.0.1:8787/cluster-a: does not use https; has a port; does not have a valid DNS host name');
  });

  test.each([
    'http://127.0.0.1:8787',
    'http://127.0.0.1:8787/cluster-a',
    'http://localhost:8787/cluster-a',
    'http://[::1]:8787/cluster-a',
    'http://127.0.0.1/cluster-a',
  ])('--allow-http accepts the plain-http loopback issuer %s, and says why', (issuer) => {
    const result = issuerUrlFinding(issuer, true);
    expect(result.ok).toBe(true);
    expect(result.seen).toBe(`${issuer} (a loopback issuer, accepted because of --allow-http; a deployed issuer needs https and a DNS host name without port)`);
  });

  test('a well-formed https issuer passes and shows just the URL, with or without --allow-http', () => {
    expect(issuerUrlFinding(ISSUER)).toEqual({ id: 'issuer-url', title: 'issuer URL well formed', ok: true, seen: ISSUER });
    expect(issuerUrlFinding(ISSUER, true)).toEqual({ id: 'issuer-url', title: 'issuer URL well formed', ok: true, seen: ISSUER });
  });

  test.each([
    ['a trailing slash', 'http://127.0.0.1:8787/cluster-a/', 'http://127.0.0.1:8787/cluster-a/: ends with a slash'],
    ['a ".." segment', 'http://127.0.0.1:8787/b/../a', 'http://127.0.0.1:8787/b/../a: has a dot segment ("." or "..") in its path'],
    ['percent-encoding', 'http://127.0.0.1:8787/cluster%2Da', 'http://127.0.0.1:8787/cluster%2Da: has percent-encoding in its path'],
    ['a query', 'http://127.0.0.1:8787/a?x=1', 'http://127.0.0.1:8787/a?x=1: has a query string'],
    ['user information', 'http://user@127.0.0.1:8787/a', 'http://user@127.0.0.1:8787/a: has user information'],
    ['an uppercase scheme', 'HTTP://127.0.0.1:8787/a', 'HTTP://127.0.0.1:8787/a: does not use https; has a port; does not have a valid DNS host name'],
  ])('--allow-http exempts only the scheme, port and host: %s still fails', (_name, issuer, seen) => {
    const result = issuerUrlFinding(issuer, true);
    expect(result.ok).toBe(false);
    expect(result.seen).toBe(seen);
  });

  test.each([
    ['https on a loopback address', 'https://127.0.0.1:8443/a', 'https://127.0.0.1:8443/a: has a port; does not have a valid DNS host name'],
    ['plain http on another address', 'http://10.0.0.1:8787/a', 'http://10.0.0.1:8787/a: does not use https; has a port; does not have a valid DNS host name'],
    ['plain http on a DNS name', 'http://oidc.example.com/a', 'http://oidc.example.com/a: does not use https'],
    ['a port that is not a number', 'http://127.0.0.1:8787\\evil.example/a', 'http://127.0.0.1:8787\\evil.example/a: does not use https; has a port; does not have a valid DNS host name'],
  ])('--allow-http exempts nothing else: %s fails', (_name, issuer, seen) => {
    const result = issuerUrlFinding(issuer, true);
    expect(result.ok).toBe(false);
    expect(result.seen).toBe(seen);
  });

  test('--allow-http on a non-loopback http issuer says which addresses it accepts', () => {
    expect(issuerUrlFinding('http://oidc.example.com/a', true).fix).toContain('--allow-http accepts plain http only on a loopback address');
    expect(issuerUrlFinding('http://oidc.example.com/a', false).fix).not.toContain('--allow-http');
  });

  test('an issuer check accepts and the configuration accepts the same URLs, and an accepted URL is not rewritten by URL parsing', () => {
    const segment = fc.constantFrom('cluster-a', 'A_b~c', '.', '..', '%2F', 'x.y', 'a b', '');
    const candidate = fc.record({
      scheme: fc.constantFrom('https', 'http', 'HTTPS'),
      userInfo: fc.constantFrom('', 'admin@'),
      host: fc.constantFrom('oidc.example.com', 'OIDC.example.com', '203.0.113.10', 'localhost', '[::1]', 'example', 'xn--bcher-kva.example'),
      port: fc.constantFrom('', ':443', ':8443', ':'),
      path: fc.array(segment, { maxLength: 3 }).map((segments) => segments.map((s) => `/${s}`).join('')),
      tail: fc.constantFrom('', '?', '#x'),
    }).map((p) => `${p.scheme}://${p.userInfo}${p.host}${p.port}${p.path}${p.tail}`);
    fc.assert(fc.property(candidate, fc.boolean(), (issuer, allowHttp) => {
      const accepted = issuerUrlFinding(issuer, allowHttp).ok;
      const strict = issuerUrlProblems(issuer).length === 0;
      if (!allowHttp) expect(accepted).toBe(strict);
      if (strict) {
        const href = new URL(issuer).href;
        expect(href).toBe(new URL(issuer).pathname === '/' && !issuer.endsWith('/') ? `${issuer}/` : issuer);
      }
    }), { numRuns: 400 });
  });
});

describe('drift and IAM findings', () => {
  test('a cluster key missing from the published JWKS fails cluster-keys-published', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const newKey = { ...publicKey.export({ format: 'jwk' }), kid: 'new-signer', alg: 'ES256', use: 'sig' };
    const drifted = runIssuerChecks(input({ clusterJwks: jwksWith([...JWKS.keys, newKey]) }));
    expect(finding(drifted, 'cluster-keys-published')).toMatchObject({ ok: false, seen: 'not published: new-signer' });
    const inSync = runIssuerChecks(input({ clusterJwks: jwksWith(JWKS.keys) }));
    expect(finding(inSync, 'cluster-keys-published')).toMatchObject({ ok: true, seen: 'all 2 cluster key(s) published' });
  });

  test('the IAM provider must exist for the exact issuer and list the audience', () => {
    const arn = 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-a';
    const missing = runIssuerChecks(input({ iam: { ok: true, providers: [{ arn: `${arn}x`, url: 'oidc.example.com/cluster-a/', clientIds: [] }] } }));
    expect(finding(missing, 'iam-provider')).toMatchObject({ ok: false, seen: 'no provider for oidc.example.com/cluster-a exactly; near matches: oidc.example.com/cluster-a/' });
    const noAudience = runIssuerChecks(input({ iam: { ok: true, providers: [{ arn, url: 'oidc.example.com/cluster-a', clientIds: ['sts.amazon.com'] }] } }));
    expect(finding(noAudience, 'iam-provider').ok).toBe(true);
    expect(finding(noAudience, 'iam-provider-audience').fix).toContain(`--open-id-connect-provider-arn ${arn} --client-id sts.amazonaws.com`);
    const good = runIssuerChecks(input({ iam: { ok: true, providers: [{ arn, url: 'oidc.example.com/cluster-a', clientIds: ['sts.amazonaws.com'] }] } }));
    expect(failures(good)).toEqual([]);
    const denied = runIssuerChecks(input({ iam: { ok: false, message: 'AccessDenied' } }));
    expect(finding(denied, 'iam-provider').ok).toBe(false);
  });
});

describe('helpers', () => {
  test('discoveryUrlFor drops trailing slashes the way go-oidc does', () => {
    expect(discoveryUrlFor(`${ISSUER}/`)).toBe(DISCOVERY_URL);
    expect(discoveryUrlFor(ISSUER)).toBe(DISCOVERY_URL);
  });

  test('jwksUriFrom reads jwks_uri only from a 200 JSON discovery document', () => {
    expect(jwksUriFrom(ok(DISCOVERY_URL, fixture('openid-configuration.json')))).toBe(JWKS_URL);
    expect(jwksUriFrom(ok(DISCOVERY_URL, fixture('openid-configuration.json'), GOOD_HEADERS, 404))).toBeUndefined();
    expect(jwksUriFrom(ok(DISCOVERY_URL, '{"issuer":"x"}'))).toBeUndefined();
    expect(jwksUriFrom({ ok: false, url: DISCOVERY_URL, errorCode: 'network', message: 'refused' })).toBeUndefined();
  });

  test.each([[0, '0s'], [90, '1m 30s'], [3600, '1h'], [604800, '7d'], [90061, '1d 1h']])('humanSeconds(%d) = %s', (seconds, text) => {
    expect(humanSeconds(seconds)).toBe(text);
  });
});
