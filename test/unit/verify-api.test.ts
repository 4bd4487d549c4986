/**
 * The Verify API's HTTP behaviour (core/verify-api.ts): the three routes, bad requests, the
 * key-set provider contract (503, one refetch for an unknown kid), caller audience bindings and
 * the per-request log line.
 */
import { createVerifier, type Verifier, type VerifierPolicy } from '../../core/verifier';
import { handleVerifyRequest, type ApiRequest, type KeySetProvider, type VerifyApiDeps } from '../../core/verify-api';
import { BILLING, NON_ORIGIN_TARGETS, ORDERS, UNDOCUMENTED_AUTH_TARGETS, UNSAFE_AUTH_TARGETS } from '../support/forward-auth-paths';
import { FIXTURE_NOW, kubeClaims, kubeFixtures, kubeToken, newTestKey, segments, TEST_ISSUER } from '../support/tokens';

const fixtures = kubeFixtures();
const { rsa, ec } = fixtures;
const policy: VerifierPolicy = { issuer: 'https://oidc.example.com/cluster-a', allowedAudiences: ['sts.amazonaws.com', 'api.payments.internal'], defaultAudiences: ['sts.amazonaws.com'] };
const verifier = createVerifier(fixtures.jwks, policy);
const validToken = fixtures.rs256Token;

function provider(current: Verifier | undefined, refreshed?: Verifier): KeySetProvider & { refreshes: string[] } {
  const refreshes: string[] = [];
  return {
    refreshes,
    current: async () => current,
    refreshForUnknownKid: async (kid) => {
      refreshes.push(kid);
      return refreshed;
    },
  };
}

function depsWith(keys: KeySetProvider = provider(verifier), extra: Partial<VerifyApiDeps> = {}): VerifyApiDeps & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { keys, now: () => FIXTURE_NOW, log: (line) => lines.push(line), authAudiences: ['sts.amazonaws.com'], lines, ...extra };
}

function request(overrides: Partial<ApiRequest>): ApiRequest {
  return { method: 'POST', path: '/verify', headers: {}, query: {}, ...overrides };
}

function tokenReview(token: string, audiences?: string[]): string {
  return JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } });
}

async function call(input: Partial<ApiRequest>, deps = depsWith()) {
  const response = await handleVerifyRequest(request(input), deps);
  return { ...response, json: JSON.parse(response.body) as Record<string, any> };
}

const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

describe('POST /apis/authentication.k8s.io/v1/tokenreviews', () => {
  it('answers a valid token with an authenticated TokenReview, without echoing the token', async () => {
    const response = await call({ path: TOKEN_REVIEW_PATH, body: tokenReview(validToken) });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      metadata: { creationTimestamp: null },
      status: {
        authenticated: true,
        user: {
          username: 'system:serviceaccount:payments:api',
          uid: '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e',
          groups: ['system:serviceaccounts', 'system:serviceaccounts:payments', 'system:authenticated'],
          extra: {
            'authentication.kubernetes.io/pod-name': ['api-7d9c5-x2x4z'],
            'authentication.kubernetes.io/pod-uid': ['1b4e28ba-2fa1-11d2-883f-0016d3cca427'],
            'authentication.kubernetes.io/node-name': ['ip-10-0-1-17'],
            'authentication.kubernetes.io/node-uid': ['7c9e6679-7425-40de-944b-e07fc1f90ae7'],
            'authentication.kubernetes.io/credential-id': ['JTI=0f8fad5b-d9cb-469f-a165-70867728950e'],
            'kube-oidc-aws.io/issuer': [TEST_ISSUER],
          },
        },
        audiences: ['sts.amazonaws.com'],
      },
    });
    expect(response.body).not.toContain(segments(validToken)[2]);
  });

  it('answers a bad token with 200 and authenticated: false, as webhook clients expect', async () => {
    const response = await call({ path: TOKEN_REVIEW_PATH, body: tokenReview(validToken, ['api.payments.internal']) });
    expect(response.status).toBe(200);
    expect(response.json.status).toEqual({ authenticated: false, user: {}, error: expect.stringMatching(/^bad_audience: /) });
  });

  it('refuses a request that is not a TokenReview with a Kubernetes Status body', async () => {
    const cases: [string | undefined, string][] = [
      [JSON.stringify({ kind: 'Pod', spec: { token: validToken } }), 'kind must be "TokenReview"'],
      [JSON.stringify({ apiVersion: 'authentication.k8s.io/v1beta1', spec: { token: validToken } }), 'apiVersion must be'],
      [JSON.stringify({ kind: 'TokenReview' }), 'no spec'],
      [JSON.stringify({ spec: { token: '' } }), 'spec.token is empty'],
      [JSON.stringify({ spec: { token: validToken, audiences: 'sts.amazonaws.com' } }), 'spec.audiences must be a list of strings'],
      ['{"spec":', 'not valid JSON'],
      [undefined, 'body is empty'],
    ];
    for (const [body, message] of cases) {
      const response = await call({ path: TOKEN_REVIEW_PATH, body });
      expect(response.status).toBe(400);
      expect(response.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: expect.stringContaining(message), reason: 'BadRequest', code: 400 });
    }
  });
});

