/**
 * The verifier in either mode, chosen by the environment as documented in docs/architecture.md:
 * `TRUSTED_ISSUERS` set makes it the fleet verifier (fleet.ts), unset the single-issuer one
 * (single-issuer.ts). For running the handler in-process (tests, tools). The deployed functions
 * run one mode's own bundle (`token-verifier` or `fleet-verifier`, lib/private/lambda-bundling.ts),
 * which leaves the other mode's code out; this module is no bundle's entry.
 */
import { optionalEnv } from '../env';
import type { VerifyHandler } from './handler';

export { roleArnOf } from './handler';

/** The Lambda entry point of the mode the environment selects. Only that mode's module is loaded. */
export const handler: VerifyHandler = optionalEnv('TRUSTED_ISSUERS') === undefined
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ? (require('./single-issuer') as typeof import('./single-issuer')).handler
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  : (require('./fleet') as typeof import('./fleet')).handler;
