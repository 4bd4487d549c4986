/**
 * The token verifier: kube's own tokens accepted, every reason code produced by a token crafted
 * here, rotation, the kid-less option, key-set hygiene and the attacks of the verify issue.
 */
import { addDenyEntry, emptyDenyList } from '../../core/deny-list';
import { createVerifier, REASON_CODES, type Verifier, type VerifierPolicy, type VerifyResult } from '../../core/verifier';
import {
  b64url,
  FIXTURE_IAT,
  FIXTURE_NOW,
  kubeClaims,
  kubeFixtures,
  kubeToken,
  mintWithJose,
  newTestKey,
  segments,
  signToken,
  TEST_ISSUER,
  type TestKey,
} from '../support/tokens';

const fixtures = kubeFixtures();
const rsa = fixtures.rsa;
const ec = fixtures.ec;
const policy: VerifierPolicy = { issuer: TEST_ISSUER, allowedAudiences: ['sts.amazonaws.com', 'api.payments.internal', 'vault'] };
const now = FIXTURE_NOW;

function verifierFor(keys: readonly TestKey[], overrides: Partial<VerifierPolicy> = {}): Verifier {
  return createVerifier({ keys: keys.map((key) => key.jwk) }, { ...policy, ...overrides });
}

function refusal(result: VerifyResult): { reason: string; message: string } {
  if (result.ok) throw new Error(`expected a refusal, got an identity for ${result.identity.username}`);
  return { reason: result.reason, message: result.message };
}

describe('kube-apiserver tokens', () => {
  const verifier = createVerifier(fixtures.jwks, policy);

  it('accepts the RS256 fixture token with the TokenReview identity kube would give', () => {
    const result = verifier.verify(fixtures.rs256Token, { now });
    expect(result).toEqual({
      ok: true,
      identity: {
        username: 'system:serviceaccount:payments:api',
        uid: '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:payments', 'system:authenticated'],
        extra: {
          'authentication.kubernetes.io/pod-name': ['api-7d9c5-x2x4z'],
          'authentication.kubernetes.io/pod-uid': ['1b4e28ba-2fa1-11d2-883f-0016d3cca427'],
          'authentication.kubernetes.io/node-name': ['ip-10-0-1-17'],
          'authentication.kubernetes.io/node-uid': ['7c9e6679-7425-40de-944b-e07fc1f90ae7'],
          'authentication.kubernetes.io/credential-id': ['JTI=0f8fad5b-d9cb-469f-a165-70867728950e'],
        },
        audiences: ['sts.amazonaws.com'],
        expiresAt: 1798765200,
        namespace: 'payments',
        serviceAccount: 'api',
        jti: '0f8fad5b-d9cb-469f-a165-70867728950e',
        kid: 'Hc7qjYNLyRyB_udgR7uwmh20HxFPZbbiqUqfFgW1m1c',
      },
    });
  });

  it('accepts the ES256 fixture token', () => {
    const result = verifier.verify(fixtures.es256Token, { now, audiences: ['api.payments.internal'] });
    expect(result.ok && result.identity.username).toBe('system:serviceaccount:payments:worker');
    expect(result.ok && result.identity.kid).toBe('-EnXQvJzcfC5u5uOCjqgV8KCf5lBbj2EdIpgtFeUHE0');
  });

  it('accepts them only inside their hour (time is the request\'s, not the machine\'s)', () => {
    expect(refusal(verifier.verify(fixtures.rs256Token, { now: FIXTURE_IAT + 3600 + 60 })).reason).toBe('expired');
    expect(refusal(verifier.verify(fixtures.rs256Token, { now: FIXTURE_IAT - 61 })).reason).toBe('not_yet_valid');
  });
});

describe('tokens minted by jose', () => {
  it.each(['RS256', 'ES256', 'ES384', 'ES512'] as const)('accepts %s', async (alg) => {
    const key = alg === 'RS256' ? rsa : alg === 'ES256' ? ec : newTestKey(alg);
    const token = await mintWithJose(key, kubeClaims());
    const result = verifierFor([key]).verify(token, { now });
    expect(result.ok && result.identity.kid).toBe(key.kid);
  });
});

