/**
 * `check` through the real executable against local issuers, each misconfigured one way, over
 * HTTP (with --allow-http) and over HTTPS with a CA made by openssl.
 *
 * All runs are started together in beforeAll (each spawn costs about half a second) and the
 * tests then assert on their results.
 */
import { createPrivateKey, KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { buildJwks, JwksDocument } from '../../core/documents';
import type { Finding } from '../../core/issuer-checks';
import { parseKeyMaterial } from '../../core/keys';
import { CliRun, runCli } from '../support/cli';
import { IssuerServer, makeTestPki, publishIssuer, startIssuerServer, TestPki } from '../support/issuer-server';
import { OpensslKeyPair, OpensslWorkspace } from '../support/openssl';

const ISSUED_AT = 1798761600;
const NOW = String(ISSUED_AT + 60);

interface CheckReport {
  readonly ok: boolean;
  readonly findings: Finding[];
}

/** How each misconfigured issuer is broken, and the one finding that must fail because of it. */
const MISCONFIGURATIONS = [
  ['wrong issuer', 'issuer-match'],
  ['trailing slash', 'issuer-match'],
  ['redirecting jwks_uri', 'jwks-fetch'],
  ['missing kid', 'jwks-key-kid'],
  ['private member in a key', 'jwks-key-private'],
  ['wrong content type', 'jwks-content-type'],
  ['week-long max-age', 'cache-max-age'],
  ['missing key for the token', 'token-kid'],
  ['cluster key not published', 'cluster-keys-published'],
] as const;

type Case = (typeof MISCONFIGURATIONS)[number][0];

describe('check', () => {
  let ws: OpensslWorkspace;
  let pki: TestPki;
  let plain: IssuerServer;
  let tls: IssuerServer;
  const reports = new Map<Case, CliRun & { report: CheckReport }>();
  let clean: CliRun;
  let cleanJson: CheckReport;
  let humanFailure: CliRun;
  let httpWithoutAllow: CliRun & { report: CheckReport };
  let httpsWithCa: CliRun & { report: CheckReport };
  let httpsWithoutCa: CliRun & { report: CheckReport };

  beforeAll(async () => {
    // GIVEN keys made by openssl: two published, one that signs but is not published
    ws = OpensslWorkspace.create();
    pki = makeTestPki();
    const rsa = ws.rsaKeyPair('sa-rsa');
    const ec = ws.ecKeyPair('sa-ec', 'P-256');
    const rogue = ws.rsaKeyPair('rogue');
    const extra = ws.ecKeyPair('extra', 'P-256');
    const jwks = jwksOf(rsa, ec);
    plain = await startIssuerServer();
    tls = await startIssuerServer({ tls: pki.server });

    // AND one issuer per misconfiguration, each under its own path of the same server
    const site = (path: string, options: Partial<Parameters<typeof publishIssuer>[1]> = {}) =>
      publishIssuer(plain, { jwks, issuerPath: path, ...options });
    const cleanSite = site('/clean');
    plain.route('/cluster/openid/v1/jwks', { body: JSON.stringify(jwks) });
    plain.route('/drifted-cluster/openid/v1/jwks', { body: JSON.stringify(jwksOf(rsa, ec, extra)) });
    // S3 answers a CloudFront origin in the wrong region with a redirect, which STS does not follow.
    const redirecting = (published: ReturnType<typeof publishIssuer>): string => {
      plain.route(published.jwksPath, { status: 302, headers: { location: 'https://bucket.s3.eu-west-1.amazonaws.com/openid/v1/jwks' } });
      return published.issuer;
    };
    const sites: Record<Case, string> = {
      'wrong issuer': site('/wrong-issuer', { discoveryOverrides: { issuer: `${plain.origin}/another-cluster` } }).issuer,
      'trailing slash': site('/trailing-slash', { discoveryOverrides: { issuer: `${plain.origin}/trailing-slash/` } }).issuer,
      'redirecting jwks_uri': redirecting(site('/redirect')),
      'missing kid': site('/missing-kid', { jwks: { keys: jwks.keys.map((key, i) => (i === 0 ? withoutKid(key) : key)) } }).issuer,
      'private member in a key': site('/private-member', { jwks: { keys: [...jwks.keys.slice(0, 1), privateJwk(ec, jwks.keys[1])] } }).issuer,
      'wrong content type': site('/content-type', { jwksHeaders: { 'content-type': 'binary/octet-stream', 'cache-control': 'max-age=300' } }).issuer,
      'week-long max-age': site('/max-age', { jwksHeaders: { 'content-type': 'application/json', 'cache-control': 'public, max-age=604800' } }).issuer,
      'missing key for the token': site('/missing-key').issuer,
      'cluster key not published': site('/drift').issuer,
    };
    const tlsSite = publishIssuer(tls, { jwks, issuerPath: '/cluster-a' });

    // AND tokens as kube-apiserver would sign them
    const rsaKey = createPrivateKey(rsa.privatePem);
    const cleanToken = await signToken(rsaKey, rsa.kid, cleanSite.issuer);
    const rogueToken = await signToken(createPrivateKey(rogue.privatePem), rogue.kid, sites['missing key for the token']);
    const tlsToken = await signToken(rsaKey, rsa.kid, tlsSite.issuer);

    // WHEN check runs against each of them
    const check = (issuer: string, extraArgs: string[] = []) => runCli(['check', '--issuer', issuer, '--now', NOW, ...extraArgs]);
    const json = async (issuer: string, extraArgs: string[] = []) => {
      const run = await check(issuer, [...extraArgs, '--json']);
      return { ...run, report: parseReport(run) };
    };
    const caseRuns = MISCONFIGURATIONS.map(async ([name]) => {
      const extraArgs = ['--allow-http'];
      if (name === 'missing key for the token') extraArgs.push('--token', rogueToken);
      if (name === 'cluster key not published') extraArgs.push('--cluster-jwks-url', `${plain.origin}/drifted-cluster/openid/v1/jwks`);
      reports.set(name, await json(sites[name], extraArgs));
    });
    const cleanArgs = ['--allow-http', '--cluster-jwks-url', `${plain.origin}/cluster/openid/v1/jwks`];
    const results = await Promise.all([
      runCli(['check', '--issuer', cleanSite.issuer, '--now', NOW, ...cleanArgs, '--token', '-'], { stdin: cleanToken }),
      json(cleanSite.issuer, [...cleanArgs, '--token', cleanToken]),
      check(sites['wrong issuer'], ['--allow-http']),
      json(cleanSite.issuer),
      json(tlsSite.issuer, ['--ca-file', pki.caFile, '--token', tlsToken]),
      json(tlsSite.issuer),
      ...caseRuns,
    ]);
    [clean, { report: cleanJson }, humanFailure, httpWithoutAllow, httpsWithCa, httpsWithoutCa] = results as [
      CliRun, CliRun & { report: CheckReport }, CliRun, CliRun & { report: CheckReport }, CliRun & { report: CheckReport }, CliRun & { report: CheckReport },
    ];
  });

  afterAll(async () => {
    await plain?.close();
    await tls?.close();
    ws?.remove();
  });

  test('a clean issuer, checked with a token and the cluster JWKS, is reported clean (exit 0)', () => {
    expect(clean.stderr).toBe('note: no AWS credentials in the environment, so the IAM OIDC provider was not checked\n');
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/^all \d+ checks passed$/m);
    // Plain http allowed on loopback: the PASS line says what was seen, never "served over HTTPS".
    expect(clean.stdout).toMatch(/^PASS {2}https +served over plain HTTP \(allowed on loopback by --allow-http\)$/m);
    expect(clean.stdout).not.toContain('served over HTTPS');
    expect(clean.stdout).toContain('accepted because of --allow-http');
    expect(clean.stdout).not.toContain('FAIL');
    for (const id of ['issuer-match', 'jwks-fetch', 'token-kid', 'token-signature', 'cluster-keys-published']) {
      expect(clean.stdout).toMatch(new RegExp(`^PASS {2}${id} `, 'm'));
    }
    expect(cleanJson.ok).toBe(true);
    expect(cleanJson.findings.filter((f) => !f.ok)).toEqual([]);
    // Its port and IP host pass issuer-url only as a loopback issuer under --allow-http, and the finding says so.
    expect(cleanJson.findings.find((f) => f.id === 'issuer-url')?.seen).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/clean \(a loopback issuer, accepted because of --allow-http; /);
  });

  test.each(MISCONFIGURATIONS)('%s is reported as a failure of %s, with its fix (exit 1)', (name, id) => {
    const run = reports.get(name);
    expect(run?.status).toBe(1);
    expect(run?.report.ok).toBe(false);
    const failed = run?.report.findings.filter((f) => !f.ok) ?? [];
    expect(failed.map((f) => f.id)).toEqual([id]);
    expect(failed[0].fix).toEqual(expect.any(String));
    expect(failed[0].fix?.length).toBeGreaterThan(20);
  });

  test('what each failure says names the cause', () => {
    const seen = (name: Case): string => reports.get(name)?.report.findings.find((f) => !f.ok)?.seen ?? '';
    expect(seen('trailing slash')).toContain('differ only by a trailing slash');
    expect(seen('redirecting jwks_uri')).toMatch(/HTTP 302 redirecting to /);
    expect(seen('missing kid')).toBe('key #0 has no kid');
    expect(seen('private member in a key')).toMatch(/carries private members d$/);
    expect(seen('wrong content type')).toBe('Content-Type: binary/octet-stream');
    expect(seen('week-long max-age')).toContain('JWKS: max-age=604800 (7d)');
    expect(seen('missing key for the token')).toContain('is not in the published JWKS');
    expect(seen('cluster key not published')).toMatch(/^not published: /);
    // Private key material never reaches the output.
    expect(reports.get('private member in a key')?.stdout).not.toMatch(/"d":/);
  });

  test('failures are printed for humans with what was seen and the fix', () => {
    expect(humanFailure.status).toBe(1);
    expect(humanFailure.stdout).toMatch(/^FAIL {2}issuer-match +discovery "issuer" equals the issuer URL byte for byte$/m);
    expect(humanFailure.stdout).toMatch(/^ +seen: discovery "issuer" is ".*\/another-cluster"/m);
    expect(humanFailure.stdout).toMatch(/^ +fix: {2}publish a discovery document/m);
    expect(humanFailure.stdout).toMatch(/^\d+ passed, 1 failed: issuer-match$/m);
  });

  test('plain http without --allow-http fails the HTTPS finding', () => {
    expect(httpWithoutAllow.status).toBe(1);
    const failed = httpWithoutAllow.report.findings.filter((f) => !f.ok).map((f) => f.id);
    expect(failed).toEqual(expect.arrayContaining(['issuer-url', 'https', 'discovery-fetch']));
    expect(httpWithoutAllow.report.findings.find((f) => f.id === 'issuer-url')?.seen).toMatch(/: does not use https; has a port; does not have a valid DNS host name$/);
  });

  test('over HTTPS, the private CA given with --ca-file passes every check but issuer-url, which refuses the test server\'s port and IP host', () => {
    // --allow-http exempts only plain-http loopback issuers: an https issuer gets IAM's rules in full.
    expect(httpsWithCa.status).toBe(1);
    expect(httpsWithCa.report.findings.filter((f) => !f.ok).map((f) => f.id)).toEqual(['issuer-url']);
    expect(httpsWithCa.report.findings.find((f) => f.id === 'issuer-url')?.seen).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/cluster-a: has a port; does not have a valid DNS host name$/);
    expect(httpsWithCa.report.findings.find((f) => f.id === 'tls-certificate')).toMatchObject({ ok: true, seen: 'verified against the CA of --ca-file' });
    expect(httpsWithCa.report.findings.find((f) => f.id === 'https')).toMatchObject({ ok: true, seen: 'https' });
    expect(httpsWithCa.report.findings.find((f) => f.id === 'token-signature')?.ok).toBe(true);
  });

  test('over HTTPS without the CA, the certificate finding fails', () => {
    expect(httpsWithoutCa.status).toBe(1);
    const certificate = httpsWithoutCa.report.findings.find((f) => f.id === 'tls-certificate');
    expect(certificate?.ok).toBe(false);
    expect(certificate?.seen).toContain('TLS failure');
    expect(certificate?.fix).toContain('--ca-file');
  });
});

