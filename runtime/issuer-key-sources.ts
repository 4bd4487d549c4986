/**
 * Where a trusted issuer's keys come from, for the multi-issuer verifier:
 * - over HTTPS through OIDC discovery, the way a relying party such as AWS STS does it (any
 *   Kubernetes issuer, EKS's `https://oidc.eks.REGION.amazonaws.com/id/ID` included): fetch
 *   `ISSUER/.well-known/openid-configuration`, require its `issuer` to equal the configured one
 *   byte for byte, then fetch its `jwks_uri`;
 * - from a JWKS URL, only when one is configured by hand.
 * (This project's clusters in the same account are read from their documents bucket with
 * runtime/s3-lite.ts, as the single-cluster verifier does.)
 *
 * Fetches go through runtime/http-client.ts: no redirects, a deadline, a size cap, plain http
 * only on loopback addresses.
 */
import { documentPaths } from '../core/documents';
import { httpGet, type HttpGetOptions } from './http-client';

/** How an issuer's documents are fetched. */
export interface IssuerFetchOptions {
  /** PEM CA bundle replacing the default trust store (an issuer on a private CA). */
  readonly caPem?: string;
  /**
   * Deadline of each GET, in milliseconds.
   * @default 3000
   */
  readonly timeoutMs?: number;
  /** The GET to use (tests). @default httpGet */
  readonly get?: typeof httpGet;
}

/** Loads the JWKS text of a configured JWKS URL. */
export function jwksUrlLoader(jwksUrl: string, options: IssuerFetchOptions = {}): () => Promise<string> {
  return () => fetchJson(jwksUrl, 'JWKS', options);
}

/**
 * Loads an issuer's JWKS through its discovery document. The `jwks_uri` found is reused by later
 * loads; a failed JWKS fetch drops it, so the next load reads the discovery document again.
 */
export function discoveryJwksLoader(issuer: string, options: IssuerFetchOptions = {}): () => Promise<string> {
  const discoveryUrl = documentPaths(issuer).discoveryUrl;
  let jwksUri: string | undefined;
  return async () => {
    if (jwksUri === undefined) jwksUri = jwksUriOf(issuer, discoveryUrl, await fetchJson(discoveryUrl, 'discovery document', options));
    try {
      return await fetchJson(jwksUri, 'JWKS', options);
    } catch (err) {
      jwksUri = undefined;
      throw err;
    }
  };
}

/** The `jwks_uri` of a discovery document that names exactly this issuer; throws otherwise. */
export function jwksUriOf(issuer: string, discoveryUrl: string, text: string): string {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`${discoveryUrl}: the discovery document is not JSON`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new Error(`${discoveryUrl}: the discovery document is not a JSON object`);
  const { issuer: named, jwks_uri: jwksUri } = document as Record<string, unknown>;
  // OIDC Discovery 1.0 section 4.3: the issuer in the document must be identical to the one used.
  if (named !== issuer) throw new Error(`${discoveryUrl}: the discovery document names issuer ${JSON.stringify(String(named).slice(0, 200))}, not ${JSON.stringify(issuer)}`);
  if (typeof jwksUri !== 'string' || jwksUri === '') throw new Error(`${discoveryUrl}: the discovery document has no jwks_uri`);
  return jwksUri;
}

async function fetchJson(url: string, what: string, options: IssuerFetchOptions): Promise<string> {
  const get = options.get ?? httpGet;
  const settings: HttpGetOptions = {
    timeoutMs: options.timeoutMs ?? 3000,
    // http-client still refuses plain http to anything but a loopback address (local mode, tests).
    allowHttp: true,
    ...(options.caPem !== undefined ? { caPem: options.caPem } : {}),
  };
  const response = await get(url, settings);
  if (response.status !== 200) throw new Error(`${url}: the ${what} answered HTTP ${response.status}`);
  return response.body;
}