describe('key rotation', () => {
  it('accepts tokens of the old and the new key while both are published, and refuses the old one after', () => {
    const newKey = newTestKey('RS256');
    const oldToken = kubeToken(rsa);
    const newToken = kubeToken(newKey);
    const during = verifierFor([rsa, newKey]);
    expect(during.verify(oldToken, { now }).ok).toBe(true);
    expect(during.verify(newToken, { now }).ok).toBe(true);
    const after = verifierFor([newKey]);
    expect(after.verify(newToken, { now }).ok).toBe(true);
    expect(after.verify(oldToken, { now })).toMatchObject({ ok: false, reason: 'unknown_kid', kid: rsa.kid });
  });
});

describe('every reason code', () => {
  const verifier = verifierFor([rsa, ec], { maxTokenLifetimeSeconds: 86400 });
  const withClaims = (overrides: Record<string, unknown>, key: TestKey = rsa) => kubeToken(key, { ...kubeClaims(), ...overrides });

  const cases: [string, string, () => string, string, { audiences?: string[]; now?: number }?][] = [
    ['malformed', 'not three segments', () => 'not-a-jwt', 'token has 1 segment'],
    ['malformed', 'header not JSON', () => signToken(rsa, 'not json', kubeClaims()), 'header is not JSON'],
    ['malformed', 'payload not JSON', () => signToken(rsa, { alg: 'RS256', kid: rsa.kid }, 'not json'), 'payload is not JSON'],
    ['too_large', 'over 16 KiB', () => withClaims({ padding: 'x'.repeat(20000) }), 'longer than 16384'],
    ['unsupported_alg', 'alg none', () => signToken(undefined, { alg: 'none', kid: rsa.kid }, kubeClaims(), { method: 'none' }), 'alg "none"'],
    ['unknown_kid', 'key not published', () => kubeToken(newTestKey('RS256')), 'no published key has kid'],
    ['bad_signature', 'payload changed', () => tamperedPayload(kubeToken(rsa)), 'does not verify'],
    ['bad_issuer', 'trailing slash', () => withClaims({ iss: `${TEST_ISSUER}/` }), 'is not "https://oidc.example.com/cluster-a"'],
    ['bad_audience', 'token for another audience', () => withClaims({ aud: ['kubernetes.default.svc'] }), 'include none of'],
    ['bad_audience', 'request for a disallowed audience', () => kubeToken(rsa), 'may not be checked', { audiences: ['kubernetes.default.svc'] }],
    ['expired', 'exp + skew passed', () => withClaims({ exp: now - 61 }), 'expired at'],
    ['not_yet_valid', 'nbf beyond skew', () => withClaims({ nbf: now + 61 }), 'not valid before'],
    ['issued_in_future', 'iat beyond skew', () => withClaims({ iat: now + 61, nbf: now }), 'issued in the future'],
    ['lifetime_too_long', 'one-year token', () => withClaims({ exp: FIXTURE_IAT + 365 * 86400 }), 'exceeds the maximum 86400s'],
    ['bad_subject', 'sub of another account', () => withClaims({ sub: 'system:serviceaccount:kube-system:admin' }), 'does not match the kubernetes.io claim'],
  ];

  it.each(cases)('%s: %s', (reason, _label, make, messagePart, request = {}) => {
    const result = verifier.verify(make(), { now, ...request });
    expect(refusal(result)).toEqual({ reason, message: expect.stringContaining(messagePart) });
  });

  it('revoked: by kid, jti, pod uid and service account', () => {
    let denyList = emptyDenyList();
    denyList = addDenyEntry(denyList, 'jti', 'stolen-token', { at: now });
    denyList = addDenyEntry(denyList, 'podUid', 'deleted-pod', { at: now });
    denyList = addDenyEntry(denyList, 'serviceAccount', 'payments/retired', { at: now });
    denyList = addDenyEntry(denyList, 'kid', ec.kid, { at: now });
    const denying = createVerifier({ keys: [rsa.jwk, ec.jwk] }, policy, denyList);
    const expectRevoked = (token: string, messagePart: string) =>
      expect(refusal(denying.verify(token, { now }))).toEqual({ reason: 'revoked', message: expect.stringContaining(messagePart) });
    expectRevoked(kubeToken(rsa, kubeClaims({ jti: 'stolen-token' })), '"stolen-token" is on the deny list');
    expectRevoked(kubeToken(rsa, kubeClaims({ podUid: 'deleted-pod' })), 'pod uid "deleted-pod"');
    expectRevoked(kubeToken(rsa, kubeClaims({ serviceAccount: 'retired' })), 'service account payments/retired');
    expectRevoked(kubeToken(ec), `signing key "${ec.kid}" is revoked`);
    expect(denying.verify(kubeToken(rsa), { now }).ok).toBe(true);
  });

  it('covers the documented list of reason codes', () => {
    // unknown_issuer comes from the issuer router (test/unit/trusted-issuers.test.ts), not one verifier.
    const produced = new Set([...cases.map(([reason]) => reason), 'revoked', 'unknown_issuer']);
    expect([...produced].sort()).toEqual([...REASON_CODES].sort());
  });
});

