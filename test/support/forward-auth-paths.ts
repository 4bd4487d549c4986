/**
 * Forward-auth request targets that try to switch the audience (issue 12 §2), shared by the core,
 * local mode (over real HTTP) and Lambda handler tests so that every adapter faces the same list.
 * The audiences are those of the review: a billing token must never pass for orders.
 */

/** The audience the proxy fixes in its prefix. */
export const ORDERS = 'orders.example.internal';
/** The audience the attacker's token carries. */
export const BILLING = 'billing.example.internal';

/** A target and the status every adapter must answer it with, whatever the token. */
export interface TargetCase {
  readonly target: string;
  readonly status: 400 | 404;
  readonly why: string;
}

/** Paths below `/auth/` that must be refused with 400: their audience could be read two ways. */
export const UNSAFE_AUTH_TARGETS: readonly TargetCase[] = [
  { target: `/auth/audience/${ORDERS}/../${BILLING}/x`, status: 400, why: 'raw dot-dot' },
  { target: `/auth/audience/${ORDERS}/%2e%2e/${BILLING}/x`, status: 400, why: 'encoded dot-dot' },
  { target: `/auth/audience/${ORDERS}/%2E%2E/${BILLING}/x`, status: 400, why: 'upper-case encoded dot-dot' },
  { target: `/auth/audience/${ORDERS}/.%2e/${BILLING}/x`, status: 400, why: 'mixed dot-dot' },
  { target: `/auth/audience/${ORDERS}/%2e./${BILLING}/x`, status: 400, why: 'mixed dot-dot, other order' },
  { target: `/auth/audience/${ORDERS}/./x`, status: 400, why: 'raw dot' },
  { target: `/auth/audience/${ORDERS}/%2e/x`, status: 400, why: 'encoded dot' },
  { target: `/auth/audience/..`, status: 400, why: 'dot-dot as the audience' },
  { target: `/auth/audience/%2e%2e/audience/${BILLING}`, status: 400, why: 'encoded dot-dot as the audience' },
  { target: `/auth/audience/${ORDERS}/..`, status: 400, why: 'trailing dot-dot' },
  { target: `/auth/audience/${ORDERS}%2F..%2F${BILLING}/x`, status: 400, why: 'encoded slashes' },
  { target: `/auth/audience/${ORDERS}%2f${BILLING}`, status: 400, why: 'lower-case encoded slash' },
  { target: `/auth/audience/${ORDERS}\\..\\${BILLING}/x`, status: 400, why: 'raw backslashes' },
  { target: `/auth/audience/${ORDERS}/%5c../x`, status: 400, why: 'encoded backslash' },
  { target: `/auth/audience/${ORDERS}/%5C/x`, status: 400, why: 'upper-case encoded backslash' },
  { target: `/auth/audience/${ORDERS}//x`, status: 400, why: 'empty segment' },
  { target: `/auth//audience/${BILLING}/x`, status: 400, why: 'empty segment before audience' },
  { target: `/auth/audience//${BILLING}`, status: 400, why: 'empty audience segment' },
];

/** Paths below `/auth/` that are not a documented form: 404, never the configured audiences. */
export const UNDOCUMENTED_AUTH_TARGETS: readonly TargetCase[] = [
  { target: `/auth/Audience/${BILLING}/x`, status: 404, why: 'wrong case' },
  { target: `/auth/audiences/${BILLING}/x`, status: 404, why: 'plural' },
  { target: '/auth/orders/42', status: 404, why: 'a bare client path' },
  { target: '/auth/', status: 404, why: 'trailing slash only' },
  { target: `/auth/audience`, status: 404, why: 'audience keyword without an audience' },
];

/** Request targets that are not origin-form: 400, never 500 (the adapters must pass them raw). */
export const NON_ORIGIN_TARGETS: readonly TargetCase[] = [
  { target: '//x/auth', status: 400, why: 'network-path reference' },
  { target: '//%ff/x', status: 400, why: 'network-path reference with bad percent-encoding' },
  { target: 'http://h/auth', status: 400, why: 'absolute-form' },
  { target: '*', status: 400, why: 'asterisk-form' },
];
