/**
 * The verifier Lambda handler end to end on moto: the sync publishes the JWKS to S3, the handler
 * reads it with its SDK-free signed GET, and answers API Gateway HTTP API (v2) events for each route.
 */
import { generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SignJWT } from 'jose';
import { buildJwks, serializeJwks } from '../../core/documents';
import { jwkFromPublicKey } from '../../core/keys';
import { configKeysSource } from '../../runtime/key-sources';
import { S3ObjectStore } from '../../runtime/s3-object-store';
import { runSync } from '../../runtime/sync-runner';
import { BILLING, NON_ORIGIN_TARGETS, ORDERS, UNDOCUMENTED_AUTH_TARGETS, UNSAFE_AUTH_TARGETS } from '../support/forward-auth-paths';
import { Moto, startMoto } from '../support/moto';

const ISSUER = 'https://oidc.example.com/cluster-a';
const AUDIENCE = 'api.payments.internal';
type Handler = (event: APIGatewayProxyEventV2WithIAMAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;

let moto: Moto;
let handler: Handler;
let privateStore: S3ObjectStore;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

async function token(key: KeyObject, alg: 'RS256' | 'ES256', overrides: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const kid = jwkFromPublicKey(key.type === 'private' ? (alg === 'RS256' ? rsa.publicKey : ec.publicKey) : key).kid;
  return new SignJWT({
    'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api', uid: 'sa-uid-1' }, pod: { name: 'api-1', uid: 'pod-uid-1' }, node: { name: 'node-1', uid: 'node-uid-1' } },
    ...overrides,
  })
    .setProtectedHeader({ alg, kid })
    .setIssuer(ISSUER)
    .setSubject('system:serviceaccount:payments:api')
    .setAudience([typeof overrides.aud === 'string' ? overrides.aud : AUDIENCE])
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .setJti(typeof overrides.jti === 'string' ? overrides.jti : randomUUID())
    .sign(key);
}

function event(method: string, path: string | undefined, options: { body?: string; headers?: Record<string, string>; query?: Record<string, string> } = {}): APIGatewayProxyEventV2WithIAMAuthorizer {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...(options.headers ?? {}) },
    queryStringParameters: options.query,
    body: options.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012', apiId: 'api', domainName: 'x', domainPrefix: 'x', requestId: randomUUID(), routeKey: '$default', stage: '$default', time: '', timeEpoch: Date.now(),
      http: { method, path: path as string, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'jest' },
      authorizer: { iam: undefined as never },
    },
  } as APIGatewayProxyEventV2WithIAMAuthorizer;
}

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBuckets('docs-bucket', 'private-bucket');
  const documents = new S3ObjectStore(moto.s3(), 'docs-bucket');
  privateStore = new S3ObjectStore(moto.s3(), 'private-bucket');
  const configJwks = serializeJwks(buildJwks([jwkFromPublicKey(rsa.publicKey), jwkFromPublicKey(ec.publicKey)]));
  const report = await runSync(
    { documents, privateStore, sources: [configKeysSource(configJwks)], now: () => Math.floor(Date.now() / 1000) },
    { issuer: ISSUER, stateKey: 'state/rotation.json', denyListKey: 'control/deny-list.json', gracePeriodSeconds: 3600, cacheMaxAgeSeconds: 300, includeKidlessDuplicates: false },
  );
  expect(report.outcome).toBe('published');

  Object.assign(process.env, moto.env, {
    ISSUER_URL: ISSUER,
    DOCUMENTS_BUCKET: 'docs-bucket',
    JWKS_KEY: 'cluster-a/openid/v1/jwks',
    PRIVATE_BUCKET: 'private-bucket',
    DENY_LIST_KEY: 'control/deny-list.json',
    ALLOWED_AUDIENCES: JSON.stringify([AUDIENCE, 'other.internal']),
    DEFAULT_AUDIENCES: JSON.stringify([AUDIENCE]),
    KEYS_TTL_SECONDS: '0',
  });
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda/token-verifier/index').handler as Handler;
  });
});
afterAll(async () => {
  await moto?.stop();
});

