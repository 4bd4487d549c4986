/**
 * The fleet core: a token's key set is chosen by its `iss` alone, byte for byte, before any key
 * lookup; cross-issuer attacks; unknown issuers; the parsed payload handed on once.
 */
import { createFleetVerifier, createIssuerRouter, readUnverifiedPayload } from '../../core/trusted-issuers';
import { createVerifier } from '../../core/verifier';
import { addDenyEntry, emptyDenyList } from '../../core/deny-list';
import { b64url, FIXTURE_NOW, kubeClaims, kubeToken, newTestKey, signToken } from '../support/tokens';

const ALPHA = 'https://oidc.example.com/clusters/alpha';
const BETA = 'https://oidc.example.com/clusters/beta';
const EKS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const now = FIXTURE_NOW;

const alphaKey = newTestKey('ES256');
const betaKey = newTestKey('RS256');
const eksKey = newTestKey('ES256');
const policy = (issuer: string, allowedAudiences = ['sts.amazonaws.com']) => ({ issuer, allowedAudiences });

function fleet(options: { betaJwks?: unknown[]; alphaJwks?: unknown[]; denyBeta?: boolean } = {}) {
  const betaDeny = options.denyBeta ? addDenyEntry(emptyDenyList(), 'serviceAccount', 'payments/api', { at: now }) : undefined;
  return createFleetVerifier([
    { verifier: createVerifier({ keys: options.alphaJwks ?? [alphaKey.jwk] }, policy(ALPHA)), cluster: 'alpha' },
    { verifier: createVerifier({ keys: options.betaJwks ?? [betaKey.jwk] }, policy(BETA, ['api.payments.internal']), betaDeny), cluster: 'beta' },
    { verifier: createVerifier({ keys: [eksKey.jwk] }, policy(EKS)) },
  ]);
}