describe('time checks (skew 60 s by default)', () => {
  const verifier = verifierFor([rsa]);
  const token = kubeToken(rsa, kubeClaims({ iat: 1000, lifetimeSeconds: 3600 }));

  it('accepts up to one second before exp + skew, and refuses from exp + skew on', () => {
    expect(verifier.verify(token, { now: 4600 + 59 }).ok).toBe(true);
    expect(refusal(verifier.verify(token, { now: 4600 + 60 })).reason).toBe('expired');
  });

  it('accepts from nbf - skew on', () => {
    expect(verifier.verify(token, { now: 1000 - 60 }).ok).toBe(true);
    expect(refusal(verifier.verify(token, { now: 1000 - 61 })).reason).toBe('not_yet_valid');
  });

  it('honours a configured skew', () => {
    const strict = verifierFor([rsa], { clockSkewSeconds: 0 });
    expect(refusal(strict.verify(token, { now: 4600 })).reason).toBe('expired');
    expect(strict.verify(token, { now: 4599 }).ok).toBe(true);
  });

  it('refuses a token with no exp, and a time claim that is not a number', () => {
    expect(refusal(verifier.verify(kubeToken(rsa, { ...kubeClaims(), exp: undefined }), { now }))).toMatchObject({ reason: 'malformed', message: expect.stringContaining('no exp') });
    expect(refusal(verifier.verify(kubeToken(rsa, { ...kubeClaims(), nbf: '1798761600' }), { now })).reason).toBe('malformed');
  });
});

describe('audiences', () => {
  const token = kubeToken(rsa, kubeClaims({ audiences: ['vault', 'sts.amazonaws.com'] }));

  it('checks the default audiences when the request names none, and returns the intersection in request order', () => {
    const verifier = verifierFor([rsa], { defaultAudiences: ['sts.amazonaws.com', 'vault'] });
    for (const audiences of [undefined, []]) {
      const result = verifier.verify(token, { now, audiences });
      expect(result.ok && result.identity.audiences).toEqual(['sts.amazonaws.com', 'vault']);
    }
  });

  it('refuses a token whose audiences are not asked about, however valid otherwise', () => {
    const verifier = verifierFor([rsa], { defaultAudiences: ['api.payments.internal'] });
    expect(refusal(verifier.verify(token, { now })).reason).toBe('bad_audience');
    expect(verifier.verify(token, { now, audiences: ['vault'] }).ok).toBe(true);
  });

  it('refuses a request for an audience outside the allowed ones, even if the token carries it', () => {
    const verifier = verifierFor([rsa], { allowedAudiences: ['vault'] });
    expect(refusal(verifier.verify(token, { now, audiences: ['vault', 'sts.amazonaws.com'] }))).toEqual({
      reason: 'bad_audience',
      message: expect.stringContaining('"sts.amazonaws.com" may not be checked'),
    });
  });

  it('accepts aud as a single string', () => {
    const single = kubeToken(rsa, { ...kubeClaims(), aud: 'vault' });
    expect(verifierFor([rsa]).verify(single, { now, audiences: ['vault'] }).ok).toBe(true);
  });
});

