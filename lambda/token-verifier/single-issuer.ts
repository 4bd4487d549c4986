/**
 * The single-issuer verifier Lambda (bundle `token-verifier`): one cluster's keys, read from its
 * documents bucket through a small signed GET, not the AWS SDK, to keep the cold start short.
 * Carries none of the fleet's code (issuer router, per-issuer caches, discovery, the
 * `TRUSTED_ISSUERS` parser): that is the `fleet-verifier` bundle (fleet.ts).
 */
import { KeyCache } from '../../runtime/key-cache';
import { s3GetObjectText } from '../../runtime/s3-lite';
import { optionalEnv, requireEnv } from '../env';
import { callerAudiencesEnv, createVerifyHandler, DEFAULT_DENY_LIST_KEY, keyTimingsEnv, logKeyFetch, s3Settings, sharedPolicyEnv } from './handler';

// A fleet's configuration given to this bundle would otherwise be ignored without a word.
if (optionalEnv('TRUSTED_ISSUERS') !== undefined) {
  throw new Error('environment variable TRUSTED_ISSUERS is set, but this is the single-issuer verifier: a fleet verifier runs the fleet-verifier bundle');
}
const sharedPolicy = sharedPolicyEnv();
const timings = keyTimingsEnv();
const callerAudiences = callerAudiencesEnv();

/** The one cluster (ISSUER_URL, DOCUMENTS_BUCKET, ...). */
function singleClusterKeys(): KeyCache {
  const documentsBucket = requireEnv('DOCUMENTS_BUCKET');
  const jwksKey = requireEnv('JWKS_KEY');
  const privateBucket = requireEnv('PRIVATE_BUCKET');
  const denyListKey = optionalEnv('DENY_LIST_KEY') ?? DEFAULT_DENY_LIST_KEY;
  return new KeyCache({
    loadJwks: () => s3GetObjectText(documentsBucket, jwksKey, s3Settings()),
    loadDenyList: () => s3GetObjectText(privateBucket, denyListKey, s3Settings()),
    policy: { issuer: requireEnv('ISSUER_URL'), ...sharedPolicy },
    nowMs: () => Date.now(),
    ...timings,
    onFetch: logKeyFetch,
  });
}

/** The Lambda entry point. */
export const handler = createVerifyHandler({
  keys: singleClusterKeys(),
  defaultAudiences: sharedPolicy.defaultAudiences,
  callerAudiences,
  clusterName: optionalEnv('CLUSTER_NAME'),
});
