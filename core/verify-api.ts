/**
 * The HTTP behaviour of the Verify API, independent of how requests arrive: the Lambda (API
 * Gateway HTTP API v2 events) and local mode (node:http) each adapt their requests to
 * {@link ApiRequest} and send back the {@link ApiResponse}.
 *
 * Routes (docs/verify-api.md has the shapes):
 * - `POST /apis/authentication.k8s.io/v1/tokenreviews`: Kubernetes TokenReview in and out.
 * - `POST /verify`: `{ token, audiences }` in, a flat verdict out.
 * - any method on `/auth` and `/auth/audience/AUD[/...]`: forward-auth for nginx `auth_request`,
 *   Traefik forwardAuth and Envoy ext_authz (HTTP): 200 with identity headers or 401, never a
 *   redirect. Other paths below `/auth/` are 404; paths a normaliser could read another way are 400.
 *
 * A refused token is an answer, not an error (200, or 401 on `/auth`). Bad requests get 400, 404,
 * 405 or 413 with a JSON body; the only server error for any input is 503 when no key set is
 * usable. One structured log line per request; the token and its signature are never logged.
 */
import { findDuplicateJsonKey, mayHaveDuplicateMember } from './jws-compact';
import { EXTRA_CLUSTER, EXTRA_ISSUER, quote } from './token-claims';
import type { IssuerRouter, TrustedIssuerKeys } from './trusted-issuers';
import type { Identity, UnverifiedPayload, Verifier, VerifyResult } from './verifier';

/** One HTTP request, as an adapter hands it over. */
export interface ApiRequest {
  /** HTTP method, any case. */
  readonly method: string;
  /**
   * The raw request target exactly as received (origin-form: `/path` optionally followed by
   * `?query`), without an API Gateway stage prefix. Never a normalised form (no `new URL()`):
   * the core refuses what a normaliser would silently resolve (dot segments, encoded slashes).
   */
  readonly path: string;
  /**
   * Headers with lower-case names. An adapter passes a repeated header as the list of its values
   * (never merged), so that the core can refuse, say, two `Authorization` headers.
   */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Query parameters (the first value of each). */
  readonly query: Readonly<Record<string, string | undefined>>;
  /** Body text, already base64-decoded by the adapter when needed. */
  readonly body?: string;
  /** Set by an adapter that stopped reading the body at its own limit: the answer is 413. */
  readonly bodyTooLarge?: boolean;
  /**
   * Audiences this caller may ask about, when IAM authorization binds callers to audiences.
   * A request naming another is refused (`bad_audience`); a request naming none asks about these.
   * @default - no binding: the verifier's allowed audiences apply
   */
  readonly callerAudiences?: readonly string[];
}

/** The answer to send. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Where the handler gets its verifier: implemented by the runtime's key cache. */
export interface KeySetProvider {
  /** The verifier of the current key set, or `undefined` when none is usable (answer: 503). */
  current(): Promise<Verifier | undefined>;
  /**
   * Called once per request whose token names an unknown kid (the key may have been published
   * since the last load). Returns a newer verifier to retry with, or `undefined` when there is
   * none (for instance within the refetch cooldown).
   */
  refreshForUnknownKid(kid: string): Promise<Verifier | undefined>;
}

/** What the handler needs from its environment. */
export interface VerifyApiDeps {
  /**
   * The key set of the one trusted issuer, or the router over several (core/trusted-issuers.ts),
   * which picks each token's key set by its `iss` before any key is looked up.
   */
  readonly keys: KeySetProvider | IssuerRouter<TrustedIssuerKeys>;
  /** With a single key set: the configured cluster name, given in answers next to the issuer. */
  readonly cluster?: string;
  /** Current time, epoch seconds: the verification time. */
  now(): number;
  /** Receives one structured line per request. */
  log?(line: Record<string, unknown>): void;
  /** Audiences `/auth` checks when its path names none (empty: the verifier's defaults). */
  readonly authAudiences: readonly string[];
  /**
   * Largest accepted request body, in bytes.
   * @default 65536
   */
  readonly maxBodyBytes?: number;
  /**
   * A monotonic millisecond clock for the logged latency (`performance.now`).
   * @default - derived from `now()`
   */
  clockMs?(): number;
}