describe('subject checks', () => {
  const verifier = verifierFor([rsa]);
  const kube = kubeClaims()['kubernetes.io'] as Record<string, unknown>;
  const withKube = (overrides: Record<string, unknown>, sub?: string) =>
    kubeToken(rsa, { ...kubeClaims(), ...(sub !== undefined ? { sub } : {}), 'kubernetes.io': { ...kube, ...overrides } });

  it.each([
    ['no kubernetes.io claim', kubeToken(rsa, { ...kubeClaims(), 'kubernetes.io': undefined }), 'bad_subject'],
    ['a namespace kube could not have', withKube({ namespace: 'Kube_System' }, 'system:serviceaccount:Kube_System:api'), 'bad_subject'],
    ['a sub with an extra colon', withKube({}, 'system:serviceaccount:payments:api:x'), 'bad_subject'],
    ['a service account without uid', withKube({ serviceaccount: { name: 'api' } }), 'bad_subject'],
    ['a pod reference without uid', withKube({ pod: { name: 'p' } }), 'bad_subject'],
    ['a namespace of the wrong type', withKube({ namespace: ['payments'] }), 'malformed'],
  ])('refuses %s', (_label, token, reason) => {
    expect(refusal(verifier.verify(token, { now })).reason).toBe(reason);
  });

  it('remembers an account it has validated without letting another token borrow it', () => {
    const warm = verifierFor([rsa]);
    const first = warm.verify(kubeToken(rsa), { now });
    expect(first.ok).toBe(true);
    // The same sub with other kubernetes.io names, and the same names under another sub.
    const sameSubOtherNamespace = withKube({ namespace: 'billing' });
    const sameNamesOtherSub = withKube({}, 'system:serviceaccount:billing:api');
    const sameSubInvalidName = withKube({ serviceaccount: { name: 'API', uid: 'u' } });
    for (const token of [sameSubOtherNamespace, sameNamesOtherSub, sameSubInvalidName]) {
      expect(refusal(warm.verify(token, { now }))).toEqual({ reason: 'bad_subject', message: expect.stringMatching(/does not match|not a valid name/) });
    }
    const second = warm.verify(kubeToken(rsa, { ...kubeClaims(), jti: 'another' }), { now });
    if (!first.ok || !second.ok) throw new Error('expected both tokens to verify');
    expect(second.identity).toEqual({ ...first.identity, jti: 'another', extra: { ...first.identity.extra, 'authentication.kubernetes.io/credential-id': ['JTI=another'] } });
    expect(Object.isFrozen(second.identity.groups)).toBe(true);
  });

  it('accepts a token bound to no pod, with no extra pod facts', () => {
    const result = verifier.verify(withKube({ pod: undefined, node: undefined }), { now });
    expect(result.ok && Object.keys(result.identity.extra)).toEqual(['authentication.kubernetes.io/credential-id']);
  });
});

describe('attacks', () => {
  const verifier = verifierFor([rsa, ec]);
  const valid = kubeToken(rsa);
  const [header, payload, signature] = segments(valid);

  it.each([
    ['alg none', signToken(undefined, { alg: 'none', kid: rsa.kid }, kubeClaims(), { method: 'none' }), 'unsupported_alg'],
    ['HS256 signed with the RSA public key PEM as secret', signToken(undefined, { alg: 'HS256', kid: rsa.kid }, kubeClaims(), { method: { hmacSecret: fixtures.rsaPublicPem } }), 'unsupported_alg'],
    ['RS256 header over an EC kid', signToken(newTestKey('RS256'), { alg: 'RS256', kid: ec.kid }, kubeClaims(), { method: 'RS256' }), 'unsupported_alg'],
    ['PS256 signed with the real key', signToken(rsa, { alg: 'PS256', kid: rsa.kid }, kubeClaims(), { method: 'PS256' }), 'unsupported_alg'],
    ['tampered payload with the old signature', tamperedPayload(valid), 'bad_signature'],
    ['stripped signature', `${header}.${payload}.`, 'bad_signature'],
    ['truncated signature', `${header}.${payload}.${signature.slice(0, -8)}`, 'bad_signature'],
    ['JWE-shaped five segments', `${header}.${b64url('key')}.${b64url('iv')}.${payload}.${b64url('tag')}`, 'malformed'],
    ['oversized', `${header}.${b64url('x'.repeat(13000))}.${signature}`, 'too_large'],
    ['sub disagreeing with the kubernetes.io claim', kubeToken(rsa, { ...kubeClaims(), sub: 'system:serviceaccount:kube-system:default' }), 'bad_subject'],
    ['crit header', kubeToken(rsa, kubeClaims(), { crit: ['exp'], exp: 1 }), 'malformed'],
    ['embedded jwk header', kubeToken(rsa, kubeClaims(), { jwk: rsa.jwk }), 'malformed'],
    ['duplicate iss in the payload', signToken(rsa, { alg: 'RS256', kid: rsa.kid }, JSON.stringify(kubeClaims()).replace('{', '{"iss":"https://evil.example",')), 'malformed'],
    ['padded signature', `${valid}==`, 'malformed'],
    ['signature in the standard alphabet', `${header}.${payload}.${signature.replace(/-/g, '+').replace(/_/g, '/')}${signature.includes('-') || signature.includes('_') ? '' : '+'}`, 'malformed'],
  ])('refuses %s', (_label, token, reason) => {
    expect(refusal(verifier.verify(token, { now })).reason).toBe(reason);
  });

  it('keeps the token and its signature out of every message', () => {
    const results = [verifier.verify(tamperedPayload(valid), { now }), verifier.verify(`${valid}x`, { now }), verifier.verify(valid.replace('.', '..'), { now })];
    for (const result of results) expect(JSON.stringify(result)).not.toContain(signature.slice(0, 40));
  });

  it('reports the token\'s sub and jti only once its signature has verified', () => {
    const expired = verifier.verify(kubeToken(rsa, { ...kubeClaims(), exp: now - 3600 }), { now });
    expect(expired).toMatchObject({ ok: false, reason: 'expired', sub: 'system:serviceaccount:payments:api', jti: kubeClaims().jti });
    const forged = verifier.verify(tamperedPayload(valid), { now });
    expect(forged).toEqual({ ok: false, reason: 'bad_signature', message: expect.any(String), kid: rsa.kid });
  });

  it('never throws on input of the wrong type', () => {
    expect(refusal(verifier.verify(undefined as unknown as string, { now })).reason).toBe('malformed');
    expect(refusal(verifier.verify({ token: valid } as unknown as string, { now })).reason).toBe('malformed');
  });
});

