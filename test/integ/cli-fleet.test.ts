/**
 * `verify` and `check` over a fleet (issue 14): several --issuer values in one run, through the
 * real executable, against issuers served on 127.0.0.1.
 */
import { buildJwks } from '../../core/documents';
import { runCli, runCliJson } from '../support/cli';
import { IssuerServer, publishIssuer, startIssuerServer } from '../support/issuer-server';
import { kubeClaims, kubeToken, newTestKey } from '../support/tokens';

const ISSUED_AT = 1798761600;
const NOW = String(ISSUED_AT + 120);
const AUDIENCE = 'api.example';

interface CheckSection { issuer: string; ok: boolean; findings: { id: string; ok: boolean }[] }

describe('verify and check over several issuers', () => {
  const alphaKey = newTestKey('ES256');
  const betaKey = newTestKey('RS256');
  let server: IssuerServer;
  let alpha: string;
  let beta: string;
  let broken: string;
  beforeAll(async () => {
    server = await startIssuerServer();
    alpha = publishIssuer(server, { jwks: buildJwks([alphaKey.jwk]), issuerPath: '/clusters/alpha' }).issuer;
    beta = publishIssuer(server, { jwks: buildJwks([betaKey.jwk]), issuerPath: '/clusters/beta' }).issuer;
    // Its discovery document names another issuer: a relying party refuses it.
    broken = publishIssuer(server, { jwks: buildJwks([betaKey.jwk]), issuerPath: '/clusters/broken', discoveryOverrides: { issuer: `${server.origin}/clusters/other` } }).issuer;
  });
  afterAll(async () => { await server?.close(); });
  const tokenOf = (key: typeof alphaKey, issuer: string) => kubeToken(key, kubeClaims({ issuer, audiences: [AUDIENCE], iat: ISSUED_AT }));
  const verify = (token: string, issuers: string[], extra: string[] = []) =>
    runCliJson<{ ok: boolean; reason?: string; issuer?: string; issuers?: string[] }>(['verify', token, ...issuers.flatMap((issuer) => ['--issuer', issuer]), '--audience', AUDIENCE, '--now', NOW, '--allow-http', ...extra]);

  it('verify checks each token against the issuer its iss names, with that issuer\'s keys only', async () => {
    const both = () => [alpha, beta];
    const [alphaRun, betaRun, crossed, unknown, human] = await Promise.all([
      verify(tokenOf(alphaKey, alpha), both()),
      verify(tokenOf(betaKey, beta), both()),
      verify(tokenOf(betaKey, alpha), both()),
      verify(tokenOf(alphaKey, `${server.origin}/clusters/gamma`), both()),
      runCli(['verify', tokenOf(betaKey, beta), '--issuer', alpha, '--issuer', beta, '--audience', AUDIENCE, '--now', NOW, '--allow-http']),
    ]);
    expect([alphaRun.status, alphaRun.json]).toEqual([0, expect.objectContaining({ ok: true, issuer: alpha, issuers: [alpha, beta] })]);
    expect([betaRun.status, betaRun.json]).toEqual([0, expect.objectContaining({ ok: true, issuer: beta })]);
    // Claims alpha, signed by beta's key with beta's kid: alpha's keys do not have it.
    expect([crossed.status, crossed.json]).toEqual([1, expect.objectContaining({ ok: false, reason: 'unknown_kid', issuer: alpha })]);
    expect([unknown.status, unknown.json]).toEqual([1, expect.objectContaining({ ok: false, reason: 'unknown_issuer' })]);
    // Nothing was fetched for the unknown issuer.
    expect(server.requests.some((request) => request.path.startsWith('/clusters/gamma'))).toBe(false);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(`checked against issuer ${beta}`);
  });

  it('verify refuses an issuer given twice with exit 2', async () => {
    const run = await runCli(['verify', tokenOf(alphaKey, alpha), '--issuer', alpha, '--issuer', alpha, '--audience', AUDIENCE, '--allow-http']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('configured twice');
  });

  it('check gives one section per issuer (text and --json) and exits 1 when any fails', async () => {
    const issuerArgs = (...issuers: string[]) => issuers.flatMap((issuer) => ['--issuer', issuer]);
    const [good, mixed, text] = await Promise.all([
      runCliJson<{ ok: boolean; issuers: CheckSection[] }>(['check', ...issuerArgs(alpha, beta), '--allow-http', '--skip-iam', '--now', NOW, '--token', tokenOf(betaKey, beta), '--audience', AUDIENCE]),
      runCliJson<{ ok: boolean; issuers: CheckSection[] }>(['check', ...issuerArgs(alpha, broken), '--allow-http', '--skip-iam', '--now', NOW]),
      runCli(['check', ...issuerArgs(alpha, broken), '--allow-http', '--skip-iam', '--now', NOW]),
    ]);
    expect(good.status).toBe(0);
    expect(good.json.ok).toBe(true);
    expect(good.json.issuers.map((section) => [section.issuer, section.ok])).toEqual([[alpha, true], [beta, true]]);
    // The token is checked in beta's section only: its iss names beta.
    const tokenFindings = (section: CheckSection) => section.findings.filter((finding) => finding.id.startsWith('token')).length;
    expect(tokenFindings(good.json.issuers[0])).toBe(0);
    expect(tokenFindings(good.json.issuers[1])).toBeGreaterThan(0);
    expect(mixed.status).toBe(1);
    expect(mixed.json.ok).toBe(false);
    expect(mixed.json.issuers.map((section) => [section.issuer, section.ok])).toEqual([[alpha, true], [broken, false]]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`check ${alpha}\n`);
    expect(text.stdout).toContain(`check ${broken}\n`);
    expect(text.stdout).toContain(`1 of 2 issuers fail: ${broken}`);
  });
});
