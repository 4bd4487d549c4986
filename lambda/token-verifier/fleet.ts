/**
 * The fleet verifier Lambda (bundle `fleet-verifier`): the issuers of `TRUSTED_ISSUERS`
 * (docs/architecture.md), one lazily loaded key cache per issuer, chosen by each token's `iss`.
 * Carries none of the single-issuer verifier's own code (single-issuer.ts).
 */
import { documentPaths } from '../../core/documents';
import type { VerifyApiDeps } from '../../core/verify-api';
import type { VerifierPolicy } from '../../core/verifier';
import { createIssuerKeyCaches } from '../../runtime/issuer-key-caches';
import { discoveryJwksLoader, jwksUrlLoader } from '../../runtime/issuer-key-sources';
import { s3GetObjectText } from '../../runtime/s3-lite';
import { trustedIssuerPolicy, trustedIssuersEnv, type TrustedIssuerEnvEntry } from '../env';
import { callerAudiencesEnv, createVerifyHandler, DEFAULT_DENY_LIST_KEY, keyTimingsEnv, logKeyFetch, s3Settings, sharedPolicyEnv, type KeyTimings } from './handler';

const trustedIssuers = trustedIssuersEnv('TRUSTED_ISSUERS');
if (trustedIssuers === undefined) {
  throw new Error('environment variable TRUSTED_ISSUERS is required but not set: the fleet verifier needs its trusted issuers (a single cluster runs the token-verifier bundle)');
}
// The global policy variables are the fleet entries' defaults.
const sharedPolicy = sharedPolicyEnv();
const timings = keyTimingsEnv();
const callerAudiences = callerAudiencesEnv();

/** One lazily loaded key cache per trusted issuer, chosen by each token's `iss`. */
function fleetKeys(entries: readonly TrustedIssuerEnvEntry[], globals: Omit<VerifierPolicy, 'issuer'>, defaults: KeyTimings): VerifyApiDeps['keys'] {
  return createIssuerKeyCaches(
    entries.map((entry) => {
      const fetchOptions = entry.caBundle === undefined ? {} : { caPem: entry.caBundle };
      const { documentsBucket, privateBucket } = entry;
      // Worked out on first use: a cold start pays only for the issuers whose tokens arrive.
      let jwksKey = entry.jwksKey;
      const denyListKey = entry.denyListKey ?? DEFAULT_DENY_LIST_KEY;
      return {
        cluster: entry.cluster,
        policy: trustedIssuerPolicy(entry, globals),
        loadJwks:
          documentsBucket !== undefined
            ? () => s3GetObjectText(documentsBucket, (jwksKey ??= documentPaths(entry.issuer).jwksKey), s3Settings())
            : entry.jwksUrl !== undefined
              ? jwksUrlLoader(entry.jwksUrl, fetchOptions)
              : discoveryJwksLoader(entry.issuer, fetchOptions),
        loadDenyList: privateBucket === undefined ? async () => undefined : () => s3GetObjectText(privateBucket, denyListKey, s3Settings()),
        ttlSeconds: entry.keysTtlSeconds ?? defaults.ttlSeconds,
        unknownKidCooldownSeconds: entry.unknownKidCooldownSeconds ?? defaults.unknownKidCooldownSeconds,
        staleWindowSeconds: entry.staleWindowSeconds ?? defaults.staleWindowSeconds,
      };
    }),
    { nowMs: () => Date.now(), onFetch: logKeyFetch },
  );
}

/** The Lambda entry point. Answers carry each issuer's cluster name from its entry. */
export const handler = createVerifyHandler({
  keys: fleetKeys(trustedIssuers, sharedPolicy, timings),
  defaultAudiences: sharedPolicy.defaultAudiences,
  callerAudiences,
});