function jwksOf(...pairs: OpensslKeyPair[]): JwksDocument {
  return buildJwks(pairs.flatMap((pair) => parseKeyMaterial(pair.publicPem, pair.publicFile).keys.map((key) => key.jwk)));
}

function withoutKid(key: object): object {
  const { kid: _kid, ...rest } = key as { kid: string };
  return rest;
}

/** The published JWK of a key plus its private scalar, as a careless JWKS generator would publish it. */
function privateJwk(pair: OpensslKeyPair, published: object): object {
  const { d } = createPrivateKey(pair.privatePem).export({ format: 'jwk' });
  return { ...published, d };
}

async function signToken(key: KeyObject, kid: string, issuer: string): Promise<string> {
  return new SignJWT({ 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api', uid: '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e' } } })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(issuer)
    .setSubject('system:serviceaccount:payments:api')
    .setAudience('sts.amazonaws.com')
    .setIssuedAt(ISSUED_AT)
    .setNotBefore(ISSUED_AT)
    .setExpirationTime(ISSUED_AT + 3600)
    .sign(key);
}

function parseReport(run: CliRun): CheckReport {
  try {
    return JSON.parse(run.stdout) as CheckReport;
  } catch {
    throw new Error(`check printed no JSON (status ${run.status}): ${run.stderr}`);
  }
}