/** Path of the TokenReview route. */
export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
/** Path of the flat verify route. */
export const VERIFY_PATH = '/verify';
/** Path (and prefix, `/auth/...`) of the forward-auth route. */
export const AUTH_PATH = '/auth';
/** Default of {@link VerifyApiDeps.maxBodyBytes}. */
export const DEFAULT_MAX_BODY_BYTES = 65536;

/** Response headers of a successful `/auth`, for proxies to copy upstream. */
export const AUTH_HEADERS = {
  user: 'x-auth-request-user',
  uid: 'x-auth-request-uid',
  groups: 'x-auth-request-groups',
  namespace: 'x-auth-request-namespace',
  serviceAccount: 'x-auth-request-service-account',
  audiences: 'x-auth-request-audiences',
  expiresAt: 'x-auth-request-expires-at',
  podName: 'x-auth-request-pod-name',
  podUid: 'x-auth-request-pod-uid',
  nodeName: 'x-auth-request-node-name',
  jti: 'x-auth-request-jti',
  issuer: 'x-auth-request-issuer',
  cluster: 'x-auth-request-cluster',
} as const;

/** A verdict; a positive one names the issuer whose keys verified it (and its cluster). */
type NamedResult = Extract<VerifyResult, { ok: false }> | (Extract<VerifyResult, { ok: true }> & { readonly issuer: string; readonly cluster?: string });

type Route = 'tokenreview' | 'verify' | 'auth';

/** Why a request (not a token) was refused. */
type RequestErrorCode = 'bad_request' | 'malformed_json' | 'body_too_large' | 'method_not_allowed' | 'not_found' | 'unavailable' | 'internal';

const STATUS_OF: Record<RequestErrorCode, number> = {
  bad_request: 400,
  malformed_json: 400,
  body_too_large: 413,
  method_not_allowed: 405,
  not_found: 404,
  unavailable: 503,
  internal: 500,
};

/** Kubernetes `Status.reason` for each error, for the TokenReview route's clients. */
const KUBE_REASON_OF: Record<RequestErrorCode, string> = {
  bad_request: 'BadRequest',
  malformed_json: 'BadRequest',
  body_too_large: 'RequestEntityTooLarge',
  method_not_allowed: 'MethodNotAllowed',
  not_found: 'NotFound',
  unavailable: 'ServiceUnavailable',
  internal: 'InternalError',
};

const BASE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

