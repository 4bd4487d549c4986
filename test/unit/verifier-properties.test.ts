/**
 * Properties of the verifier and the Verify API handler, over generated input: nothing throws,
 * nothing answers 5xx, and no change to a valid token's decoded bytes is accepted.
 */
import fc from 'fast-check';
import { createVerifier, type VerifierPolicy } from '../../core/verifier';
import { handleVerifyRequest, type ApiRequest } from '../../core/verify-api';
import { b64url, FIXTURE_NOW, kubeClaims, kubeFixtures, kubeToken, referenceVerify, segments, signToken } from '../support/tokens';

const fixtures = kubeFixtures();
const { rsa, ec } = fixtures;
const policy: VerifierPolicy = { issuer: 'https://oidc.example.com/cluster-a', allowedAudiences: ['sts.amazonaws.com', 'api.payments.internal'] };
const jwks = { keys: [rsa.jwk, ec.jwk] };
const verifier = createVerifier(jwks, policy);
const now = FIXTURE_NOW;
const validTokens = [fixtures.rs256Token, fixtures.es256Token, kubeToken(rsa), kubeToken(ec, kubeClaims({ audiences: ['api.payments.internal'] }))];

/** Each segment's decoded bytes, the way kube judges a token. */
function decoded(token: string): string[] {
  return token.split('.').map((segment) => Buffer.from(segment, 'base64url').toString('hex'));
}

