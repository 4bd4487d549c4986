/**
 * `verify` through the real executable: discovery over the network as a relying party, then the
 * core verifier, against local issuers over HTTP and HTTPS, with keys and tokens made in the test.
 */
import { createPrivateKey, KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { buildJwks } from '../../core/documents';
import { parseKeyMaterial } from '../../core/keys';
import { CliRun, runCli } from '../support/cli';
import { IssuerServer, makeTestPki, publishIssuer, startIssuerServer, TestPki } from '../support/issuer-server';
import { OpensslKeyPair, OpensslWorkspace } from '../support/openssl';

const ISSUED_AT = 1798761600;
const NOW = String(ISSUED_AT + 120);
const AUDIENCE = 'api.payments.internal';

interface VerifyOutput {
  readonly ok: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly identity?: Record<string, unknown>;
  readonly issuer: string;
  readonly jwksUri: string;
}

describe('verify', () => {
  let ws: OpensslWorkspace;
  let pki: TestPki;
  let plain: IssuerServer;
  let tls: IssuerServer;
  let runs: Record<string, CliRun>;

  beforeAll(async () => {
    // GIVEN an issuer publishing an RSA and an EC key made by openssl, over HTTP and HTTPS
    ws = OpensslWorkspace.create();
    pki = makeTestPki();
    const rsa = ws.rsaKeyPair('sa-rsa');
    const ec = ws.ecKeyPair('sa-ec', 'P-256');
    const rogue = ws.ecKeyPair('rogue', 'P-256');
    const jwks = buildJwks([rsa, ec].flatMap((pair) => parseKeyMaterial(pair.publicPem, pair.publicFile).keys.map((key) => key.jwk)));
    plain = await startIssuerServer();
    tls = await startIssuerServer({ tls: pki.server });
    const site = publishIssuer(plain, { jwks, issuerPath: '/cluster-a' });
    const impostor = publishIssuer(plain, { jwks, issuerPath: '/impostor', discoveryOverrides: { issuer: site.issuer } });
    const moved = publishIssuer(plain, { jwks, issuerPath: '/moved' });
    plain.route(moved.jwksPath, { status: 301, headers: { location: `${plain.origin}/cluster-a/openid/v1/jwks` } });
    const secure = publishIssuer(tls, { jwks, issuerPath: '/cluster-a' });

    // AND tokens signed as kube-apiserver signs them
    const ecToken = await kubeToken(createPrivateKey(ec.privatePem), 'ES256', ec, site.issuer, [AUDIENCE, 'other']);
    const rsaToken = await kubeToken(createPrivateKey(rsa.privatePem), 'RS256', rsa, site.issuer, [AUDIENCE]);
    const rogueToken = await kubeToken(createPrivateKey(rogue.privatePem), 'ES256', rogue, site.issuer, [AUDIENCE]);
    const secureToken = await kubeToken(createPrivateKey(rsa.privatePem), 'RS256', rsa, secure.issuer, [AUDIENCE]);
    const impostorToken = await kubeToken(createPrivateKey(rsa.privatePem), 'RS256', rsa, impostor.issuer, [AUDIENCE]);
    const movedToken = await kubeToken(createPrivateKey(rsa.privatePem), 'RS256', rsa, moved.issuer, [AUDIENCE]);

    // WHEN verify runs in each situation
    const verify = (token: string, issuer: string, extra: string[] = [], stdin?: string) =>
      runCli(['verify', token, '--issuer', issuer, '--audience', AUDIENCE, '--now', NOW, ...extra], stdin === undefined ? {} : { stdin });
    const entries = await Promise.all(
      Object.entries({
        valid: verify('-', site.issuer, ['--allow-http'], `${ecToken}\n`),
        validJson: verify(rsaToken, site.issuer, ['--allow-http', '--json']),
        wrongAudience: runCli(['verify', rsaToken, '--issuer', site.issuer, '--audience', 'sts.amazonaws.com', '--now', NOW, '--allow-http', '--json']),
        unknownKid: verify(rogueToken, site.issuer, ['--allow-http', '--json']),
        expired: runCli(['verify', rsaToken, '--issuer', site.issuer, '--audience', AUDIENCE, '--now', String(ISSUED_AT + 7200), '--allow-http', '--json']),
        issuerMismatch: verify(impostorToken, impostor.issuer, ['--allow-http']),
        redirect: verify(movedToken, moved.issuer, ['--allow-http']),
        httpNotAllowed: verify(rsaToken, site.issuer),
        httpsWithCa: verify(secureToken, secure.issuer, ['--ca-file', pki.caFile, '--json']),
        httpsWithoutCa: verify(secureToken, secure.issuer),
      }).map(async ([name, run]) => [name, await run] as const),
    );
    runs = Object.fromEntries(entries);
  });

  afterAll(async () => {
    await plain?.close();
    await tls?.close();
    ws?.remove();
  });

  const json = (name: string): VerifyOutput => {
    try {
      return JSON.parse(runs[name].stdout) as VerifyOutput;
    } catch {
      throw new Error(`${name}: no JSON (status ${runs[name].status}): ${runs[name].stderr}`);
    }
  };

  test('a valid token prints the identity and exits 0', () => {
    expect(runs.valid.status).toBe(0);
    expect(runs.valid.stdout).toMatch(/^VALID {2}system:serviceaccount:payments:api$/m);
    expect(runs.valid.stdout).toMatch(/^namespace: +payments$/m);
    expect(runs.valid.stdout).toMatch(/^pod: +api-7d9c5-x2x4z \(uid 1b4e28ba-2fa1-11d2-883f-0016d3cca427\)$/m);
    expect(runs.valid.stdout).toMatch(/^audiences: +api\.payments\.internal$/m);
    expect(runs.valid.stdout).toMatch(/^expires: +2027-01-01 01:00:00 \+00:00 \(in 58m\)$/m);

    expect(runs.validJson.status).toBe(0);
    expect(json('validJson')).toMatchObject({
      ok: true,
      identity: { username: 'system:serviceaccount:payments:api', namespace: 'payments', serviceAccount: 'api', audiences: [AUDIENCE], expiresAt: ISSUED_AT + 3600 },
    });
    expect(json('validJson').jwksUri).toMatch(/\/cluster-a\/openid\/v1\/jwks$/);
  });

  test('a refused token prints the reason code and exits 1', () => {
    for (const [name, reason] of [['wrongAudience', 'bad_audience'], ['unknownKid', 'unknown_kid'], ['expired', 'expired']] as const) {
      expect({ name, status: runs[name].status }).toEqual({ name, status: 1 });
      expect({ name, reason: json(name).reason }).toEqual({ name, reason });
      expect(json(name).ok).toBe(false);
    }
  });

  test('a discovery document for another issuer is refused, as go-oidc refuses it', () => {
    expect(runs.issuerMismatch.status).toBe(1);
    expect(runs.issuerMismatch.stderr).toMatch(/^error: discovery document at .*\/impostor\/\.well-known\/openid-configuration has "issuer" ".*\/cluster-a", not ".*\/impostor"/);
  });

  test('a redirecting jwks_uri is not followed', () => {
    expect(runs.redirect.status).toBe(1);
    expect(runs.redirect.stderr).toContain('redirects (HTTP 301');
  });

  test('plain http needs --allow-http (usage error otherwise)', () => {
    expect(runs.httpNotAllowed.status).toBe(2);
    expect(runs.httpNotAllowed.stderr).toContain('error: --issuer must use https://');
  });

  test('over HTTPS the private CA is needed, and then the token verifies', () => {
    expect(runs.httpsWithCa.status).toBe(0);
    expect(json('httpsWithCa').ok).toBe(true);
    expect(runs.httpsWithoutCa.status).toBe(1);
    expect(runs.httpsWithoutCa.stderr).toMatch(/^error: cannot fetch the discovery document: .*TLS failure/);
  });

  test('no output ever contains a whole token', () => {
    for (const run of Object.values(runs)) {
      expect(`${run.stdout}${run.stderr}`).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
    }
  });
});

/** A token with the claims kube-apiserver puts in a pod-bound projected token. */
function kubeToken(key: KeyObject, alg: 'RS256' | 'ES256', pair: OpensslKeyPair, issuer: string, audiences: string[]): Promise<string> {
  return new SignJWT({
    'kubernetes.io': {
      namespace: 'payments',
      node: { name: 'ip-10-0-1-17', uid: '7c9e6679-7425-40de-944b-e07fc1f90ae7' },
      pod: { name: 'api-7d9c5-x2x4z', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' },
      serviceaccount: { name: 'api', uid: '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e' },
    },
  })
    .setProtectedHeader({ alg, kid: pair.kid })
    .setIssuer(issuer)
    .setSubject('system:serviceaccount:payments:api')
    .setAudience(audiences)
    .setJti('0f8fad5b-d9cb-469f-a165-70867728950e')
    .setIssuedAt(ISSUED_AT)
    .setNotBefore(ISSUED_AT)
    .setExpirationTime(ISSUED_AT + 3600)
    .sign(key);
}