describe('a fleet verifier', () => {
  it('accepts each issuer\'s tokens with its own keys and names the issuer and cluster', () => {
    const verifier = fleet();
    const alpha = verifier.verify(kubeToken(alphaKey, kubeClaims({ issuer: ALPHA })), { now });
    expect(alpha).toMatchObject({ ok: true, issuer: ALPHA, cluster: 'alpha', identity: { username: 'system:serviceaccount:payments:api', kid: alphaKey.kid } });
    const beta = verifier.verify(kubeToken(betaKey, kubeClaims({ issuer: BETA, audiences: ['api.payments.internal'] })), { now });
    expect(beta).toMatchObject({ ok: true, issuer: BETA, cluster: 'beta' });
    const eks = verifier.verify(kubeToken(eksKey, kubeClaims({ issuer: EKS })), { now });
    expect(eks).toEqual({ ok: true, issuer: EKS, identity: expect.objectContaining({ kid: eksKey.kid }) });
    expect('cluster' in eks).toBe(false);
  });

  it('applies each issuer\'s own audience policy and deny list', () => {
    const verifier = fleet({ denyBeta: true });
    // beta allows only api.payments.internal: asking it about sts.amazonaws.com is refused.
    const betaToken = kubeToken(betaKey, kubeClaims({ issuer: BETA, audiences: ['sts.amazonaws.com', 'api.payments.internal'] }));
    expect(verifier.verify(betaToken, { now, audiences: ['sts.amazonaws.com'] })).toMatchObject({ ok: false, reason: 'bad_audience' });
    // beta denies payments/api; alpha does not.
    expect(verifier.verify(betaToken, { now })).toMatchObject({ ok: false, reason: 'revoked' });
    expect(verifier.verify(kubeToken(alphaKey, kubeClaims({ issuer: ALPHA })), { now }).ok).toBe(true);
  });

  describe('cross-issuer attacks', () => {
    it('refuses a token claiming issuer A signed by B\'s key with B\'s kid', () => {
      const forged = kubeToken(betaKey, kubeClaims({ issuer: ALPHA }));
      expect(fleet().verify(forged, { now })).toMatchObject({ ok: false, reason: 'unknown_kid', kid: betaKey.kid });
    });

    it('refuses a token claiming issuer A signed by B\'s key with A\'s kid', () => {
      const betaWithAlphaKid = { ...betaKey, kid: alphaKey.kid };
      const forged = signToken(betaWithAlphaKid, { alg: 'ES256', kid: alphaKey.kid }, kubeClaims({ issuer: ALPHA }), { method: 'RS256' });
      expect(fleet().verify(forged, { now })).toMatchObject({ ok: false });
      // The alg B's key signs with does not even match A's key; with an EC key of B the signature fails.
      const betaEc = newTestKey('ES256', alphaKey.kid);
      const forgedEc = kubeToken(betaEc, kubeClaims({ issuer: ALPHA }));
      const verifier = fleet({ betaJwks: [betaKey.jwk, betaEc.jwk] });
      expect(verifier.verify(forgedEc, { now })).toMatchObject({ ok: false, reason: 'bad_signature' });
      // The same token claiming B verifies: B's own key, B's own set.
      expect(verifier.verify(kubeToken(betaEc, kubeClaims({ issuer: BETA, audiences: ['api.payments.internal'] })), { now })).toMatchObject({ ok: true, issuer: BETA });
    });

    it('uses only the claimed issuer\'s material for a kid present in both issuers', () => {
      const shared = 'shared-kid';
      const alphaShared = newTestKey('ES256', shared);
      const betaShared = newTestKey('ES256', shared);
      const verifier = fleet({ alphaJwks: [alphaShared.jwk], betaJwks: [betaShared.jwk] });
      expect(verifier.verify(kubeToken(alphaShared, kubeClaims({ issuer: ALPHA })), { now })).toMatchObject({ ok: true, issuer: ALPHA });
      expect(verifier.verify(kubeToken(betaShared, kubeClaims({ issuer: BETA, audiences: ['api.payments.internal'] })), { now })).toMatchObject({ ok: true, issuer: BETA });
      // B's material under the shared kid, claiming A: refused, and the other way round.
      expect(verifier.verify(kubeToken(betaShared, kubeClaims({ issuer: ALPHA })), { now })).toMatchObject({ ok: false, reason: 'bad_signature' });
      expect(verifier.verify(kubeToken(alphaShared, kubeClaims({ issuer: BETA, audiences: ['api.payments.internal'] })), { now })).toMatchObject({ ok: false, reason: 'bad_signature' });
    });

    it('refuses an issuer that is not configured, naming it, with unknown_issuer', () => {
      const stranger = newTestKey('ES256');
      const result = fleet().verify(kubeToken(stranger, kubeClaims({ issuer: 'https://evil.example' })), { now });
      expect(result).toEqual({ ok: false, reason: 'unknown_issuer', message: expect.stringContaining('"https://evil.example" is not one of the 3 trusted issuers') });
    });

    it.each([
      ['a trailing slash', `${ALPHA}/`],
      ['the bare host of a path issuer', 'https://oidc.example.com'],
      ['another letter case', ALPHA.replace('alpha', 'Alpha')],
      ['a default port spelled out', ALPHA.replace('.com/', '.com:443/')],
      ['a leading space', ` ${ALPHA}`],
    ])('treats %s as another, unknown issuer, even signed with the configured issuer\'s key', (_label, iss) => {
      const result = fleet().verify(kubeToken(alphaKey, kubeClaims({ issuer: iss })), { now });
      expect(result).toMatchObject({ ok: false, reason: 'unknown_issuer' });
    });

    it('reads iss with the verifier\'s strict rules: a duplicate iss member is malformed, never routed', () => {
      const claims = JSON.stringify(kubeClaims({ issuer: ALPHA })).replace('"iss":', `"iss":"${BETA}","iss":`);
      const token = signToken(alphaKey, { alg: 'ES256', kid: alphaKey.kid }, claims);
      expect(fleet().verify(token, { now })).toMatchObject({ ok: false, reason: 'malformed', message: expect.stringContaining('duplicate member "iss"') });
    });

    it('reads an escaped iss the way JSON does', () => {
      const claims = JSON.stringify(kubeClaims({ issuer: ALPHA })).replace('"iss":"https://', '"iss":"https:\\/\\/');
      const token = signToken(alphaKey, { alg: 'ES256', kid: alphaKey.kid }, claims);
      expect(fleet().verify(token, { now })).toMatchObject({ ok: true, issuer: ALPHA });
    });
  });

  it.each([
    ['no iss', () => { const claims = kubeClaims({ issuer: ALPHA }); delete claims.iss; return kubeToken(alphaKey, claims); }, 'bad_issuer'],
    ['a numeric iss', () => kubeToken(alphaKey, { ...kubeClaims(), iss: 7 }), 'malformed'],
    ['a payload that is not JSON', () => signToken(alphaKey, { alg: 'ES256', kid: alphaKey.kid }, 'not json'), 'malformed'],
    ['a non-canonical payload segment', () => { const [h, p, s] = kubeToken(alphaKey, kubeClaims({ issuer: ALPHA })).split('.'); return `${h}.${p}=.${s}`; }, 'malformed'],
    ['two segments', () => 'a.b', 'malformed'],
    ['non-ASCII in the payload', () => { const [h, p, s] = kubeToken(alphaKey, kubeClaims({ issuer: ALPHA })).split('.'); return `${h}.${p.slice(0, -1)}Ł.${s}`; }, 'malformed'],
    ['non-ASCII in the signature of a trusted issuer\'s token', () => `${kubeToken(alphaKey, kubeClaims({ issuer: ALPHA }))}Ł`, 'malformed'],
    ['non-ASCII in the header of an untrusted issuer\'s token', () => `Ł${kubeToken(alphaKey, kubeClaims({ issuer: 'https://evil.example' }))}`, 'malformed'],
    ['a token over the size limit', () => `${'a'.repeat(16_385)}`, 'too_large'],
  ])('refuses %s', (_label, make, reason) => {
    expect(fleet().verify(make(), { now })).toMatchObject({ ok: false, reason });
  });
});