describe('verify never throws and accepts nothing by accident', () => {
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('.', 'e', 'y', 'J', '-', '_', '=', 'A') })), (input) => {
        expect(verifier.verify(input, { now }).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('on arbitrary bytes, read as text both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        for (const text of [Buffer.from(bytes).toString('latin1'), Buffer.from(bytes).toString('utf8')]) {
          expect(verifier.verify(text, { now }).ok).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('on three segments of arbitrary bytes and arbitrary JSON', () => {
    const segment = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => b64url(bytes)),
      fc.jsonValue().map((value) => b64url(JSON.stringify(value) ?? 'null')),
      fc.constant(segments(fixtures.rs256Token)[0]),
    );
    fc.assert(
      fc.property(segment, segment, segment, (header, payload, signature) => {
        expect(verifier.verify(`${header}.${payload}.${signature}`, { now }).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('signed arbitrary JSON: never throws, and decides as the jose reference does', () => {
  const header = { alg: 'ES256', kid: ec.kid };

  it('for any payload JSON, including kube-shaped ones with random changes', async () => {
    const kubeShaped = fc.record(
      {
        iss: fc.constantFrom(policy.issuer, `${policy.issuer}/`, 7),
        aud: fc.oneof(fc.constant(['api.payments.internal']), fc.constant('sts.amazonaws.com'), fc.jsonValue()),
        exp: fc.oneof(fc.constant(now + 100), fc.constant(now - 100), fc.double(), fc.jsonValue()),
        sub: fc.constantFrom('system:serviceaccount:payments:api', 'system:serviceaccount:payments:other', ''),
        'kubernetes.io': fc.oneof(fc.constant(kubeClaims()['kubernetes.io']), fc.jsonValue()),
        jti: fc.oneof(fc.string(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), kubeShaped), async (payload) => {
        const token = signToken(ec, header, JSON.stringify(payload) ?? 'null');
        const fast = verifier.verify(token, { now });
        expect(fast.ok).toBe(await referenceVerify(token, { jwks, policy }, { now }));
      }),
      { numRuns: 300 },
    );
  });

  it('for any header JSON', async () => {
    const headerValue = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'crit', 'b64', 'jwk', 'cty', 'x'), fc.jsonValue()),
      fc.constant(header).chain((base) => fc.dictionary(fc.string(), fc.jsonValue()).map((extra) => ({ ...extra, ...base }))),
    );
    await fc.assert(
      fc.asyncProperty(headerValue, async (value) => {
        const token = signToken(ec, JSON.stringify(value) ?? 'null', kubeClaims({ audiences: ['api.payments.internal'] }), { method: 'ES256' });
        const fast = verifier.verify(token, { now });
        expect(fast.ok).toBe(await referenceVerify(token, { jwks, policy }, { now }));
      }),
      { numRuns: 300 },
    );
  });
});

describe('a valid token changed in its decoded bytes is refused', () => {
  it('for any insertion, deletion or replacement of bytes in the header, payload or signature', () => {
    const edit = fc.record({
      token: fc.constantFrom(...validTokens),
      part: fc.constantFrom(0, 1, 2),
      kind: fc.constantFrom('flip', 'insert', 'delete', 'replace'),
      position: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      bit: fc.integer({ min: 0, max: 7 }),
    });
    fc.assert(
      fc.property(edit, ({ token, part, kind, position, byte, bit }) => {
        const parts = token.split('.');
        const bytes = [...Buffer.from(parts[part], 'base64url')];
        const at = position % (bytes.length + 1);
        if (kind === 'flip' && at < bytes.length) bytes[at] ^= 1 << bit;
        else if (kind === 'insert') bytes.splice(at, 0, byte);
        else if (kind === 'delete' && at < bytes.length) bytes.splice(at, 1);
        else bytes[Math.min(at, bytes.length - 1)] = byte;
        parts[part] = b64url(Buffer.from(bytes));
        const changed = parts.join('.');
        fc.pre(decoded(changed).join('.') !== decoded(token).join('.'));
        expect(verifier.verify(changed, { now }).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('for any edit of the token text, unless the edit leaves every decoded byte as it was', () => {
    const chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\t\u00e9\u0155');
    fc.assert(
      fc.property(fc.constantFrom(...validTokens), fc.nat(), chars, fc.constantFrom('insert', 'delete', 'replace'), (token, position, char, kind) => {
        const at = position % token.length;
        const changed = kind === 'insert' ? token.slice(0, at) + char + token.slice(at) : token.slice(0, at) + (kind === 'replace' ? char : '') + token.slice(at + 1);
        fc.pre(changed !== token);
        const result = verifier.verify(changed, { now });
        if (result.ok) {
          // Only the signature segment may differ, in unused bits of its last character.
          expect(decoded(changed)).toEqual(decoded(token));
          expect(changed.split('.').slice(0, 2)).toEqual(token.split('.').slice(0, 2));
          expect(/^[A-Za-z0-9_-]*$/.test(changed.split('.')[2])).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the Verify API never answers bad input with a server error', () => {
  const keys = { current: async () => verifier, refreshForUnknownKid: async () => undefined };
  const deps = { keys, now: () => now, authAudiences: ['sts.amazonaws.com'] };
  const tokenLike = fc.oneof(fc.string(), fc.constantFrom(...validTokens), fc.constantFrom(...validTokens).map((token) => `${token}x`));
  const body = fc.oneof(
    fc.constant(undefined),
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.jsonValue().map((value) => JSON.stringify(value)),
    fc.record({ token: fc.oneof(tokenLike, fc.jsonValue()), audiences: fc.oneof(fc.jsonValue(), fc.array(fc.string())) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
    fc
      .record({ apiVersion: fc.constantFrom('authentication.k8s.io/v1', 'v1', undefined), kind: fc.constantFrom('TokenReview', 'Pod', undefined), spec: fc.oneof(fc.jsonValue(), fc.record({ token: tokenLike, audiences: fc.jsonValue() }, { requiredKeys: [] })) }, { requiredKeys: [] })
      .map((value) => JSON.stringify(value)),
  );
  const request: fc.Arbitrary<ApiRequest> = fc.record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'post'), fc.string()),
    path: fc.oneof(fc.constantFrom('/verify', '/auth', '/auth/x/y', '/apis/authentication.k8s.io/v1/tokenreviews', '/', '/verify/', '/auth?x=1'), fc.string()),
    headers: fc.oneof(
      fc.dictionary(fc.string(), fc.string()),
      fc.record({ authorization: fc.oneof(fc.string(), tokenLike.map((token) => `Bearer ${token}`), tokenLike.map((token) => `bearer  ${token} extra`)) }),
    ),
    query: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.record({ audience: fc.string() })),
    body,
    bodyTooLarge: fc.option(fc.boolean(), { nil: undefined }),
    callerAudiences: fc.option(fc.array(fc.string()), { nil: undefined }),
  });

  it('answers every generated request with a JSON body and a status below 500', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const response = await handleVerifyRequest(input, deps);
        expect(response.status).toBeLessThan(500);
        expect(response.headers['content-type']).toBe('application/json');
        expect(() => JSON.parse(response.body)).not.toThrow();
        expect([301, 302, 303, 307, 308]).not.toContain(response.status);
      }),
      { numRuns: 1000 },
    );
  });
});
