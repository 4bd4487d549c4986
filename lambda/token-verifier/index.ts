/**
 * Verify API Lambda: API Gateway HTTP API (payload v2) in, the shared verify-API behaviour
 * (core/verify-api.ts) out. Keys come from the documents bucket through a small signed GET, not
 * the AWS SDK, to keep the cold start short.
 */
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { documentPaths } from '../../core/documents';
import { handleVerifyRequest, ApiRequest, type VerifyApiDeps } from '../../core/verify-api';
import type { VerifierPolicy } from '../../core/verifier';
import { createIssuerKeyCaches } from '../../runtime/issuer-key-caches';
import { discoveryJwksLoader, jwksUrlLoader } from '../../runtime/issuer-key-sources';
import { KeyCache } from '../../runtime/key-cache';
import { s3GetObjectText, S3GetSettings } from '../../runtime/s3-lite';
import { VERIFY_METRICS } from '../../core/metrics';
import { logLine, logWithMetrics } from '../../runtime/telemetry';
import { booleanEnv, integerEnv, optionalEnv, requireEnv, stringListEnv, trustedIssuerPolicy, trustedIssuersEnv, type TrustedIssuerEnvEntry } from '../env';

const DEFAULT_DENY_LIST_KEY = 'control/deny-list.json';
/** Set for a fleet verifier: the issuers it trusts (docs/architecture.md). Unset: one cluster. */
const trustedIssuers = trustedIssuersEnv('TRUSTED_ISSUERS');
// The global policy variables: the single cluster's policy, or the fleet entries' defaults.
const allowedAudiences = stringListEnv('ALLOWED_AUDIENCES', []);
const defaultAudiences = stringListEnv('DEFAULT_AUDIENCES', allowedAudiences);
const sharedPolicy: Omit<VerifierPolicy, 'issuer'> = {
  allowedAudiences,
  defaultAudiences,
  clockSkewSeconds: integerEnv('CLOCK_SKEW_SECONDS', 60),
  maxTokenLifetimeSeconds: optionalEnv('MAX_TOKEN_LIFETIME_SECONDS') === undefined ? undefined : integerEnv('MAX_TOKEN_LIFETIME_SECONDS', 0),
  maxTokenBytes: integerEnv('MAX_TOKEN_BYTES', 16_384),
  kidlessCompat: booleanEnv('KIDLESS_COMPAT', false),
};
const timings = {
  ttlSeconds: integerEnv('KEYS_TTL_SECONDS', 60),
  unknownKidCooldownSeconds: integerEnv('UNKNOWN_KID_COOLDOWN_SECONDS', 30),
  staleWindowSeconds: integerEnv('STALE_WINDOW_SECONDS', 900),
};
const callerAudiences = parseCallerAudiences(optionalEnv('CALLER_AUDIENCES'));

/** Credentials are read per fetch: Lambda rotates them in the environment of a warm instance. */
function s3Settings(): S3GetSettings {
  return {
    region: requireEnv('AWS_REGION'),
    endpoint: optionalEnv('AWS_ENDPOINT_URL'),
    credentials: { accessKeyId: requireEnv('AWS_ACCESS_KEY_ID'), secretAccessKey: requireEnv('AWS_SECRET_ACCESS_KEY'), sessionToken: optionalEnv('AWS_SESSION_TOKEN') },
  };
}

/** The one cluster of the single-cluster environment (ISSUER_URL, DOCUMENTS_BUCKET, ...). */
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
    onFetch: (event) => logLine({ message: 'key set fetch', ...event }),
  });
}