class RequestError {
  constructor(
    readonly code: RequestErrorCode,
    readonly message: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** What one request did, for its log line. */
interface Outcome {
  readonly response: ApiResponse;
  readonly verdict: 'authenticated' | 'rejected' | 'request_error';
  readonly reason?: string;
  readonly result?: NamedResult;
}

/**
 * Answers one Verify API request. Never throws; a bug surfaces as a logged 500, never as a
 * rejected promise.
 */
export async function handleVerifyRequest(request: ApiRequest, deps: VerifyApiDeps): Promise<ApiResponse> {
  const startedMs = clockMs(deps);
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : '';
  const target = typeof request.path === 'string' ? request.path : '';
  const route = isOriginForm(target) ? routeOf(target) : undefined;
  let outcome: Outcome;
  try {
    if (!isOriginForm(target)) {
      throw new RequestError('bad_request', `the request target ${JSON.stringify(target.slice(0, 100))} is not origin-form: it must start with a single "/"`);
    }
    outcome = await handle(route, method, request, deps);
  } catch (err) {
    const error = err instanceof RequestError ? err : new RequestError('internal', 'internal error');
    outcome = { response: errorResponse(route, error), verdict: 'request_error', reason: error.code };
    if (!(err instanceof RequestError)) {
      safeLog(deps, { event: 'verify_api_error', error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'non-error thrown' });
    }
  }
  safeLog(deps, logLine(route, method, outcome, clockMs(deps) - startedMs));
  return outcome.response;
}

async function handle(route: Route | undefined, method: string, request: ApiRequest, deps: VerifyApiDeps): Promise<Outcome> {
  if (route === undefined) {
    throw new RequestError('not_found', `no route ${JSON.stringify(String(request.path).slice(0, 100))}: use POST ${TOKEN_REVIEW_PATH}, POST ${VERIFY_PATH} or ${AUTH_PATH}`);
  }
  if (route === 'auth') return handleAuth(request, deps);
  if (method !== 'POST') throw new RequestError('method_not_allowed', `${route === 'verify' ? VERIFY_PATH : TOKEN_REVIEW_PATH} accepts POST only`, { allow: 'POST' });
  const body = readJsonBody(request, deps);
  if (route === 'verify') {
    const { token, audiences } = verifyRequestOf(body);
    const result = await verifyToken(token, audiences, request.callerAudiences, deps);
    return verdictOutcome(result, jsonResponse(200, verifyResponseBody(result)));
  }
  const { token, audiences } = tokenReviewOf(body);
  const result = await verifyToken(token, audiences, request.callerAudiences, deps);
  return verdictOutcome(result, jsonResponse(200, tokenReviewResponseBody(result)));
}

/** Path prefix by which a proxy fixes the audience of forward-auth: `/auth/audience/AUD/...`. */
export const AUTH_AUDIENCE_PREFIX = `${AUTH_PATH}/audience/`;

/**
 * The audiences a forward-auth request checks, from its raw path (query already removed): the
 * configured ones for exactly `/auth`, the one the path names for `/auth/audience/AUD` and
 * `/auth/audience/AUD/<client path>`. Any other path below `/auth/` is 404, never a fallback to
 * the configured audiences. Never a query parameter: Envoy's ext_authz appends the client's path
 * and query to its prefix, so a query would let the client choose; the prefix is the proxy's own
 * configuration.
 *
 * The path is refused (400) when anything along it could be read differently by a normaliser in
 * front of or behind us: dot segments (`.`, `..`, raw or percent-encoded in any mix), encoded
 * slashes, backslashes (raw or `%5C`), and empty segments (a trailing `/` aside). A client
 * controls the suffix Envoy appends, so `/auth/audience/orders/%2e%2e/billing` must never become
 * a request for `billing`.
 */
function authAudiencesOf(path: string, configured: readonly string[]): readonly string[] {
  if (path === AUTH_PATH) return configured;
  const unsafe = unsafePathReason(path);
  if (unsafe !== undefined) throw new RequestError('bad_request', `forward-auth path refused: ${unsafe}`);
  if (!path.startsWith(AUTH_AUDIENCE_PREFIX)) {
    throw new RequestError('not_found', `no forward-auth route ${JSON.stringify(path.slice(0, 100))}: use ${AUTH_PATH} or ${AUTH_AUDIENCE_PREFIX}AUD[/...]`);
  }
  const segment = path.slice(AUTH_AUDIENCE_PREFIX.length).split('/')[0];
  let audience: string;
  try {
    audience = decodeURIComponent(segment);
  } catch {
    throw new RequestError('bad_request', 'the audience in /auth/audience/AUD/ is not valid percent-encoding');
  }
  if (audience === '') throw new RequestError('bad_request', 'the path /auth/audience/AUD/ names no audience');
  return [audience];
}

/** Segments made of dots only, each dot raw or percent-encoded (`.`, `..`, `%2e`, `.%2E`, ...). */
const DOT_SEGMENT = /^(?:\.|%2e)+$/i;

/** Why a forward-auth path could be resolved differently by someone else, or `undefined`. */
function unsafePathReason(path: string): string | undefined {
  if (/%2f/i.test(path)) return 'it contains an encoded slash (%2F)';
  if (path.includes('\\') || /%5c/i.test(path)) return 'it contains a backslash (raw or %5C)';
  const segments = path.slice(1).split('/');
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index];
    if (segment === '' && index < segments.length - 1) return 'it contains an empty segment (//)';
    if (DOT_SEGMENT.test(segment)) return 'it contains a dot segment (".", "..", raw or percent-encoded)';
  }
  return undefined;
}

/** Whether a request target is origin-form: one `/`, then anything but another `/` first. */
function isOriginForm(target: string): boolean {
  return target.startsWith('/') && !target.startsWith('//');
}