describe('POST /verify', () => {
  it('answers a valid token with the flat identity', async () => {
    const response = await call({ body: JSON.stringify({ token: fixtures.es256Token, audiences: ['api.payments.internal'] }) });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      authenticated: true,
      user: {
        username: 'system:serviceaccount:payments:worker',
        uid: expect.any(String),
        groups: ['system:serviceaccounts', 'system:serviceaccounts:payments', 'system:authenticated'],
        extra: expect.objectContaining({ 'authentication.kubernetes.io/pod-name': ['worker-5f6b7-abcde'] }),
      },
      audiences: ['api.payments.internal'],
      expiresAt: 1798765200,
      namespace: 'payments',
      serviceAccount: 'worker',
      jti: '9a1c5d1e-3b7e-4a27-8f7e-2f0c3c4d5e6f',
      issuer: TEST_ISSUER,
    });
  });

  it('answers a refused token with 200, the reason code and a message', async () => {
    const response = await call({ body: JSON.stringify({ token: `${validToken}A` }) });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ authenticated: false, reason: 'bad_signature', message: expect.any(String) });
  });

  it('refuses bad requests with 400, 405 and 413 and a JSON error body', async () => {
    expect(await call({ body: '{"token": 5}' })).toMatchObject({ status: 400, json: { error: 'bad_request', message: '"token" must be a string' } });
    expect(await call({ body: '[]' })).toMatchObject({ status: 400, json: { error: 'bad_request' } });
    expect(await call({ body: 'token=abc' })).toMatchObject({ status: 400, json: { error: 'malformed_json' } });
    const wrongMethod = await call({ method: 'GET', body: undefined });
    expect(wrongMethod).toMatchObject({ status: 405, json: { error: 'method_not_allowed' } });
    expect(wrongMethod.headers.allow).toBe('POST');
    const tooLarge = await call({ body: JSON.stringify({ token: 'x'.repeat(70000) }) });
    expect(tooLarge).toMatchObject({ status: 413, json: { error: 'body_too_large', message: 'request body is larger than 65536 bytes' } });
    expect(await call({ body: undefined, bodyTooLarge: true })).toMatchObject({ status: 413 });
    expect(await call({ body: JSON.stringify({ token: validToken }) }, depsWith(undefined, { maxBodyBytes: 100 }))).toMatchObject({ status: 413 });
  });
});

