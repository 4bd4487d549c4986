/**
 * The Verify API's request handler over the kube-format fixture keys, at an injected time: its
 * answers are deterministic, so documentation can show them exactly.
 */
import { handleVerifyRequest, ApiRequest, ApiResponse, KeySetProvider } from '../../../core/verify-api';
import { createVerifier } from '../../../core/verifier';
import { FIXTURE_NOW, kubeClaims, kubeFixtures, kubeToken, TEST_ISSUER } from '../../support/tokens';

/** The audiences the fixture API allows (the example cluster prod-eu's Verify API audiences). */
export const FIXTURE_AUDIENCES = ['orders.example.internal', 'billing.example.internal'];

/** The fixture token of service account payments/api for `audience` (iat 2027-01-01T00:00:00Z, one hour). */
export function fixtureToken(audience = FIXTURE_AUDIENCES[0]): string {
  return kubeToken(kubeFixtures().rsa, kubeClaims({ audiences: [audience] }));
}

/** Answers one request with the fixture keys; `now` defaults to inside the fixture token's hour. */
export function fixtureAnswer(
  request: Partial<ApiRequest> & Pick<ApiRequest, 'method' | 'path'>,
  options: { now?: number; keys?: 'none'; clockFails?: boolean } = {},
): Promise<ApiResponse> {
  const verifier = createVerifier(kubeFixtures().jwks, { issuer: TEST_ISSUER, allowedAudiences: FIXTURE_AUDIENCES, defaultAudiences: [FIXTURE_AUDIENCES[0]] });
  const keys: KeySetProvider = {
    current: async () => (options.keys === 'none' ? undefined : verifier),
    refreshForUnknownKid: async () => undefined,
  };
  return handleVerifyRequest(
    { headers: {}, query: {}, ...request },
    {
      keys,
      now: () => {
        // A clock that throws is the one fault a test can inject to reach the handler's 500 path.
        if (options.clockFails) throw new Error('clock unavailable');
        return options.now ?? FIXTURE_NOW;
      },
      authAudiences: [FIXTURE_AUDIENCES[0]],
    },
  );
}