async function handleAuth(request: ApiRequest, deps: VerifyApiDeps): Promise<Outcome> {
  // Path problems first: a refused path is refused whatever the token.
  const audiences = authAudiencesOf(request.path.split('?')[0], deps.authAudiences);
  const authorizations = headerValues(request, 'authorization');
  // Two Authorization headers (or API Gateway's comma-joined form of them, a comma never being
  // part of a bearer token) would let a proxy and this API read different tokens.
  if (authorizations.length > 1 || authorizations.some((value) => value.includes(','))) {
    const message = 'more than one Authorization header';
    const response = jsonResponse(401, { authenticated: false, reason: 'malformed', message }, { 'www-authenticate': 'Bearer error="invalid_request"' });
    return { response, verdict: 'rejected', reason: 'malformed' };
  }
  const authorization = authorizations[0];
  const match = authorization === undefined ? null : /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(authorization);
  if (match === null) {
    const message = authorization === undefined ? 'no Authorization header' : 'Authorization is not "Bearer <token>"';
    const response = jsonResponse(401, { authenticated: false, reason: 'malformed', message }, { 'www-authenticate': 'Bearer' });
    return { response, verdict: 'rejected', reason: 'malformed' };
  }
  const result = await verifyToken(match[1], audiences, request.callerAudiences, deps);
  if (!result.ok) {
    const response = jsonResponse(
      401,
      { authenticated: false, reason: result.reason, message: result.message },
      { 'www-authenticate': `Bearer error="invalid_token", error_description="${result.reason}"` },
    );
    return verdictOutcome(result, response);
  }
  return verdictOutcome(result, jsonResponse(200, verifyResponseBody(result), identityHeaders(result)));
}

/**
 * Verifies with the current key set of the token's issuer (chosen by its `iss` alone when
 * several are trusted), refetching once for an unknown kid.
 */
async function verifyToken(token: string, asked: readonly string[] | undefined, callerAudiences: readonly string[] | undefined, deps: VerifyApiDeps): Promise<NamedResult> {
  const audiences = boundAudiences(asked, callerAudiences);
  if (typeof audiences === 'string') return { ok: false, reason: 'bad_audience', message: audiences };
  let keys: KeySetProvider;
  let cluster = deps.cluster;
  let unverifiedPayload: UnverifiedPayload | undefined;
  if ('route' in deps.keys) {
    const choice = deps.keys.route(token);
    if (!choice.ok) return choice;
    keys = choice.entry.keys;
    cluster = choice.entry.cluster;
    unverifiedPayload = choice.payload;
  } else {
    keys = deps.keys;
  }
  const verifier = await availableVerifier(() => keys.current());
  if (verifier === undefined) throw new RequestError('unavailable', 'no usable key set for this token\'s issuer: try again shortly', { 'retry-after': '5' });
  const request = { audiences, now: deps.now(), unverifiedPayload };
  let result = verifier.verify(token, request);
  let verifiedBy = verifier;
  const unknownKid = !result.ok && result.reason === 'unknown_kid' ? result.kid : undefined;
  if (unknownKid !== undefined) {
    const refreshed = await availableVerifier(() => keys.refreshForUnknownKid(unknownKid));
    if (refreshed !== undefined) {
      result = refreshed.verify(token, { ...request, now: deps.now() });
      verifiedBy = refreshed;
    }
  }
  if (!result.ok) return result;
  const issuer = verifiedBy.policy.issuer;
  return cluster === undefined ? { ...result, issuer } : { ...result, issuer, cluster };
}

/** Applies the caller binding: the audiences to ask about, or why the caller may not. */
function boundAudiences(asked: readonly string[] | undefined, callerAudiences: readonly string[] | undefined): readonly string[] | undefined | string {
  const requested = asked !== undefined && asked.length > 0 ? asked : undefined;
  if (callerAudiences === undefined) return requested;
  if (requested === undefined) return callerAudiences.length > 0 ? callerAudiences : 'this caller may not check tokens for any audience';
  const refused = requested.find((audience) => !callerAudiences.includes(audience));
  return refused === undefined ? requested : `this caller may not check tokens for audience ${JSON.stringify(refused.slice(0, 120))}`;
}

async function availableVerifier(get: () => Promise<Verifier | undefined>): Promise<Verifier | undefined> {
  try {
    return await get();
  } catch {
    // The key cache reports its own failures; here an error just means no usable key set.
    return undefined;
  }
}