/** The fleet: one lazily loaded key cache per trusted issuer, chosen by each token's `iss`. */
function fleetKeys(entries: readonly TrustedIssuerEnvEntry[]): VerifyApiDeps['keys'] {
  return createIssuerKeyCaches(
    entries.map((entry) => {
      const fetchOptions = entry.caBundle === undefined ? {} : { caPem: entry.caBundle };
      const { documentsBucket, privateBucket } = entry;
      // Worked out on first use: a cold start pays only for the issuers whose tokens arrive.
      let jwksKey = entry.jwksKey;
      const denyListKey = entry.denyListKey ?? DEFAULT_DENY_LIST_KEY;
      return {
        cluster: entry.cluster,
        policy: trustedIssuerPolicy(entry, sharedPolicy),
        loadJwks:
          documentsBucket !== undefined
            ? () => s3GetObjectText(documentsBucket, (jwksKey ??= documentPaths(entry.issuer).jwksKey), s3Settings())
            : entry.jwksUrl !== undefined
              ? jwksUrlLoader(entry.jwksUrl, fetchOptions)
              : discoveryJwksLoader(entry.issuer, fetchOptions),
        loadDenyList: privateBucket === undefined ? async () => undefined : () => s3GetObjectText(privateBucket, denyListKey, s3Settings()),
        ttlSeconds: entry.keysTtlSeconds ?? timings.ttlSeconds,
        unknownKidCooldownSeconds: entry.unknownKidCooldownSeconds ?? timings.unknownKidCooldownSeconds,
        staleWindowSeconds: entry.staleWindowSeconds ?? timings.staleWindowSeconds,
      };
    }),
    { nowMs: () => Date.now(), onFetch: (event) => logLine({ message: 'key set fetch', ...event }) },
  );
}

const keys = trustedIssuers === undefined ? singleClusterKeys() : fleetKeys(trustedIssuers);
/** The single cluster's configured name, named in answers next to the issuer. */
const clusterName = trustedIssuers === undefined ? optionalEnv('CLUSTER_NAME') : undefined;
const metricsNamespace = optionalEnv('METRICS_NAMESPACE') ?? 'KubeOidc';

/** One log line per request that also carries its metrics (verdicts by reason, latency). */
function logRequest(line: Record<string, unknown>): void {
  const result = String(line.verdict === 'authenticated' ? 'authenticated' : line.reason ?? line.verdict ?? 'unknown');
  logWithMetrics(
    metricsNamespace,
    { Route: String(line.route ?? 'none'), Result: result },
    { [VERIFY_METRICS.requests]: { value: 1, unit: 'Count' }, [VERIFY_METRICS.latency]: { value: Number(line.latencyMs ?? 0), unit: 'Milliseconds' } },
    line,
  );
}

const authAudiences = stringListEnv('AUTH_AUDIENCES', defaultAudiences);

/** The Lambda entry point. */
export async function handler(event: APIGatewayProxyEventV2WithIAMAuthorizer): Promise<APIGatewayProxyStructuredResultV2> {
  const response = await handleVerifyRequest(toApiRequest(event), {
    keys,
    now: () => Math.floor(Date.now() / 1000),
    log: logRequest,
    authAudiences,
    ...(clusterName !== undefined ? { cluster: clusterName } : {}),
    clockMs: () => performance.now(),
  });
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

/**
 * The event as the core's request. `rawPath` is passed as it came (HTTP API has already
 * percent-decoded it; the core refuses dot segments, backslashes and empty segments in whatever
 * form arrives). Payload 2.0 joins repeated headers with commas: the core treats a comma in
 * `authorization` as two headers. A header name given twice in different case is kept as a list.
 */
function toApiRequest(event: APIGatewayProxyEventV2WithIAMAuthorizer): ApiRequest {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (typeof value !== 'string') continue;
    const lower = name.toLowerCase();
    const existing = headers[lower];
    headers[lower] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) if (value !== undefined) query[name] = value;
  const body = event.body === undefined ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  const callerArn = event.requestContext?.authorizer?.iam?.userArn;
  return {
    method: event.requestContext.http.method,
    path: typeof event.rawPath === 'string' ? event.rawPath : '',
    headers,
    query,
    body,
    callerAudiences: callerAudiences && callerArn !== undefined ? callerAudiences.get(roleArnOf(callerArn)) ?? [] : undefined,
  };
}

/** `{ "arn:aws:iam::123:role/payments": ["api.payments.internal"] }`: which audiences each IAM caller may ask about. */
function parseCallerAudiences(raw: string | undefined): Map<string, string[]> | undefined {
  if (raw === undefined) return undefined;
  const value = JSON.parse(raw) as Record<string, string[]>;
  return new Map(Object.entries(value).map(([arn, audiences]) => [roleArnOf(arn), audiences]));
}

/** An assumed-role session ARN names the role it came from; bindings are made per role. */
export function roleArnOf(arn: string): string {
  const match = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : arn;
}