describe('tokens without a kid (clusters before Kubernetes 1.16)', () => {
  const kidless = signToken(rsa, { alg: 'RS256' }, kubeClaims());
  const emptyKid = signToken(rsa, { alg: 'RS256', kid: '' }, kubeClaims());

  it('are refused by default', () => {
    expect(refusal(verifierFor([rsa]).verify(kidless, { now })).reason).toBe('unknown_kid');
    expect(refusal(verifierFor([rsa]).verify(emptyKid, { now })).reason).toBe('unknown_kid');
  });

  it('are tried against every key of their alg with kidlessCompat, and report the verifying key', () => {
    const other = newTestKey('RS256');
    const compat = createVerifier({ keys: [other.jwk, rsa.jwk, { ...rsa.jwk, kid: '' }, ec.jwk] }, { ...policy, kidlessCompat: true });
    for (const token of [kidless, emptyKid]) {
      const result = compat.verify(token, { now });
      expect(result.ok && result.identity.kid).toBe(rsa.kid);
    }
    expect(refusal(compat.verify(signToken(newTestKey('RS256'), { alg: 'RS256' }, kubeClaims()), { now })).reason).toBe('bad_signature');
  });
});

describe('a kid bound to two different keys in one key set (issue 12 §1)', () => {
  // A document written by something other than the sync: the real key, then an intruder's key under its kid.
  const intruder = newTestKey('RS256', rsa.kid);
  const intruderToken = kubeToken(intruder);
  const realToken = kubeToken(rsa);

  it('uses neither key of the kid, whichever comes first, and says why', () => {
    for (const keys of [[rsa.jwk, intruder.jwk], [intruder.jwk, rsa.jwk]]) {
      const verifier = createVerifier({ keys: [...keys, ec.jwk] }, policy);
      expect(refusal(verifier.verify(intruderToken, { now })).reason).toBe('unknown_kid');
      expect(refusal(verifier.verify(realToken, { now })).reason).toBe('unknown_kid');
      expect(verifier.hasKid(rsa.kid)).toBe(false);
      expect(verifier.kids).toEqual([ec.kid]);
      expect(verifier.skippedKeys.map((skipped) => [skipped.index, skipped.kid])).toEqual([[0, rsa.kid], [1, rsa.kid]]);
      expect(verifier.skippedKeys[0].reason).toMatch(/different key material/);
      // The other keys stay usable.
      expect(verifier.verify(kubeToken(ec), { now }).ok).toBe(true);
    }
  });

  it('does not try a conflicting kid\'s keys for kid-less tokens either', () => {
    const verifier = createVerifier({ keys: [rsa.jwk, intruder.jwk] }, { ...policy, kidlessCompat: true });
    const kidlessIntruder = signToken(intruder, { alg: 'RS256' }, kubeClaims());
    expect(refusal(verifier.verify(kidlessIntruder, { now })).reason).toBe('unknown_kid');
  });

  it('keeps identical duplicates usable, and kid-less compat copies next to their key', () => {
    const verifier = createVerifier({ keys: [rsa.jwk, { ...rsa.jwk }, { ...rsa.jwk, kid: '' }, { ...ec.jwk, kid: '' }, ec.jwk] }, { ...policy, kidlessCompat: true });
    expect(verifier.kids).toEqual([rsa.kid, ec.kid].sort());
    expect(verifier.skippedKeys).toEqual([]);
    expect(verifier.verify(realToken, { now }).ok).toBe(true);
    expect(verifier.verify(signToken(rsa, { alg: 'RS256' }, kubeClaims()), { now }).ok).toBe(true);
    expect(refusal(verifier.verify(intruderToken, { now })).reason).toBe('bad_signature');
  });
});

