/**
 * A small, strict HTTP GET for fetching issuer documents (discovery, JWKS), the way a relying
 * party such as AWS STS does it: no redirects followed, a hard deadline, a size cap, and an
 * optional private CA that replaces (not extends) the default trust store.
 *
 * Built on `node:https` / `node:http` so the CLI, the sync runtime and local mode share one
 * behaviour and one set of error messages.
 */
// Named imports: a namespace import makes the bundle copy every export of both modules at load.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { FetchedResponse, FetchErrorCode } from '../core/issuer-checks';
import { isLoopbackHost } from '../core/issuer-checks';

export { isLoopbackHost };

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  /**
   * PEM CA bundle that replaces the default trust store for this request (a cluster's own CA, a
   * test CA). Without it, Node's bundled public roots are trusted.
   * @default - the default trust store
   */
  readonly caPem?: string;
  /**
   * Sent as `Authorization: Bearer <token>`, for kube-apiserver's `/openid/v1/jwks` when anonymous
   * auth is off. Never included in error messages.
   * @default - no Authorization header
   */
  readonly bearerToken?: string;
  /**
   * Deadline for the whole exchange (connect, TLS, headers and body), in milliseconds.
   * AWS STS gives an identity provider 5 seconds.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * Largest body accepted, in bytes; larger responses are abandoned with an error.
   * @default 1048576 (1 MiB)
   */
  readonly maxBytes?: number;
  /**
   * Accept plain `http://`, but only when the host is a loopback address (`127.0.0.0/8`, `::1`,
   * `localhost`), for local mode and tests. Remote plain-HTTP URLs are always refused.
   * @default false
   */
  readonly allowHttp?: boolean;
  /**
   * Extra request headers (names are sent as given).
   * @default - only `Accept` (and `Authorization` with a bearer token)
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a GET returned. Redirects are returned as they are (status 3xx with `location`). */
export type HttpResponse = FetchedResponse;

/** Why a GET failed, as a stable code callers can branch on. */
export type HttpGetErrorCode = FetchErrorCode;

/** A GET that produced no response; the message names the URL and the cause, never a credential. */
export class HttpGetError extends Error {
  /** The failure class. */
  readonly code: HttpGetErrorCode;
  /** The URL that was being fetched. */
  readonly url: string;
  /** The underlying Node error code (`ECONNREFUSED`, `SELF_SIGNED_CERT_IN_CHAIN`, ...), when there was one. */
  readonly causeCode?: string;

  constructor(code: HttpGetErrorCode, url: string, message: string, causeCode?: string) {
    super(message);
    this.name = 'HttpGetError';
    this.code = code;
    this.url = url;
    this.causeCode = causeCode;
  }
}

/** Default deadline, the time AWS STS allows an identity provider to answer. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Default body cap: a JWKS of a few keys is a few kilobytes. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

const DEFAULT_ACCEPT = 'application/json, application/jwk-set+json;q=0.9, */*;q=0.1';

/** OpenSSL verification codes Node reports when a certificate chain or name is not trusted. */
const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/**
 * Fetches a URL with GET. Resolves with any HTTP status (including 3xx, which is never followed:
 * STS does not follow redirects either); rejects with an {@link HttpGetError} on a bad URL, a
 * refused plain-HTTP URL, a timeout, an oversize body, a TLS failure or a network failure.
 *
 * @example
 * const res = await httpGet('https://oidc.example.com/cluster-a/.well-known/openid-configuration');
 * if (res.status === 200) JSON.parse(res.body);
 */
export function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new HttpGetError('invalid_url', url, `${JSON.stringify(url)} is not an absolute URL`));
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    return Promise.reject(new HttpGetError('invalid_url', url, `${url}: only https:// URLs can be fetched (got ${target.protocol})`));
  }
  if (target.protocol === 'http:') {
    if (!options.allowHttp) {
      return Promise.reject(new HttpGetError('http_not_allowed', url, `${url}: plain http is refused, use https://`));
    }
    if (!isLoopbackHost(target.hostname)) {
      return Promise.reject(
        new HttpGetError('http_not_allowed', url, `${url}: plain http is allowed only for loopback addresses (127.0.0.1, ::1, localhost)`),
      );
    }
  }

  const headers: Record<string, string> = { accept: DEFAULT_ACCEPT, ...options.headers };
  if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
  const requestOptions: RequestOptions = {
    method: 'GET',
    headers,
    // A private agent per request: no pooled keep-alive socket outlives the call (a CLI exits
    // promptly) and a CA given for one URL never leaks into another request.
    agent: false,
  };
  if (options.caPem !== undefined) requestOptions.ca = options.caPem;

  return new Promise<HttpResponse>((resolve, reject) => {
    // process.hrtime, not performance.now(): node:perf_hooks costs a cold start ~1.5 ms to load.
    const started = process.hrtime.bigint();
    let settled = false;
    const fail = (error: HttpGetError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(error);
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(target, requestOptions, (response) => {
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        fail(new HttpGetError('too_large', url, `${url}: response of ${declared} bytes exceeds the ${maxBytes}-byte limit`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) {
          fail(new HttpGetError('too_large', url, `${url}: response exceeds the ${maxBytes}-byte limit`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (err) => fail(classify(url, err)));
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          headers: flattenHeaders(response.headers),
          body: Buffer.concat(chunks).toString('utf8'),
          elapsedMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
          url,
        });
      });
    });
    const timer = setTimeout(
      () => fail(new HttpGetError('timeout', url, `${url}: no complete response within ${timeoutMs} ms`)),
      timeoutMs,
    );
    request.on('error', (err) => fail(classify(url, err)));
    request.end();
  });
}

function flattenHeaders(raw: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function classify(url: string, err: unknown): HttpGetError {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  const reason = err instanceof Error ? err.message : String(err);
  if (code && (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return new HttpGetError('tls', url, `${url}: TLS failure: ${reason} (${code})`, code);
  }
  if (code === 'ECONNREFUSED') return new HttpGetError('network', url, `${url}: connection refused`, code);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new HttpGetError('network', url, `${url}: host not found`, code);
  return new HttpGetError('network', url, `${url}: ${reason}${code ? ` (${code})` : ''}`, code);
}