describe('/auth forward-auth', () => {
  it('answers 200 with identity headers for a good bearer token, for any method and the documented paths', async () => {
    for (const [method, path] of [['GET', '/auth'], ['POST', '/auth/audience/sts.amazonaws.com/orders/42'], ['DELETE', '/auth/audience/sts.amazonaws.com'], ['HEAD', '/auth?x=1'], ['GET', '/auth/audience/sts.amazonaws.com/orders/']]) {
      const response = await call({ method, path, headers: { authorization: `Bearer ${validToken}` }, body: undefined });
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({
        'x-auth-request-user': 'system:serviceaccount:payments:api',
        'x-auth-request-uid': '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e',
        'x-auth-request-groups': 'system:serviceaccounts,system:serviceaccounts:payments,system:authenticated',
        'x-auth-request-namespace': 'payments',
        'x-auth-request-service-account': 'api',
        'x-auth-request-audiences': 'sts.amazonaws.com',
        'x-auth-request-expires-at': '1798765200',
        'x-auth-request-pod-name': 'api-7d9c5-x2x4z',
        'x-auth-request-pod-uid': '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
        'x-auth-request-node-name': 'ip-10-0-1-17',
        'x-auth-request-jti': '0f8fad5b-d9cb-469f-a165-70867728950e',
      });
    }
  });

  it('answers 401 with a Bearer challenge, never a redirect', async () => {
    const missing = await call({ method: 'GET', path: '/auth' });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    const basic = await call({ method: 'GET', path: '/auth', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
    const bad = await call({ method: 'GET', path: '/auth', headers: { authorization: `Bearer ${validToken}A` } });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="bad_signature"');
    expect(bad.json).toEqual({ authenticated: false, reason: 'bad_signature', message: expect.any(String) });
    expect(bad.headers.location).toBeUndefined();
  });

  it('checks the configured audiences, or the one the proxy fixes in the path, never one from the query', async () => {
    const esHeaders = { authorization: `bearer ${fixtures.es256Token}` };
    expect((await call({ method: 'GET', path: '/auth', headers: esHeaders })).status).toBe(401);
    const fixed = await call({ method: 'GET', path: '/auth/audience/api.payments.internal/orders/42', headers: esHeaders });
    expect(fixed.status).toBe(200);
    expect(fixed.headers['x-auth-request-audiences']).toBe('api.payments.internal');
    // Envoy appends the client's query: it must not choose the audience.
    const fromQuery = await call({ method: 'GET', path: '/auth?audience=api.payments.internal', headers: esHeaders, query: { audience: 'api.payments.internal' } });
    expect(fromQuery.status).toBe(401);
    expect(fromQuery.headers['www-authenticate']).toContain('bad_audience');
    const configured = await call({ method: 'GET', path: '/auth', headers: esHeaders }, depsWith(undefined, { authAudiences: ['api.payments.internal'] }));
    expect(configured.status).toBe(200);
    const notAllowed = await call({ method: 'GET', path: '/auth/audience/other.internal/x', headers: esHeaders });
    expect(notAllowed.status).toBe(401);
    const malformed = await call({ method: 'GET', path: '/auth/audience/%E0%A4%A/x', headers: esHeaders });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toEqual({ error: 'bad_request', message: expect.stringContaining('percent-encoding') });
  });

  it('keeps header values printable', async () => {
    const key = newTestKey('ES256');
    const keyed = createVerifier({ keys: [key.jwk] }, policy);
    const token = kubeToken(key, kubeClaims({ podName: 'pod\r\nx-injected: 1' }));
    const response = await call({ method: 'GET', path: '/auth', headers: { authorization: `Bearer ${token}` } }, depsWith(provider(keyed)));
    expect(response.status).toBe(200);
    expect(response.headers['x-auth-request-pod-name']).toBe('pod%0D%0Ax-injected%3A%201');
  });
});

describe('forward-auth paths (issue 12 §2: the audience cannot be switched by the path)', () => {
  const key = newTestKey('ES256');
  const twoAudiences = createVerifier({ keys: [key.jwk] }, { issuer: policy.issuer, allowedAudiences: [ORDERS, BILLING], defaultAudiences: [ORDERS] });
  const billingToken = kubeToken(key, kubeClaims({ audiences: [BILLING] }));
  const ordersToken = kubeToken(key, kubeClaims({ audiences: [ORDERS] }));
  const deps = () => depsWith(provider(twoAudiences), { authAudiences: [ORDERS] });
  const auth = (path: string, token = billingToken, headers: Record<string, string | string[]> = {}) =>
    call({ method: 'GET', path, headers: { authorization: `Bearer ${token}`, ...headers }, body: undefined }, deps());

  it('checks the audience the documented paths name, and only that one', async () => {
    expect((await auth(`/auth/audience/${ORDERS}/x`, ordersToken)).status).toBe(200);
    expect((await auth(`/auth/audience/${ORDERS}/x`)).status).toBe(401);
    expect((await auth('/auth')).status).toBe(401);
    expect((await auth('/auth', ordersToken)).status).toBe(200);
    const billing = await auth(`/auth/audience/${BILLING}/x`);
    expect(billing.status).toBe(200);
    expect(billing.headers['x-auth-request-audiences']).toBe(BILLING);
  });

  it.each(UNSAFE_AUTH_TARGETS.map((c) => [c.why, c.target, c.status] as const))('refuses %s with 400 and a JSON reason: %s', async (_why, target, status) => {
    const response = await auth(target);
    expect(response.status).toBe(status);
    expect(response.json).toEqual({ error: 'bad_request', message: expect.stringMatching(/^forward-auth path refused: |names no audience/) });
    expect(response.headers['x-auth-request-audiences']).toBeUndefined();
  });

  it.each(UNDOCUMENTED_AUTH_TARGETS.map((c) => [c.why, c.target] as const))('answers 404 for an undocumented form (%s): %s, never the configured audiences', async (_why, target) => {
    const response = await auth(target, ordersToken);
    expect(response.status).toBe(404);
    expect(response.json).toEqual({ error: 'not_found', message: expect.stringContaining('/auth/audience/AUD') });
  });

  it.each(NON_ORIGIN_TARGETS.map((c) => [c.why, c.target] as const))('answers 400, never 500, for a target that is not origin-form (%s): %s', async (_why, target) => {
    const response = await auth(target, ordersToken);
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: 'bad_request', message: expect.stringContaining('not origin-form') });
  });

  it('refuses more than one Authorization header with 401 and no identity, whether listed or comma-joined', async () => {
    for (const authorization of [[`Bearer ${ordersToken}`, `Bearer ${ordersToken}`], [`Bearer junk`, `Bearer ${ordersToken}`], `Bearer junk,Bearer ${ordersToken}`, `Bearer ${ordersToken},Bearer ${ordersToken}`]) {
      const response = await call({ method: 'GET', path: '/auth', headers: { authorization } }, deps());
      expect(response.status).toBe(401);
      expect(response.json).toEqual({ authenticated: false, reason: 'malformed', message: 'more than one Authorization header' });
      expect(Object.keys(response.headers).filter((name) => name.startsWith('x-auth-request-'))).toEqual([]);
    }
    // One header given as a one-item list is one header.
    expect((await call({ method: 'GET', path: '/auth', headers: { authorization: [`Bearer ${ordersToken}`] } }, deps())).status).toBe(200);
  });
});