function readJsonBody(request: ApiRequest, deps: VerifyApiDeps): unknown {
  const limit = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const body = request.body;
  if (request.bodyTooLarge === true || (typeof body === 'string' && body.length > limit / 3 && Buffer.byteLength(body, 'utf8') > limit)) {
    throw new RequestError('body_too_large', `request body is larger than ${limit} bytes`);
  }
  if (typeof body !== 'string' || body.trim() === '') throw new RequestError('bad_request', 'request body is empty: a JSON object is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new RequestError('malformed_json', 'request body is not valid JSON');
  }
  // JSON.parse keeps the last of repeated members; a proxy or log reading the first would see
  // another token than the one verified.
  if (mayHaveDuplicateMember(body, parsed)) {
    const duplicate = findDuplicateJsonKey(body);
    if (duplicate !== undefined) throw new RequestError('malformed_json', `request body repeats the member ${quote(duplicate)}`);
  }
  return parsed;
}

function verifyRequestOf(body: unknown): { token: string; audiences: readonly string[] | undefined } {
  if (!isPlainObject(body)) throw new RequestError('bad_request', 'request body must be a JSON object: {"token": "...", "audiences": ["..."]}');
  return { token: requiredToken(body.token, '"token"'), audiences: optionalAudiences(body.audiences, '"audiences"') };
}

function tokenReviewOf(body: unknown): { token: string; audiences: readonly string[] | undefined } {
  if (!isPlainObject(body)) throw new RequestError('bad_request', 'request body must be a TokenReview object');
  if (body.kind !== undefined && body.kind !== 'TokenReview') throw new RequestError('bad_request', `kind must be "TokenReview", got ${shown(body.kind)}`);
  if (body.apiVersion !== undefined && body.apiVersion !== 'authentication.k8s.io/v1') {
    throw new RequestError('bad_request', `apiVersion must be "authentication.k8s.io/v1", got ${shown(body.apiVersion)}`);
  }
  const spec = body.spec;
  if (!isPlainObject(spec)) throw new RequestError('bad_request', 'TokenReview has no spec object');
  return { token: requiredToken(spec.token, 'spec.token'), audiences: optionalAudiences(spec.audiences, 'spec.audiences') };
}

function requiredToken(value: unknown, label: string): string {
  if (typeof value !== 'string') throw new RequestError('bad_request', `${label} must be a string`);
  if (value === '') throw new RequestError('bad_request', `${label} is empty`);
  return value;
}

function optionalAudiences(value: unknown, label: string): readonly string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new RequestError('bad_request', `${label} must be a list of strings`);
  return value as string[];
}

function verifyResponseBody(result: NamedResult): Record<string, unknown> {
  if (!result.ok) return { authenticated: false, reason: result.reason, message: result.message };
  const identity = result.identity;
  return {
    authenticated: true,
    user: userOf(identity),
    audiences: identity.audiences,
    expiresAt: identity.expiresAt,
    namespace: identity.namespace,
    serviceAccount: identity.serviceAccount,
    ...(identity.jti !== undefined ? { jti: identity.jti } : {}),
    issuer: result.issuer,
    ...(result.cluster !== undefined ? { cluster: result.cluster } : {}),
  };
}

function tokenReviewResponseBody(result: NamedResult): Record<string, unknown> {
  const status = result.ok
    ? { authenticated: true, user: userOf(result.identity, result), audiences: result.identity.audiences }
    : { authenticated: false, user: {}, error: `${result.reason}: ${result.message}` };
  // The request's spec (which holds the token) is deliberately not echoed back.
  return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, status };
}

/**
 * TokenReview's `status.user` (and `/verify`'s `user`). With `named`, `extra` also names the
 * issuer and cluster under this project's keys, as TokenReview has no other place for them.
 */