describe('the issuer router', () => {
  it('refuses a configuration with an issuer twice or a cluster name twice', () => {
    expect(() => createIssuerRouter([{ issuer: ALPHA }, { issuer: ALPHA }])).toThrow(/configured twice/);
    expect(() => createIssuerRouter([{ issuer: ALPHA, cluster: 'c' }, { issuer: BETA, cluster: 'c' }])).toThrow(/cluster "c" already names issuer/);
    expect(() => createIssuerRouter([])).toThrow(/at least one issuer/);
    expect(() => createIssuerRouter([{ issuer: '' }])).toThrow(/non-empty string/);
  });

  it('hands on the payload it parsed, which the verifier uses instead of parsing again', () => {
    const router = createIssuerRouter([{ issuer: ALPHA }]);
    const token = kubeToken(alphaKey, kubeClaims({ issuer: ALPHA }));
    const choice = router.route(token);
    if (!choice.ok) throw new Error(choice.message);
    expect(choice.payload.token).toBe(token);
    // The verifier trusts the handed-on claims only for the token they came from.
    const verifier = createVerifier({ keys: [alphaKey.jwk] }, policy(ALPHA));
    const altered = { token, claims: { ...choice.payload.claims, sub: 'system:serviceaccount:kube-system:admin' } };
    expect(verifier.verify(token, { now, unverifiedPayload: altered })).toMatchObject({ ok: false, reason: 'bad_subject' });
    const otherToken = kubeToken(alphaKey, kubeClaims({ issuer: ALPHA, serviceAccount: 'other' }));
    expect(verifier.verify(otherToken, { now, unverifiedPayload: altered })).toMatchObject({ ok: true, identity: { serviceAccount: 'other' } });
  });

  it('reads the unverified payload of a token without checking anything else', () => {
    const token = `${b64url('{}')}.${b64url(JSON.stringify({ iss: ALPHA }))}.`;
    expect(readUnverifiedPayload(token)).toEqual({ ok: true, payload: { token, claims: { iss: ALPHA } } });
  });
});