describe('verifier Lambda on API Gateway v2 events', () => {
  it('POST /verify accepts RS256 and ES256 tokens of published keys and answers who they are', async () => {
    for (const [key, alg] of [[rsa.privateKey, 'RS256'], [ec.privateKey, 'ES256']] as const) {
      const res = await handler(event('POST', '/verify', { body: JSON.stringify({ token: await token(key, alg), audiences: [AUDIENCE] }) }));
      expect(res.statusCode).toBe(200);
      const body = JSON.parse(res.body as string);
      expect(body.authenticated).toBe(true);
      expect(body.user.username).toBe('system:serviceaccount:payments:api');
      expect(body.audiences).toEqual([AUDIENCE]);
    }
  });

  it('the TokenReview route answers a bad token with 200 and authenticated false', async () => {
    const good = await token(rsa.privateKey, 'RS256');
    const review = (tok: string) => JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tok } });
    const ok = await handler(event('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: review(good) }));
    expect(ok.statusCode).toBe(200);
    const okBody = JSON.parse(ok.body as string);
    expect(okBody.kind).toBe('TokenReview');
    expect(okBody.status.authenticated).toBe(true);
    expect(okBody.status.user.groups).toEqual(expect.arrayContaining(['system:serviceaccounts', 'system:serviceaccounts:payments', 'system:authenticated']));

    const tampered = `${good.slice(0, -4)}AAAA`;
    const bad = await handler(event('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: review(tampered) }));
    expect(bad.statusCode).toBe(200);
    expect(JSON.parse(bad.body as string).status.authenticated).toBe(false);
  });

  it('forward-auth answers 200 with identity headers or 401 with WWW-Authenticate, never a redirect', async () => {
    const good = await token(ec.privateKey, 'ES256');
    const ok = await handler(event('GET', `/auth/audience/${AUDIENCE}/some/original/path`, { headers: { authorization: `Bearer ${good}` } }));
    expect(ok.statusCode).toBe(200);
    expect(JSON.stringify(ok.headers)).toContain('system:serviceaccount:payments:api');
    const denied = await handler(event('GET', '/auth', { headers: { authorization: 'Bearer not-a-token' } }));
    expect(denied.statusCode).toBe(401);
    expect(String(denied.headers?.['www-authenticate'] ?? denied.headers?.['WWW-Authenticate'])).toContain('invalid_token');
  });

  it('bad requests get 4xx with a JSON reason', async () => {
    const malformed = await handler(event('POST', '/verify', { body: '{not json' }));
    expect(malformed.statusCode).toBe(400);
    expect(JSON.parse(malformed.body as string)).toHaveProperty('error');
    const unknown = await handler(event('GET', '/nope'));
    expect(unknown.statusCode).toBe(404);
    const wrongMethod = await handler(event('GET', '/verify'));
    expect(wrongMethod.statusCode).toBe(405);
  });

  it('a jti added to the deny list in the private bucket is refused as revoked', async () => {
    const jti = randomUUID();
    const denied = await token(rsa.privateKey, 'RS256', { jti });
    await privateStore.put('control/deny-list.json', JSON.stringify({ version: 1, kids: [], jtis: [{ value: jti, reason: 'test', addedAt: '2027-01-01T00:00:00Z' }], podUids: [], serviceAccounts: [] }));
    try {
      const res = await handler(event('POST', '/verify', { body: JSON.stringify({ token: denied }) }));
      const body = JSON.parse(res.body as string);
      expect(body.authenticated).toBe(false);
      expect(body.reason).toBe('revoked');
    } finally {
      await privateStore.delete('control/deny-list.json');
    }
  });
});

describe('verifier Lambda, forward-auth paths and headers as API Gateway HTTP API passes them (issue 12 §2, §5)', () => {
  // The shared cases name orders and billing; this stack's audiences are AUDIENCE and other.internal.
  const mapped = (target: string) => target.split(ORDERS).join(AUDIENCE).split(BILLING).join('other.internal');
  /**
   * HTTP API hands the Lambda a percent-DECODED rawPath (docs/verify-api.md). So each raw case is
   * also sent decoded once, which is what the Lambda sees when the client percent-encodes it.
   */
  const decodedOnce = (target: string) => target.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));

  it('refuses every unsafe /auth path raw, and never lets the other audience\'s token through once decoded', async () => {
    const other = await token(ec.privateKey, 'ES256', { aud: 'other.internal' });
    for (const { target, status, why } of UNSAFE_AUTH_TARGETS) {
      const raw = await handler(event('GET', mapped(target), { headers: { authorization: `Bearer ${other}` } }));
      expect([why, raw.statusCode]).toEqual([why, status]);
      expect(JSON.parse(raw.body as string)).toEqual({ error: 'bad_request', message: expect.any(String) });
      const decoded = await handler(event('GET', decodedOnce(mapped(target)), { headers: { authorization: `Bearer ${other}` } }));
      // Decoding can turn the path into another valid one (orders%2Fx -> orders/x): it must then check orders, not other.
      expect([why, decoded.statusCode]).toEqual([why, expect.any(Number)]);
      expect([why, [400, 401, 404].includes(decoded.statusCode as number)]).toEqual([why, true]);
    }
  });

  it('answers 404 for undocumented /auth forms and 400 for a missing or non-origin rawPath, never 500', async () => {
    const good = await token(ec.privateKey, 'ES256');
    for (const { target } of UNDOCUMENTED_AUTH_TARGETS) {
      expect([target, (await handler(event('GET', target, { headers: { authorization: `Bearer ${good}` } }))).statusCode]).toEqual([target, 404]);
    }
    for (const target of [...NON_ORIGIN_TARGETS.map((c) => c.target), undefined, '']) {
      const res = await handler(event('GET', target, { headers: { authorization: `Bearer ${good}` } }));
      expect([target, res.statusCode]).toEqual([target, 400]);
    }
  });

  it('refuses two Authorization headers, which payload 2.0 joins with a comma, with 401 and no identity', async () => {
    const good = await token(ec.privateKey, 'ES256');
    for (const authorization of [`Bearer junk,Bearer ${good}`, `Bearer ${good},Bearer ${good}`, `Bearer ${good}, Bearer junk`]) {
      const res = await handler(event('GET', '/auth', { headers: { authorization } }));
      expect(res.statusCode).toBe(401);
      expect(Object.keys(res.headers ?? {}).filter((name) => name.startsWith('x-auth-request-'))).toEqual([]);
    }
    const mixedCase = await handler(event('GET', '/auth', { headers: { Authorization: `Bearer ${good}` } }));
    expect(mixedCase.statusCode).toBe(200);
  });

  it('refuses a body with a repeated token member with 400', async () => {
    const good = await token(rsa.privateKey, 'RS256');
    const res = await handler(event('POST', '/verify', { body: `{"token":"junk","token":${JSON.stringify(good)}}` }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body as string).error).toBe('malformed_json');
  });
});