function userOf(identity: Identity, named?: { readonly issuer: string; readonly cluster?: string }): Record<string, unknown> {
  let extra: Readonly<Record<string, readonly string[]>> = identity.extra;
  if (named !== undefined) {
    extra = { ...extra, [EXTRA_ISSUER]: [named.issuer] };
    if (named.cluster !== undefined) extra = { ...extra, [EXTRA_CLUSTER]: [named.cluster] };
  }
  return {
    username: identity.username,
    uid: identity.uid,
    groups: identity.groups,
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

function identityHeaders(result: Extract<NamedResult, { ok: true }>): Record<string, string> {
  const identity = result.identity;
  const headers: Record<string, string> = {
    [AUTH_HEADERS.user]: identity.username,
    [AUTH_HEADERS.uid]: identity.uid,
    [AUTH_HEADERS.groups]: identity.groups.join(','),
    [AUTH_HEADERS.namespace]: identity.namespace,
    [AUTH_HEADERS.serviceAccount]: identity.serviceAccount,
    [AUTH_HEADERS.audiences]: identity.audiences.join(','),
    [AUTH_HEADERS.expiresAt]: String(identity.expiresAt),
  };
  const podName = identity.extra['authentication.kubernetes.io/pod-name']?.[0];
  const podUid = identity.extra['authentication.kubernetes.io/pod-uid']?.[0];
  const nodeName = identity.extra['authentication.kubernetes.io/node-name']?.[0];
  if (podName !== undefined) headers[AUTH_HEADERS.podName] = podName;
  if (podUid !== undefined) headers[AUTH_HEADERS.podUid] = podUid;
  if (nodeName !== undefined) headers[AUTH_HEADERS.nodeName] = nodeName;
  if (identity.jti !== undefined) headers[AUTH_HEADERS.jti] = identity.jti;
  headers[AUTH_HEADERS.issuer] = result.issuer;
  if (result.cluster !== undefined) headers[AUTH_HEADERS.cluster] = result.cluster;
  for (const [name, value] of Object.entries(headers)) headers[name] = headerSafe(value);
  return headers;
}

/** Claims are signed but still arbitrary text: keep header values to printable ASCII. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function verdictOutcome(result: NamedResult, response: ApiResponse): Outcome {
  return result.ok ? { response, verdict: 'authenticated', result } : { response, verdict: 'rejected', reason: result.reason, result };
}

function errorResponse(route: Route | undefined, error: RequestError): ApiResponse {
  const status = STATUS_OF[error.code];
  const body =
    route === 'tokenreview'
      ? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: error.message, reason: KUBE_REASON_OF[error.code], code: status }
      : { error: error.code, message: error.message };
  return jsonResponse(status, body, error.headers);
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function routeOf(path: string): Route | undefined {
  const bare = path.split('?')[0];
  if (bare === TOKEN_REVIEW_PATH) return 'tokenreview';
  if (bare === VERIFY_PATH) return 'verify';
  if (bare === AUTH_PATH || bare.startsWith(`${AUTH_PATH}/`)) return 'auth';
  return undefined;
}

/** Every value of a header, repeated ones unmerged. */
function headerValues(request: ApiRequest, name: string): string[] {
  const value = request.headers?.[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** A client-sent JSON value in a message, cut to the length of every other quoted value. */
function shown(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = typeof value;
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function logLine(route: Route | undefined, method: string, outcome: Outcome, latencyMs: number): Record<string, unknown> {
  const line: Record<string, unknown> = {
    event: 'verify_request',
    route: route ?? 'none',
    method: method.slice(0, 16),
    status: outcome.response.status,
    verdict: outcome.verdict,
  };
  if (outcome.reason !== undefined) line.reason = outcome.reason;
  const result = outcome.result;
  if (result?.ok) {
    line.kid = result.identity.kid;
    line.sub = result.identity.username;
    line.iss = result.issuer;
    if (result.cluster !== undefined) line.cluster = result.cluster;
    if (result.identity.jti !== undefined) line.jti = result.identity.jti;
  } else if (result !== undefined) {
    // Before the signature verifies, the kid is only what the caller sent: cut short.
    if (result.kid !== undefined) line.kid = result.kid.slice(0, 128);
    if (result.sub !== undefined) line.sub = result.sub.slice(0, 300);
    if (result.jti !== undefined) line.jti = result.jti.slice(0, 128);
  }
  line.latencyMs = Math.max(0, Math.round(latencyMs * 1000) / 1000);
  return line;
}

function clockMs(deps: VerifyApiDeps): number {
  try {
    return typeof deps.clockMs === 'function' ? deps.clockMs() : deps.now() * 1000;
  } catch {
    return 0;
  }
}

function safeLog(deps: VerifyApiDeps, line: Record<string, unknown>): void {
  try {
    deps.log?.(line);
  } catch {
    // A failing log sink must not turn an answer into an error.
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