describe('request bodies (issue 12 §5)', () => {
  it('refuses a body that repeats a member with 400, on /verify and TokenReview alike', async () => {
    const verifyBody = `{"token":"junk","token":${JSON.stringify(validToken)}}`;
    const verify = await call({ body: verifyBody });
    expect(verify.status).toBe(400);
    expect(verify.json).toEqual({ error: 'malformed_json', message: 'request body repeats the member "token"' });
    const nested = `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"junk","token":${JSON.stringify(validToken)}}}`;
    const review = await call({ path: TOKEN_REVIEW_PATH, body: nested });
    expect(review.status).toBe(400);
    expect(review.json).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400, message: 'request body repeats the member "token"' });
    const escaped = `{"token":"junk","\\u0074oken":${JSON.stringify(validToken)}}`;
    expect((await call({ body: escaped })).status).toBe(400);
    // Not a false alarm: a colon inside a value is no member.
    expect((await call({ body: JSON.stringify({ token: validToken, audiences: ['a:"b', ': token'] }) })).status).toBe(200);
  });

  it('cuts a quoted kind or apiVersion to the length of other quoted values', async () => {
    for (const body of [{ kind: 'K'.repeat(5000), spec: { token: validToken } }, { apiVersion: 'v'.repeat(5000), spec: { token: validToken } }, { kind: { nested: 'x'.repeat(5000) }, spec: { token: validToken } }]) {
      const response = await call({ path: TOKEN_REVIEW_PATH, body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(response.json.message.length).toBeLessThan(220);
      expect(response.json.message).toContain('…');
    }
  });
});

