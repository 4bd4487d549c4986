/**
 * The verifier Lambda as a fleet verifier (`TRUSTED_ISSUERS`) on moto and local issuers: two
 * clusters of this project read from their documents buckets (one with a deny list in its
 * private bucket), one external issuer through OIDC discovery over HTTPS on a private CA, one
 * through discovery over loopback HTTP, and one with a hand-typed JWKS URL. Each token is checked
 * with its own issuer's keys only; a cold start reads only the issuers whose tokens arrive.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { addDenyEntry, emptyDenyList, serializeDenyList } from '../../core/deny-list';
import { buildJwks, documentPaths, serializeJwks } from '../../core/documents';
import { S3ObjectStore } from '../../runtime/s3-object-store';
import { makeTestPki, publishIssuer, startIssuerServer, type IssuerServer, type TestPki } from '../support/issuer-server';
import { Moto, startMoto } from '../support/moto';
import { kubeClaims, kubeToken, newTestKey } from '../support/tokens';

const AUDIENCE = 'api.payments.internal';
const ALPHA = 'https://oidc.example.com/clusters/alpha';
const BETA = 'https://oidc.example.com/clusters/beta';
type Handler = (event: APIGatewayProxyEventV2WithIAMAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;

const keys = { alpha: newTestKey('RS256'), beta: newTestKey('ES256'), tls: newTestKey('ES256'), plain: newTestKey('ES256'), manual: newTestKey('ES256') };
let moto: Moto;
let pki: TestPki;
let tlsServer: IssuerServer;
let plainServer: IssuerServer;
let handler: Handler;
let issuers: { tls: string; plain: string; manual: string };
const savedEnv = { ...process.env };

function tokenFor(key: (typeof keys)[keyof typeof keys], issuer: string, overrides: Parameters<typeof kubeClaims>[0] = {}): string {
  const iat = Math.floor(Date.now() / 1000) - 5;
  return kubeToken(key, kubeClaims({ issuer, audiences: [AUDIENCE], iat, jti: randomUUID(), ...overrides }));
}

function event(method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}): APIGatewayProxyEventV2WithIAMAuthorizer {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(options.headers ?? {}) },
    body: options.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012', apiId: 'api', domainName: 'x', domainPrefix: 'x', requestId: randomUUID(), routeKey: '$default', stage: '$default', time: '', timeEpoch: Date.now(),
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'jest' },
      authorizer: { iam: undefined as never },
    },
  } as APIGatewayProxyEventV2WithIAMAuthorizer;
}

async function verify(token: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await handler(event('POST', '/verify', { body: JSON.stringify({ token }) }));
  return { status: res.statusCode as number, body: JSON.parse(res.body as string) };
}

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBuckets('docs-alpha', 'docs-beta', 'private-beta');
  await new S3ObjectStore(moto.s3(), 'docs-alpha').put(documentPaths(ALPHA).jwksKey, serializeJwks(buildJwks([keys.alpha.jwk])));
  await new S3ObjectStore(moto.s3(), 'docs-beta').put(documentPaths(BETA).jwksKey, serializeJwks(buildJwks([keys.beta.jwk])));
  const denyList = addDenyEntry(emptyDenyList(), 'serviceAccount', 'payments/retired', { at: Math.floor(Date.now() / 1000) });
  await new S3ObjectStore(moto.s3(), 'private-beta').put('control/deny-list.json', serializeDenyList(denyList));

  pki = makeTestPki();
  tlsServer = await startIssuerServer({ tls: pki.server });
  plainServer = await startIssuerServer();
  const tls = publishIssuer(tlsServer, { jwks: { keys: [keys.tls.jwk] }, issuerPath: '/id/EXAMPLED539D4633E53DE1B71EXAMPLE' });
  const plain = publishIssuer(plainServer, { jwks: { keys: [keys.plain.jwk] }, issuerPath: '/plain' });
  const manual = publishIssuer(plainServer, { jwks: { keys: [keys.manual.jwk] }, issuerPath: '/manual', discoveryOverrides: { issuer: 'https://somewhere-else.example' } });
  issuers = { tls: tls.issuer, plain: plain.issuer, manual: manual.issuer };

  Object.assign(process.env, moto.env, {
    ALLOWED_AUDIENCES: JSON.stringify([AUDIENCE]),
    TRUSTED_ISSUERS: JSON.stringify([
      { issuer: ALPHA, cluster: 'alpha', documentsBucket: 'docs-alpha' },
      { issuer: BETA, cluster: 'beta', documentsBucket: 'docs-beta', jwksKey: documentPaths(BETA).jwksKey, privateBucket: 'private-beta' },
      // Re-read on every request, and usable for 2 s after its last good read: its outage shows quickly.
      { issuer: issuers.tls, cluster: 'eks-like', discovery: true, caBundle: pki.caPem, keysTtlSeconds: 0, staleWindowSeconds: 2 },
      { issuer: issuers.plain, discovery: true },
      // Its discovery document names another issuer: only the configured JWKS URL makes it usable.
      { issuer: issuers.manual, jwksUrl: `${plainServer.origin}${manual.jwksPath}` },
    ]),
  });
  for (const name of ['ISSUER_URL', 'DOCUMENTS_BUCKET', 'JWKS_KEY', 'PRIVATE_BUCKET']) delete process.env[name];
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda/token-verifier/index').handler as Handler;
  });
});

afterAll(async () => {
  await moto?.stop();
  await tlsServer?.close();
  await plainServer?.close();
  if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

describe('the verifier Lambda trusting several issuers', () => {
  it('a cold start reads nothing until a token names an issuer, then only that issuer\'s keys', async () => {
    expect(tlsServer.requests).toEqual([]);
    expect(plainServer.requests).toEqual([]);
    const answer = await verify(tokenFor(keys.plain, issuers.plain));
    expect(answer.body).toMatchObject({ authenticated: true, issuer: issuers.plain });
    expect('cluster' in answer.body).toBe(false);
    expect(plainServer.requests.map((request) => request.path)).toEqual(['/plain/.well-known/openid-configuration', '/plain/openid/v1/jwks']);
    expect(tlsServer.requests).toEqual([]);
  });

  it('accepts each issuer\'s tokens with its own keys, naming issuer and cluster', async () => {
    expect((await verify(tokenFor(keys.alpha, ALPHA))).body).toMatchObject({ authenticated: true, issuer: ALPHA, cluster: 'alpha' });
    expect((await verify(tokenFor(keys.beta, BETA))).body).toMatchObject({ authenticated: true, issuer: BETA, cluster: 'beta' });
    expect((await verify(tokenFor(keys.tls, issuers.tls))).body).toMatchObject({ authenticated: true, issuer: issuers.tls, cluster: 'eks-like' });
    expect((await verify(tokenFor(keys.manual, issuers.manual))).body).toMatchObject({ authenticated: true, issuer: issuers.manual });
  });

  it('refuses a token claiming one cluster but signed by another cluster\'s key', async () => {
    expect((await verify(tokenFor(keys.beta, ALPHA))).body).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
    expect((await verify(tokenFor(keys.alpha, BETA))).body).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
  });

  it('refuses an unknown issuer without a fetch, and a trailing-slash variant of a known one', async () => {
    const before = plainServer.requests.length + tlsServer.requests.length;
    expect((await verify(tokenFor(keys.plain, `${plainServer.origin}/not-configured`))).body).toMatchObject({ authenticated: false, reason: 'unknown_issuer' });
    expect((await verify(tokenFor(keys.plain, `${issuers.plain}/`))).body).toMatchObject({ authenticated: false, reason: 'unknown_issuer' });
    expect((await verify(tokenFor(keys.tls, new URL(issuers.tls).origin))).body).toMatchObject({ authenticated: false, reason: 'unknown_issuer' });
    expect(plainServer.requests.length + tlsServer.requests.length).toBe(before);
  });

  it('applies the deny list of the issuer\'s own private bucket only', async () => {
    expect((await verify(tokenFor(keys.beta, BETA, { serviceAccount: 'retired' }))).body).toMatchObject({ authenticated: false, reason: 'revoked' });
    expect((await verify(tokenFor(keys.alpha, ALPHA, { serviceAccount: 'retired' }))).body).toMatchObject({ authenticated: true, cluster: 'alpha' });
  });

  it('TokenReview and /auth name the issuer and cluster too', async () => {
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tokenFor(keys.beta, BETA) } });
    const reviewed = JSON.parse((await handler(event('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: review }))).body as string);
    expect(reviewed.status.user.extra).toMatchObject({ 'kube-oidc-aws.io/issuer': [BETA], 'kube-oidc-aws.io/cluster': ['beta'] });
    const auth = await handler(event('GET', '/auth', { headers: { authorization: `Bearer ${tokenFor(keys.alpha, ALPHA)}` } }));
    expect(auth.statusCode).toBe(200);
    expect(auth.headers).toMatchObject({ 'x-auth-request-issuer': ALPHA, 'x-auth-request-cluster': 'alpha' });
  });

  it('an issuer whose documents vanish answers 503 only after its own stale window; others keep answering', async () => {
    expect((await verify(tokenFor(keys.tls, issuers.tls))).status).toBe(200);
    tlsServer.clear();
    const requestsBefore = tlsServer.requests.length;
    // Within its 2 s stale window the last good keys still serve, although the reload failed.
    expect((await verify(tokenFor(keys.tls, issuers.tls))).status).toBe(200);
    expect(tlsServer.requests.length).toBeGreaterThan(requestsBefore);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const down = await verify(tokenFor(keys.tls, issuers.tls));
    expect(down.status).toBe(503);
    expect(down.body.error).toBe('unavailable');
    expect((await verify(tokenFor(keys.alpha, ALPHA))).status).toBe(200);
    expect((await verify(tokenFor(keys.plain, issuers.plain))).status).toBe(200);
    // Back: discovery is read again (the jwks_uri was dropped with the failure) and keys load.
    publishIssuer(tlsServer, { jwks: { keys: [keys.tls.jwk] }, issuerPath: new URL(issuers.tls).pathname });
    expect((await verify(tokenFor(keys.tls, issuers.tls))).status).toBe(200);
  });
});
