/**
 * docs/troubleshooting.md against the check core: every finding the table names exists, and fails
 * in the situation its row describes (an issuer broken that one way, judged by runIssuerChecks);
 * where the row quotes an AWS or go-oidc message, the finding's own fix quotes it too. Reason codes
 * named in the table are the verifier's.
 */
import { FetchOutcome, IssuerCheckInput, runIssuerChecks } from '../../core/issuer-checks';
import { buildDiscovery, documentPaths } from '../../core/documents';
import { REASON_CODES } from '../../core/verifier';
import { FIXTURE_NOW, kubeClaims, kubeFixtures, kubeToken, TEST_ISSUER } from '../support/tokens';
import { tampered } from './support/tokens';
import { bashSyntaxError } from './support/run';
import { cliProblems, docBlock, kubeOidcInvocations, projectFile } from './support/doc-blocks';

const fixtures = kubeFixtures();
const GOOD_HEADERS = { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' };

function fetched(url: string, body: unknown, overrides: { status?: number; headers?: Record<string, string>; elapsedMs?: number } = {}): FetchOutcome {
  return {
    ok: true,
    response: { status: overrides.status ?? 200, headers: overrides.headers ?? GOOD_HEADERS, body: typeof body === 'string' ? body : JSON.stringify(body), elapsedMs: overrides.elapsedMs ?? 40, url },
  };
}

/** A correctly published issuer, a valid token and a matching IAM provider: every finding passes. */
function healthy(): IssuerCheckInput {
  const paths = documentPaths(TEST_ISSUER);
  return {
    issuer: TEST_ISSUER,
    allowHttp: false,
    caFileGiven: false,
    discovery: fetched(paths.discoveryUrl, buildDiscovery(TEST_ISSUER, fixtures.jwks)),
    jwks: fetched(paths.jwksUri, fixtures.jwks),
    token: fixtures.rs256Token,
    audience: 'sts.amazonaws.com',
    clusterJwks: fetched('https://10.0.0.10:6443/openid/v1/jwks', fixtures.jwks),
    iam: { ok: true, providers: [{ arn: 'arn:aws:iam::111111111111:oidc-provider/oidc.example.com/cluster-a', url: 'oidc.example.com/cluster-a', clientIds: ['sts.amazonaws.com'] }] },
    now: FIXTURE_NOW,
  };
}

const paths = documentPaths(TEST_ISSUER);
const [ecKey] = fixtures.jwks.keys.filter((k) => k.kty === 'EC');
const [rsaKey] = fixtures.jwks.keys.filter((k) => k.kty === 'RSA');

/** For each finding the table names: the issuer broken the way the row describes. */
const BROKEN: Record<string, (input: IssuerCheckInput) => IssuerCheckInput> = {
  'token-kid': (i) => ({ ...i, jwks: fetched(paths.jwksUri, { keys: [ecKey] }) }),
  'cluster-keys-published': (i) => ({ ...i, clusterJwks: fetched('https://10.0.0.10:6443/openid/v1/jwks', { kind: 'Status', code: 401 }, { status: 401 }) }),
  'discovery-fetch': (i) => ({ ...i, discovery: fetched(paths.discoveryUrl, '', { status: 301, headers: { location: 'https://bucket.s3.eu-west-1.amazonaws.com/x' } }) }),
  'jwks-fetch': (i) => ({ ...i, jwks: fetched(paths.jwksUri, '<Error>AccessDenied</Error>', { status: 403, headers: { 'content-type': 'application/xml' } }) }),
  'response-time': (i) => ({ ...i, jwks: fetched(paths.jwksUri, fixtures.jwks, { elapsedMs: 6200 }) }),
  'tls-certificate': (i) => ({ ...i, discovery: { ok: false, url: paths.discoveryUrl, errorCode: 'tls', message: 'unable to verify the first certificate' } }),
  'jwks-key-kid': (i) => ({ ...i, jwks: fetched(paths.jwksUri, { keys: [{ ...rsaKey, kid: undefined }, ecKey] }) }),
  'iam-provider': (i) => ({ ...i, iam: { ok: true, providers: [{ arn: 'arn:aws:iam::111111111111:oidc-provider/oidc.example.com/cluster-a/', url: 'oidc.example.com/cluster-a/', clientIds: ['sts.amazonaws.com'] }] } }),
  'token-issuer': (i) => ({ ...i, token: kubeToken(fixtures.rsa, kubeClaims({ issuer: 'https://kubernetes.default.svc.cluster.local' })) }),
  'token-audience': (i) => ({ ...i, token: kubeToken(fixtures.rsa, kubeClaims({ audiences: ['sts.amazon.com'] })) }),
  'iam-provider-audience': (i) => ({ ...i, iam: { ok: true, providers: [{ arn: 'arn:aws:iam::111111111111:oidc-provider/oidc.example.com/cluster-a', url: 'oidc.example.com/cluster-a', clientIds: ['sts.amazon.com'] }] } }),
  'token-time': (i) => ({ ...i, now: FIXTURE_NOW + 7200 }),
  'issuer-match': (i) => ({ ...i, discovery: fetched(paths.discoveryUrl, { ...buildDiscovery(TEST_ISSUER, fixtures.jwks), issuer: `${TEST_ISSUER}/` }) }),
  'token-signature': (i) => ({ ...i, token: tampered(fixtures.rs256Token) }),
  'token-format': (i) => ({ ...i, token: 'token.txt' }),
  'cache-max-age': (i) => ({ ...i, jwks: fetched(paths.jwksUri, fixtures.jwks, { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=604800' } }) }),
  'jwks-content-type': (i) => ({ ...i, jwks: fetched(paths.jwksUri, fixtures.jwks, { headers: { 'content-type': 'binary/octet-stream' } }) }),
  'jwks-key-alg': (i) => ({ ...i, jwks: fetched(paths.jwksUri, { keys: [{ ...rsaKey, alg: undefined }, ecKey] }) }),
  'jwks-key-use': (i) => ({ ...i, jwks: fetched(paths.jwksUri, { keys: [{ ...rsaKey, use: 'enc' }, ecKey] }) }),
  'jwks-key-strength': (i) => ({ ...i, jwks: fetched(paths.jwksUri, { keys: [{ ...rsaKey, n: rsaKey.n?.slice(0, 172) }, ecKey] }) }),
  'jwks-key-private': (i) => ({ ...i, jwks: fetched(paths.jwksUri, { keys: [{ ...ecKey, d: 'AAAA' }, rsaKey] }) }),
};

interface Row {
  readonly message: string;
  readonly findings: string[];
}

function tableRows(): Row[] {
  const page = projectFile('docs/troubleshooting.md');
  return page.split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| message') && !line.startsWith('| ---'))
    .map((line) => {
      const cells = line.slice(2, -2).split(' | ');
      if (cells.length !== 4) throw new Error(`a troubleshooting row needs 4 cells: ${line}`);
      const findings = cells[2] === '—' ? [] : cells[2].split(', ').map((cell) => /^`([a-z-]+)`$/.exec(cell)?.[1] ?? `(unreadable: ${cell})`);
      return { message: cells[0], findings };
    });
}

/** The stable finding ids, as core/issuer-checks.ts documents them. */
function stableIds(): string[] {
  const source = projectFile('core/issuer-checks.ts');
  const paragraph = /Finding ids are stable[^:]*:([\s\S]*?)\n \*\n/.exec(source)?.[1] ?? '';
  return [...paragraph.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
}

describe('the troubleshooting table', () => {
  const rows = tableRows();

  test('has the messages users meet', () => {
    const messages = rows.map((r) => r.message).join('\n');
    for (const message of [
      "Couldn't retrieve verification key from your identity provider",
      'No OpenIDConnect provider found in your account for https://',
      'Incorrect token audience',
      'issuer did not match the issuer returned by provider',
      'does not match with any of allowed audiences',
    ]) expect(messages).toContain(message);
  });

  test('the healthy issuer passes every check, so each broken case below fails for its own reason', () => {
    const findings = runIssuerChecks(healthy());
    expect(findings.filter((f) => !f.ok).map((f) => `${f.id}: ${f.seen}`)).toEqual([]);
  });

  test.each(Object.keys(BROKEN))('finding %s is a stable id and fails in the situation of its row', (id) => {
    expect(stableIds()).toContain(id);
    expect(rows.some((r) => r.findings.includes(id))).toBe(true);
    const findings = runIssuerChecks(BROKEN[id](healthy()));
    expect(findings.find((f) => f.id === id)).toMatchObject({ ok: false, fix: expect.any(String) });
  });

  test('every finding the table names has a broken case here', () => {
    const named = [...new Set(rows.flatMap((r) => r.findings))];
    expect(named.filter((id) => !(id in BROKEN))).toEqual([]);
  });

  test.each([
    ["Couldn't retrieve verification key", ['token-kid', 'jwks-key-kid']],
    ['No OpenIDConnect provider found in your account', ['iam-provider']],
    ['Incorrect token audience', ['token-audience']],
    ['issuer did not match', ['issuer-match']],
  ])('the fix check prints for "%s" names that message too', (message, ids) => {
    for (const id of ids) {
      const finding = runIssuerChecks(BROKEN[id](healthy())).find((f) => f.id === id);
      expect(finding?.fix).toContain(message);
    }
  });

  test('reason codes in the table are the verifier\'s', () => {
    const reasons = rows.flatMap((r) => [...r.message.matchAll(/"(?:reason": )?"?([a-z_]+)"/g)].map((m) => m[1])).filter((r) => r !== 'reason');
    expect(reasons.length).toBeGreaterThanOrEqual(8);
    for (const reason of reasons) expect(REASON_CODES).toContain(reason);
  });

  test('the commands use real flags', () => {
    for (const id of ['trouble-get-token', 'trouble-check-token', 'trouble-verify-token']) {
      expect(bashSyntaxError(docBlock(id).text)).toBe('');
      const invocations = kubeOidcInvocations(docBlock(id).text);
      expect(invocations.length).toBeGreaterThan(0);
      expect(invocations.flatMap(cliProblems)).toEqual([]);
    }
    expect(docBlock('trouble-get-token').text).toContain('/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
  });
});