describe('routing', () => {
  it('answers an unknown path with 404 and a JSON body naming the routes', async () => {
    for (const path of ['/', '/verify/extra', '/authx', '/apis/authentication.k8s.io/v1beta1/tokenreviews']) {
      const response = await call({ path, body: '{}' });
      expect(response.status).toBe(404);
      expect(response.json).toEqual({ error: 'not_found', message: expect.stringContaining('POST /verify') });
    }
  });

  it('sends JSON that must not be cached', async () => {
    const response = await call({ body: JSON.stringify({ token: validToken }) });
    expect(response.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  });
});

describe('key set availability', () => {
  it('answers 503 on every route when no key set is usable, and after bad requests are ruled out', async () => {
    const none = depsWith(provider(undefined));
    const verify = await call({ body: JSON.stringify({ token: validToken }) }, none);
    expect(verify).toMatchObject({ status: 503, json: { error: 'unavailable' } });
    expect(verify.headers['retry-after']).toBe('5');
    expect((await call({ path: TOKEN_REVIEW_PATH, body: tokenReview(validToken) }, none)).json).toMatchObject({ kind: 'Status', code: 503, reason: 'ServiceUnavailable' });
    expect((await call({ method: 'GET', path: '/auth', headers: { authorization: `Bearer ${validToken}` } }, none)).status).toBe(503);
    expect((await call({ body: '{' }, none)).status).toBe(400);
  });

  it('treats a failing provider as no key set', async () => {
    const failing: KeySetProvider = { current: async () => Promise.reject(new Error('S3 down')), refreshForUnknownKid: async () => undefined };
    expect((await call({ body: JSON.stringify({ token: validToken }) }, depsWith(failing))).status).toBe(503);
  });
});

describe('unknown kid', () => {
  const newKey = newTestKey('RS256');
  const newToken = kubeToken(newKey);

  it('asks the provider once for a fresher key set and retries with it', async () => {
    const keys = provider(verifier, createVerifier({ keys: [...fixtures.jwks.keys, newKey.jwk] }, policy));
    const response = await call({ body: JSON.stringify({ token: newToken }) }, depsWith(keys));
    expect(response.json.authenticated).toBe(true);
    expect(keys.refreshes).toEqual([newKey.kid]);
  });

  it('answers unknown_kid when the provider has nothing newer (say, within its cooldown)', async () => {
    const keys = provider(verifier, undefined);
    const response = await call({ body: JSON.stringify({ token: newToken }) }, depsWith(keys));
    expect(response.json).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
    expect(keys.refreshes).toEqual([newKey.kid]);
  });

  it('does not ask for other refusals', async () => {
    const keys = provider(verifier, undefined);
    await call({ body: JSON.stringify({ token: `${validToken}A` }) }, depsWith(keys));
    await call({ body: JSON.stringify({ token: kubeToken(ec, kubeClaims(), { kid: undefined }) }) }, depsWith(keys));
    expect(keys.refreshes).toEqual([]);
  });
});

describe('caller audience bindings (IAM authorization)', () => {
  it('refuses audiences the caller is not bound to, and uses the bound ones by default', async () => {
    const bound = { callerAudiences: ['api.payments.internal'] };
    const other = await call({ ...bound, body: JSON.stringify({ token: validToken, audiences: ['sts.amazonaws.com'] }) });
    expect(other.json).toMatchObject({ authenticated: false, reason: 'bad_audience', message: expect.stringContaining('this caller may not') });
    const byDefault = await call({ ...bound, body: JSON.stringify({ token: fixtures.es256Token }) });
    expect(byDefault.json).toMatchObject({ authenticated: true, audiences: ['api.payments.internal'] });
    const stsByDefault = await call({ ...bound, body: JSON.stringify({ token: validToken }) });
    expect(stsByDefault.json).toMatchObject({ authenticated: false, reason: 'bad_audience' });
    const unbound = await call({ callerAudiences: [], body: JSON.stringify({ token: validToken }) });
    expect(unbound.json).toMatchObject({ authenticated: false, reason: 'bad_audience' });
  });
});

describe('logging', () => {
  it('writes one line per request with verdict, reason, kid, sub, jti and latency, never the token', async () => {
    const deps = depsWith();
    await handleVerifyRequest(request({ body: JSON.stringify({ token: validToken }) }), deps);
    await handleVerifyRequest(request({ body: JSON.stringify({ token: `${validToken}A` }) }), deps);
    await handleVerifyRequest(request({ path: '/nope' }), deps);
    expect(deps.lines).toEqual([
      {
        event: 'verify_request',
        route: 'verify',
        method: 'POST',
        status: 200,
        verdict: 'authenticated',
        kid: rsa.kid,
        sub: 'system:serviceaccount:payments:api',
        jti: '0f8fad5b-d9cb-469f-a165-70867728950e',
        iss: TEST_ISSUER,
        latencyMs: expect.any(Number),
      },
      { event: 'verify_request', route: 'verify', method: 'POST', status: 200, verdict: 'rejected', reason: 'bad_signature', kid: rsa.kid, latencyMs: expect.any(Number) },
      { event: 'verify_request', route: 'none', method: 'POST', status: 404, verdict: 'request_error', reason: 'not_found', latencyMs: expect.any(Number) },
    ]);
    const logged = JSON.stringify(deps.lines);
    for (const segment of segments(validToken)) expect(logged).not.toContain(segment.slice(0, 30));
  });

  it('measures latency with the given monotonic clock', async () => {
    let clock = 1000;
    const deps = depsWith(undefined, { clockMs: () => (clock += 2.5) });
    await handleVerifyRequest(request({ body: JSON.stringify({ token: validToken }) }), deps);
    expect(deps.lines[0].latencyMs).toBe(2.5);
  });

  it('answers even when the log sink throws, and turns a verifier bug into a logged 500', async () => {
    const throwingLog = depsWith(undefined, {
      log: () => {
        throw new Error('sink full');
      },
    });
    expect((await handleVerifyRequest(request({ body: JSON.stringify({ token: validToken }) }), throwingLog)).status).toBe(200);
    const broken = { ...verifier, verify: () => { throw new Error('bug'); } } as Verifier;
    const deps = depsWith(provider(broken));
    const response = await handleVerifyRequest(request({ body: JSON.stringify({ token: validToken }) }), deps);
    expect(response.status).toBe(500);
    expect(deps.lines[0]).toEqual({ event: 'verify_api_error', error: 'Error: bug' });
  });
});