describe('key set', () => {
  it('skips unusable entries, says why, and keeps the usable ones', () => {
    const weak = { kty: 'RSA', kid: 'weak', alg: 'RS256', n: b64url(Buffer.alloc(128, 0xff)), e: 'AQAB' };
    const jwks = {
      keys: [
        rsa.jwk,
        'not a key',
        { ...ec.jwk, alg: 'RS256', kid: 'wrong-alg' },
        { ...rsa.jwk, kid: undefined },
        { ...rsa.jwk, kid: 'private', d: 'AAAA' },
        weak,
        { ...rsa.jwk, kid: '' },
        { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' },
      ],
    };
    const verifier = createVerifier(jwks, policy);
    expect(verifier.kids).toEqual([rsa.kid]);
    expect(verifier.hasKid(rsa.kid)).toBe(true);
    expect(verifier.hasKid('weak')).toBe(false);
    expect(verifier.skippedKeys.map((skipped) => [skipped.index, skipped.kid])).toEqual([
      [1, undefined],
      [2, 'wrong-alg'],
      [3, undefined],
      [4, 'private'],
      [5, 'weak'],
      [6, ''],
      [7, 'hmac'],
    ]);
    expect(verifier.skippedKeys.find((skipped) => skipped.kid === 'weak')?.reason).toMatch(/1024 bits is too small/);
    expect(verifier.skippedKeys.find((skipped) => skipped.kid === 'private')?.reason).toMatch(/private key material/);
    expect(verifier.verify(kubeToken(rsa), { now }).ok).toBe(true);
  });

  it('rejects an invalid policy when the verifier is built', () => {
    const keys = { keys: [rsa.jwk] };
    expect(() => createVerifier(keys, { ...policy, issuer: '' })).toThrow('issuer must be a non-empty string');
    expect(() => createVerifier(keys, { ...policy, allowedAudiences: [] })).toThrow('allowedAudiences must be a non-empty list');
    expect(() => createVerifier(keys, { ...policy, defaultAudiences: ['other'] })).toThrow('"other" are not in allowedAudiences');
    expect(() => createVerifier(keys, { ...policy, clockSkewSeconds: -1 })).toThrow('clockSkewSeconds');
    expect(() => createVerifier({ keys: 'x' } as never, policy)).toThrow('"keys" array');
  });

  it('applies the documented defaults', () => {
    expect(createVerifier({ keys: [] }, policy).policy).toEqual({
      issuer: TEST_ISSUER,
      allowedAudiences: policy.allowedAudiences,
      defaultAudiences: policy.allowedAudiences,
      clockSkewSeconds: 60,
      maxTokenBytes: 16384,
      maxTokenLifetimeSeconds: undefined,
      kidlessCompat: false,
    });
  });

  it('gives the same verdicts whether a header is parsed or taken from the cache', () => {
    const verifier = verifierFor([rsa]);
    const first = kubeToken(rsa, kubeClaims({ jti: 'one' }));
    const second = kubeToken(rsa, kubeClaims({ jti: 'two' }));
    expect(verifier.verify(first, { now }).ok).toBe(true);
    expect(verifier.verify(second, { now }).ok).toBe(true);
    expect(refusal(verifier.verify(tamperedPayload(second), { now })).reason).toBe('bad_signature');
    for (let i = 0; i < 100; i++) verifier.verify(signToken(rsa, { alg: 'RS256', kid: rsa.kid, n: i }, kubeClaims()), { now });
    expect(verifier.verify(first, { now }).ok).toBe(true);
  });
});

/** The token with its payload replaced (an admin of kube-system) and the original signature kept. */
function tamperedPayload(token: string): string {
  const [header, , signature] = segments(token);
  const forged = { ...kubeClaims({ namespace: 'kube-system', serviceAccount: 'admin' }) };
  return `${header}.${b64url(JSON.stringify(forged))}.${signature}`;
}
