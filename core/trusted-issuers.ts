/**
 * Verification against several trusted issuers (a fleet of clusters behind one Verify API).
 *
 * The key set is chosen by the token's `iss` alone, compared byte for byte with the configured
 * issuers, before any key is looked up: the kid only ever selects a key *within* the chosen
 * issuer's set, so a key or kid of issuer B never verifies a token that claims issuer A. A token
 * naming an issuer that is not configured is refused (`unknown_issuer`) before anything else
 * happens: `iss` is chosen by whoever sent the token, so it must never cause a fetch.
 *
 * `iss` is read from the payload before the signature is checked, with the same strict rules the
 * verifier applies (canonical unpadded base64url, UTF-8 JSON object, no duplicate member at any
 * depth), so the router and the verifier cannot read different issuers from one token. The
 * parsed payload is handed on to the chosen verifier ({@link UnverifiedPayload}), so the hot path
 * parses it once. The chosen verifier still checks `iss` against its own issuer after the
 * signature, so a routing mistake could only ever refuse, never accept.
 */
import { decodeAsciiBase64Url, parseJsonObject } from './jws-compact';
import { quote, type ReasonCode, type VerifyResult } from './token-claims';
import { DEFAULT_MAX_TOKEN_BYTES, type UnverifiedPayload, type Verifier, type VerifyRequest } from './verifier';
import type { KeySetProvider } from './verify-api';

/** What every trusted issuer entry has: the issuer exactly as tokens carry it in `iss`. */
export interface IssuerEntry {
  /** The issuer, byte for byte as in `iss` (a trailing slash or letter case makes another issuer). */
  readonly issuer: string;
  /** The configured cluster name, named in answers so receivers can authorise on it. */
  readonly cluster?: string;
}

/** The verdict of routing one token: its issuer's entry and parsed payload, or a refusal. */
export type IssuerChoice<E extends IssuerEntry> =
  | { readonly ok: true; readonly entry: E; readonly payload: UnverifiedPayload }
  | Extract<VerifyResult, { ok: false }>;

/** Chooses the trusted issuer of a token from its unverified `iss`. */
export interface IssuerRouter<E extends IssuerEntry> {
  /** Routes one token. Synchronous and total: any input gives a choice or a refusal. */
  route(token: string): IssuerChoice<E>;
  /** The configured issuers, in configuration order. */
  readonly issuers: readonly string[];
}

/** Options of {@link createIssuerRouter}. */
export interface IssuerRouterOptions {
  /**
   * Longest accepted token, in characters, checked before anything is decoded.
   * @default 16384
   */
  readonly maxTokenBytes?: number;
}

/**
 * Builds the router over the trusted issuers.
 *
 * @throws TypeError when an issuer is empty, not a string or configured twice, or when two
 * entries share a cluster name (answers name the cluster: it must identify one issuer)
 */
export function createIssuerRouter<E extends IssuerEntry>(entries: readonly E[], options: IssuerRouterOptions = {}): IssuerRouter<E> {
  if (!Array.isArray(entries) || entries.length === 0) throw new TypeError('trusted issuers: at least one issuer is required');
  const maxTokenBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  if (!Number.isInteger(maxTokenBytes) || maxTokenBytes <= 0) throw new TypeError('trusted issuers: maxTokenBytes must be a positive integer');
  const byIssuer = new Map<string, E>();
  const clusters = new Map<string, string>();
  // An indexed loop: a fleet's cold start runs it once per issuer, before the JIT has warmed up.
  for (let index = 0; index < entries.length; index += 1) {
    const entry = entries[index];
    const { issuer, cluster } = entry ?? ({} as E);
    if (typeof issuer !== 'string' || issuer === '') throw new TypeError(`trusted issuers[${index}]: issuer must be a non-empty string`);
    if (byIssuer.has(issuer)) throw new TypeError(`trusted issuers[${index}]: issuer ${quote(issuer)} is configured twice`);
    if (cluster !== undefined) {
      if (typeof cluster !== 'string' || cluster === '') throw new TypeError(`trusted issuers[${index}]: cluster must be a non-empty string when given`);
      const other = clusters.get(cluster);
      if (other !== undefined) throw new TypeError(`trusted issuers[${index}]: cluster ${quote(cluster)} already names issuer ${quote(other)}`);
      clusters.set(cluster, issuer);
    }
    byIssuer.set(issuer, entry);
  }
  const issuers = Object.freeze([...byIssuer.keys()]);

  function route(token: string): IssuerChoice<E> {
    if (typeof token !== 'string') return refusal('malformed', 'token is not a string');
    if (token.length > maxTokenBytes) return refusal('too_large', `token is longer than ${maxTokenBytes} characters`);
    // The chosen verifier refuses a token with any non-ASCII character before it uses anything
    // read here, so the hot path leaves that check to it; refusals below make it first, so a
    // token gets the same reason whichever way it goes.
    const payload = readUnverifiedPayload(token, false);
    if (!payload.ok) return payload;
    const iss = payload.payload.claims.iss;
    if (typeof iss === 'string') {
      // Map lookup: exact string equality, nothing normalised (no case folding, no trailing slash).
      const entry = byIssuer.get(iss);
      if (entry !== undefined) return { ok: true, entry, payload: payload.payload };
    }
    if (!isAscii(token)) return refusal('malformed', NON_ASCII);
    if (iss === undefined) return refusal('bad_issuer', 'token has no iss claim');
    if (typeof iss !== 'string') return refusal('malformed', 'iss claim is not a string');
    return refusal('unknown_issuer', `token issuer ${quote(iss)} is not one of the ${issuers.length} trusted issuer${issuers.length === 1 ? '' : 's'}`);
  }

  return { route, issuers };
}

