/**
 * What the single-issuer and the fleet verifier Lambdas share: the environment both read (policy,
 * key timings, caller audiences, metrics), the S3 settings, and the handler that turns an API
 * Gateway HTTP API (payload v2) event into the shared verify-API behaviour (core/verify-api.ts).
 * Each mode has its own entry (single-issuer.ts, fleet.ts) and its own bundle, so a single-issuer
 * verifier compiles no fleet code at its cold start and a fleet verifier no single-cluster code.
 */
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleVerifyRequest, ApiRequest, type VerifyApiDeps } from '../../core/verify-api';
import type { VerifierPolicy } from '../../core/verifier';
import { VERIFY_METRICS } from '../../core/metrics';
import type { S3GetSettings } from '../../runtime/s3-lite';
import { logLine, logWithMetrics } from '../../runtime/telemetry';
import { booleanEnv, integerEnv, optionalEnv, requireEnv, stringListEnv } from '../env';

/** Where a deny list is read when no key is given. */
export const DEFAULT_DENY_LIST_KEY = 'control/deny-list.json';

/** The Lambda entry point's type. */
export type VerifyHandler = (event: APIGatewayProxyEventV2WithIAMAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;

/** A key cache's refresh timings, from the environment. */
export interface KeyTimings {
  readonly ttlSeconds: number;
  readonly unknownKidCooldownSeconds: number;
  readonly staleWindowSeconds: number;
}

/** The policy every issuer of this verifier starts from; its default audiences are always set. */
export type SharedPolicy = Omit<VerifierPolicy, 'issuer'> & { readonly defaultAudiences: readonly string[] };

/**
 * The global policy variables: the single cluster's policy, or the fleet entries' defaults.
 * Read at init, in the order the verifier always read them, so the first bad variable is named.
 */
export function sharedPolicyEnv(): SharedPolicy {
  const allowedAudiences = stringListEnv('ALLOWED_AUDIENCES', []);
  const defaultAudiences = stringListEnv('DEFAULT_AUDIENCES', allowedAudiences);
  return {
    allowedAudiences,
    defaultAudiences,
    clockSkewSeconds: integerEnv('CLOCK_SKEW_SECONDS', 60),
    maxTokenLifetimeSeconds: optionalEnv('MAX_TOKEN_LIFETIME_SECONDS') === undefined ? undefined : integerEnv('MAX_TOKEN_LIFETIME_SECONDS', 0),
    maxTokenBytes: integerEnv('MAX_TOKEN_BYTES', 16_384),
    kidlessCompat: booleanEnv('KIDLESS_COMPAT', false),
  };
}

/** `KEYS_TTL_SECONDS`, `UNKNOWN_KID_COOLDOWN_SECONDS`, `STALE_WINDOW_SECONDS`. */
export function keyTimingsEnv(): KeyTimings {
  return {
    ttlSeconds: integerEnv('KEYS_TTL_SECONDS', 60),
    unknownKidCooldownSeconds: integerEnv('UNKNOWN_KID_COOLDOWN_SECONDS', 30),
    staleWindowSeconds: integerEnv('STALE_WINDOW_SECONDS', 900),
  };
}

/** Credentials are read per fetch: Lambda rotates them in the environment of a warm instance. */
export function s3Settings(): S3GetSettings {
  return {
    region: requireEnv('AWS_REGION'),
    endpoint: optionalEnv('AWS_ENDPOINT_URL'),
    credentials: { accessKeyId: requireEnv('AWS_ACCESS_KEY_ID'), secretAccessKey: requireEnv('AWS_SECRET_ACCESS_KEY'), sessionToken: optionalEnv('AWS_SESSION_TOKEN') },
  };
}

/** The log line of each key-set fetch. */
export function logKeyFetch(event: Record<string, unknown>): void {
  logLine({ message: 'key set fetch', ...event });
}

/** `CALLER_AUDIENCES`, read at init (before the keys' variables, as it always was). */
export function callerAudiencesEnv(): Map<string, string[]> | undefined {
  return parseCallerAudiences(optionalEnv('CALLER_AUDIENCES'));
}

/**
 * The Lambda handler for a verifier with these keys. Reads `METRICS_NAMESPACE` and
 * `AUTH_AUDIENCES` (default: the policy's default audiences) once, here.
 */
export function createVerifyHandler(options: {
  readonly keys: VerifyApiDeps['keys'];
  readonly defaultAudiences: readonly string[];
  readonly callerAudiences: Map<string, string[]> | undefined;
  /** The single cluster's configured name, named in answers next to the issuer. */
  readonly clusterName?: string;
}): VerifyHandler {
  const { keys, callerAudiences, clusterName } = options;
  const metricsNamespace = optionalEnv('METRICS_NAMESPACE') ?? 'KubeOidc';
  const authAudiences = stringListEnv('AUTH_AUDIENCES', options.defaultAudiences);

  /** One log line per request that also carries its metrics (verdicts by reason, latency). */
  const logRequest = (line: Record<string, unknown>): void => {
    const result = String(line.verdict === 'authenticated' ? 'authenticated' : line.reason ?? line.verdict ?? 'unknown');
    logWithMetrics(
      metricsNamespace,
      { Route: String(line.route ?? 'none'), Result: result },
      { [VERIFY_METRICS.requests]: { value: 1, unit: 'Count' }, [VERIFY_METRICS.latency]: { value: Number(line.latencyMs ?? 0), unit: 'Milliseconds' } },
      line,
    );
  };

  return async (event) => {
    const response = await handleVerifyRequest(toApiRequest(event, callerAudiences), {
      keys,
      now: () => Math.floor(Date.now() / 1000),
      log: logRequest,
      authAudiences,
      ...(clusterName !== undefined ? { cluster: clusterName } : {}),
      clockMs: monotonicMs,
    });
    return { statusCode: response.status, headers: response.headers, body: response.body };
  };
}

/**
 * A monotonic millisecond clock for the logged latency. `process.hrtime` rather than
 * `performance.now()`: loading `node:perf_hooks` costs a cold start about 1.5 ms (BENCHMARKS.md).
 */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * The event as the core's request. `rawPath` is passed as it came (HTTP API has already
 * percent-decoded it; the core refuses dot segments, backslashes and empty segments in whatever
 * form arrives). Payload 2.0 joins repeated headers with commas: the core treats a comma in
 * `authorization` as two headers. A header name given twice in different case is kept as a list.
 */
function toApiRequest(event: APIGatewayProxyEventV2WithIAMAuthorizer, callerAudiences: Map<string, string[]> | undefined): ApiRequest {
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