/**
 * Reads the claims of a compact JWS without checking its signature, with the verifier's strict
 * encoding rules. Only for choosing which keys to check the signature with: nothing read here may
 * be trusted before that check.
 *
 * @param checkAscii refuse a payload with non-ASCII characters (Node's base64 decoder reads only
 * the low byte of wider ones); `false` only for a caller that refuses non-ASCII tokens itself
 * before trusting anything read here
 */
export function readUnverifiedPayload(token: string, checkAscii = true): { readonly ok: true; readonly payload: UnverifiedPayload } | Extract<VerifyResult, { ok: false }> {
  const firstDot = token.indexOf('.');
  const secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
  if (secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) {
    const segments = token.split('.').length;
    return refusal('malformed', segments === 5 ? 'token has 5 segments: an encrypted JWE, not a signed JWT' : `token has ${segments} segment${segments === 1 ? '' : 's'}, not the 3 of a signed JWT`);
  }
  const segment = token.slice(firstDot + 1, secondDot);
  if (checkAscii && !isAscii(segment)) return refusal('malformed', NON_ASCII);
  const bytes = decodeAsciiBase64Url(segment, true);
  if (bytes === undefined) return malformedPayload(token, checkAscii, 'payload is not canonical unpadded base64url');
  const parsed = parseJsonObject(bytes);
  if (!parsed.ok) return malformedPayload(token, checkAscii, `payload is ${parsed.problem}`);
  return { ok: true, payload: { token, claims: parsed.value } };
}

/** One issuer of a {@link createFleetVerifier}: its verifier (keys, policy, deny list) and name. */
export interface FleetMember {
  readonly verifier: Verifier;
  /** The configured cluster name, when there is one. */
  readonly cluster?: string;
}

/** A verdict that names the issuer (and cluster) whose keys verified the token. */
export type FleetVerifyResult =
  | { readonly ok: true; readonly identity: Extract<VerifyResult, { ok: true }>['identity']; readonly issuer: string; readonly cluster?: string }
  | Extract<VerifyResult, { ok: false }>;

/** A synchronous verifier over several issuers whose key sets are already loaded. */
export interface FleetVerifier {
  /** Verifies a token with the keys of the issuer it names, and only those. Never throws. */
  verify(token: string, request: VerifyRequest): FleetVerifyResult;
  /** The configured issuers. */
  readonly issuers: readonly string[];
}

/**
 * A fleet verifier over verifiers already built (each with its own key set, audience policy and
 * deny list): the pure core for in-process use and the benchmark. The Verify API uses the same
 * router with lazily loaded key sets instead (runtime/issuer-key-caches.ts).
 */
export function createFleetVerifier(members: readonly FleetMember[]): FleetVerifier {
  const entries = members.map((member) => ({ issuer: member.verifier.policy.issuer, cluster: member.cluster, verifier: member.verifier }));
  const maxTokenBytes = Math.max(...entries.map((entry) => entry.verifier.policy.maxTokenBytes));
  const router = createIssuerRouter(entries, { maxTokenBytes });
  return {
    issuers: router.issuers,
    verify(token, request) {
      const choice = router.route(token);
      if (!choice.ok) return choice;
      const { entry } = choice;
      const result = entry.verifier.verify(token, { audiences: request.audiences, now: request.now, unverifiedPayload: choice.payload });
      if (!result.ok) return result;
      return entry.cluster === undefined
        ? { ok: true, identity: result.identity, issuer: entry.issuer }
        : { ok: true, identity: result.identity, issuer: entry.issuer, cluster: entry.cluster };
    },
  };
}

/** One issuer behind the Verify API: its names and its lazily loaded key set. */
export interface TrustedIssuerKeys extends IssuerEntry {
  readonly keys: KeySetProvider;
}

const NON_ASCII = 'token contains non-ASCII characters';

/** Without the ASCII check up front, a refusal still names non-ASCII first, as the verifier would. */
function malformedPayload(token: string, asciiChecked: boolean, problem: string): Extract<VerifyResult, { ok: false }> {
  return refusal('malformed', asciiChecked || isAscii(token) ? problem : NON_ASCII);
}

function isAscii(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}

function refusal(reason: ReasonCode, message: string): Extract<VerifyResult, { ok: false }> {
  return { ok: false, reason, message };
}
