/**
 * The issuer doctor's judgement: given what was fetched from a published issuer (and optionally
 * a token, the cluster's own JWKS and the account's IAM OIDC providers), the findings a relying
 * party such as AWS STS or go-oidc would reach, each with what was seen and the fix.
 *
 * Pure: the CLI does the fetching and passes the outcomes in, so every finding is unit-testable
 * without a network.
 *
 * Finding ids are stable (scripts may match on them): `issuer-url`, `https`, `tls-certificate`,
 * `discovery-fetch`, `discovery-content-type`, `discovery-json`, `issuer-match`, `jwks-uri`,
 * `jwks-fetch`, `jwks-content-type`, `cache-max-age`, `response-time`, `jwks-json`,
 * `jwks-key-private`, `jwks-key-kid`, `jwks-key-alg`, `jwks-key-use`, `jwks-key-strength`,
 * `signing-algs`, `token-format`, `token-issuer`, `token-audience`, `token-kid`,
 * `token-signature`, `token-time`, `cluster-keys-published`, `iam-provider`,
 * `iam-provider-audience`.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html
 */
import { createPublicKey, KeyObject, verify as verifySignature } from 'node:crypto';
import { DISCOVERY_PATH } from './documents';
import { MIN_RSA_BITS, SIGNING_ALGS } from './keys';
import { issuerUrlParts, issuerUrlRuleProblems } from './issuer-url';
import type { IssuerUrlRule } from './issuer-url';
import { issuerHostPath } from './trust-policy';

/** One conclusion of the doctor. */
export interface Finding {
  /** Stable identifier (see the module documentation for the list). */
  readonly id: string;
  /** What was checked, in a few words. */
  readonly title: string;
  /** Whether the issuer passes this check. */
  readonly ok: boolean;
  /** What was actually seen (never a token or key material). */
  readonly seen: string;
  /** How to fix it; present on failures only. */
  readonly fix?: string;
}

/** An HTTP response as the fetcher returned it. */
export interface FetchedResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly elapsedMs: number;
  readonly url: string;
}

/** Why a fetch produced no response (the fetcher's error classes). */
export type FetchErrorCode = 'invalid_url' | 'http_not_allowed' | 'timeout' | 'too_large' | 'tls' | 'network';

/** The result of fetching one URL. */
export type FetchOutcome =
  | { readonly ok: true; readonly response: FetchedResponse }
  | { readonly ok: false; readonly url: string; readonly errorCode: FetchErrorCode; readonly message: string };

/** An IAM OIDC provider as IAM describes it (`Url` has no scheme). */
export interface IamProviderFacts {
  readonly arn: string;
  readonly url: string;
  readonly clientIds: readonly string[];
}

/** The outcome of listing the account's IAM OIDC providers. */
export type IamLookup = { readonly ok: true; readonly providers: readonly IamProviderFacts[] } | { readonly ok: false; readonly message: string };

/** Thresholds of the checks. */
export interface IssuerCheckLimits {
  /** Slowest acceptable response; AWS STS gives an identity provider 5 seconds. */
  readonly maxResponseMs: number;
  /** Longest acceptable `Cache-Control` max-age on the documents, in seconds. */
  readonly maxCacheAgeSeconds: number;
  /** Clock skew tolerated on a token's `iat`/`nbf`/`exp`, in seconds. */
  readonly clockSkewSeconds: number;
}

/**
 * Default thresholds. One hour of JWKS caching is the longest that still lets a rotation
 * pre-publish a key a cache lifetime ahead; EKS's week-long max-age broke verifiers (oauth2-proxy#1260).
 */
export const DEFAULT_CHECK_LIMITS: IssuerCheckLimits = { maxResponseMs: 5000, maxCacheAgeSeconds: 3600, clockSkewSeconds: 60 };

/** Everything the doctor judges. */
export interface IssuerCheckInput {
  /** The issuer URL as the operator gave it (what tokens' `iss` should equal). */
  readonly issuer: string;
  /** Plain http on a loopback host is acceptable (local mode, tests). */
  readonly allowHttp: boolean;
  /** A private CA was given (changes the advice on certificate failures). */
  readonly caFileGiven: boolean;
  /** The fetch of {@link discoveryUrlFor}(issuer). */
  readonly discovery: FetchOutcome;
  /** The fetch of the discovery document's `jwks_uri`; absent when there was none to fetch. */
  readonly jwks?: FetchOutcome;
  /** A token to check against the issuer (never echoed). */
  readonly token?: string;
  /** The audience the token must carry and the IAM provider must list. */
  readonly audience: string;
  /** The fetch of the cluster's own `/openid/v1/jwks`, for drift. */
  readonly clusterJwks?: FetchOutcome;
  /** The account's IAM OIDC providers, when credentials were available. */
  readonly iam?: IamLookup;
  /** The current time, epoch seconds. */
  readonly now: number;
  /** @default DEFAULT_CHECK_LIMITS */
  readonly limits?: Partial<IssuerCheckLimits>;
}

/**
 * Where a relying party fetches the discovery document: the issuer without trailing slashes,
 * plus `/.well-known/openid-configuration` (what go-oidc and STS do).
 */
export function discoveryUrlFor(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}${DISCOVERY_PATH}`;
}

/** The `jwks_uri` of a fetched discovery document, when it has a usable one. */
export function jwksUriFrom(discovery: FetchOutcome): string | undefined {
  if (!discovery.ok || discovery.response.status !== 200) return undefined;
  const doc = parseJsonObject(discovery.response.body);
  return doc && typeof doc.jwks_uri === 'string' && doc.jwks_uri !== '' ? doc.jwks_uri : undefined;
}

/**
 * True when a URL host is a loopback address: `localhost` (and `*.localhost`), any `127.x.y.z`,
 * or `::1` (brackets allowed, as in URL hosts).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255);
  return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Runs every applicable check. Findings that depend on a document that could not be read are left out. */
export function runIssuerChecks(input: IssuerCheckInput): Finding[] {
  const limits = { ...DEFAULT_CHECK_LIMITS, ...input.limits };
  const findings: Finding[] = [];
  findings.push(checkIssuerUrl(input.issuer, input.allowHttp));
  findings.push(checkHttps(input.issuer, input.allowHttp));
  const tls = checkTls(input);
  if (tls) findings.push(tls);

  findings.push(checkFetch('discovery-fetch', 'discovery document served', input.discovery, limits));
  const discoveryResponse = okResponse(input.discovery);
  let discovery: Record<string, unknown> | undefined;
  if (discoveryResponse) {
    findings.push(checkContentType('discovery-content-type', 'discovery document content type', discoveryResponse, ['application/json']));
    discovery = parseJsonObject(discoveryResponse.body);
    findings.push(checkDiscoveryJson(discovery, discoveryResponse.url));
    if (discovery && typeof discovery.issuer === 'string') findings.push(checkIssuerMatch(input.issuer, discovery.issuer));
    if (discovery && typeof discovery.jwks_uri === 'string') findings.push(checkJwksUri(discovery.jwks_uri, input.allowHttp));
  }

  const jwksResponse = input.jwks ? okResponse(input.jwks) : undefined;
  if (input.jwks) {
    findings.push(checkFetch('jwks-fetch', 'JWKS served', input.jwks, limits));
    if (jwksResponse) {
      findings.push(checkContentType('jwks-content-type', 'JWKS content type', jwksResponse, ['application/json', 'application/jwk-set+json']));
    }
  }
  const served = [discoveryResponse, jwksResponse].filter((r): r is FetchedResponse => r !== undefined);
  if (served.length > 0) findings.push(checkCacheAge(served, limits));
  findings.push(checkResponseTime([input.discovery, ...(input.jwks ? [input.jwks] : [])], limits));

  let keys: JwkEntry[] | undefined;
  if (jwksResponse) {
    const parsed = parseJwks(jwksResponse.body);
    findings.push(parsed.finding);
    keys = parsed.keys;
    if (keys && keys.length > 0) {
      findings.push(...checkKeys(keys));
      if (discovery) findings.push(checkSigningAlgs(discovery, keys));
    }
  }

  if (input.token !== undefined) findings.push(...checkToken(input, keys, limits));
  if (input.clusterJwks) findings.push(checkClusterDrift(input.clusterJwks, keys));
  if (input.iam) findings.push(...checkIamProvider(input.issuer, input.audience, input.iam));
  return findings;
}

// ---------------------------------------------------------------- issuer URL and transport

/** The rules a plain-http loopback issuer may break under --allow-http (local mode): nothing about its path or form. */
const LOCAL_ISSUER_EXEMPT_RULES: ReadonlySet<IssuerUrlRule> = new Set<IssuerUrlRule>(['scheme', 'port', 'host']);

/**
 * The issuer URL against the configuration's own rules (`core/issuer-url.ts`), so check and the
 * config never disagree on what IAM and STS accept. Under --allow-http a plain-http issuer on a
 * loopback address (local mode: `http://127.0.0.1:8787[/path]`) may have its scheme, a numeric
 * port and an IP host; every other rule still holds.
 */
function checkIssuerUrl(issuer: string, allowHttp: boolean): Finding {
  const title = 'issuer URL well formed';
  const parts = issuerUrlParts(issuer);
  const localIssuer = allowHttp
    && parts !== undefined
    && parts.scheme === 'http'
    && isLoopbackHost(parts.host)
    && (parts.port === undefined || /^\d{1,5}$/.test(parts.port));
  const all = issuerUrlRuleProblems(issuer);
  const problems = localIssuer ? all.filter((p) => !LOCAL_ISSUER_EXEMPT_RULES.has(p.rule)) : all;
  if (problems.length === 0) {
    const exempted = all.length > 0 ? ' (a loopback issuer, accepted because of --allow-http; a deployed issuer needs https and a DNS host name without port)' : '';
    return pass('issuer-url', title, `${issuer}${exempted}`);
  }
  const fixes = problems.map((p) => p.fix);
  if (problems.some((p) => p.rule === 'scheme') && allowHttp) fixes.push('--allow-http accepts plain http only on a loopback address (127.0.0.1, ::1, localhost)');
  return fail(
    'issuer-url',
    title,
    `${issuer}: ${problems.map((p) => p.problem).join('; ')}`,
    `${fixes.join('; ')}; then use exactly this URL in --service-account-issuer, the discovery document and the IAM provider`,
  );
}

function checkHttps(issuer: string, allowHttp: boolean): Finding {
  const title = 'served over HTTPS';
  const url = safeUrl(issuer);
  if (!url || url.protocol === 'https:') return pass('https', title, url ? 'https' : 'not a URL (see issuer-url)');
  if (url.protocol === 'http:' && allowHttp && isLoopbackHost(url.hostname)) {
    // The title says what was seen: a PASS line reading "served over HTTPS" for plain http would mislead.
    return pass('https', 'served over plain HTTP (allowed on loopback by --allow-http)', `http://${url.host}: plain http on a loopback address, accepted because of --allow-http (a deployed issuer must use https)`);
  }
  const fix = url.protocol === 'http:' && allowHttp
    ? '--allow-http only accepts loopback addresses; serve the issuer over https (AWS STS and OIDC libraries refuse http)'
    : 'serve the issuer over https (AWS STS and OIDC libraries refuse http)';
  return fail('https', title, `scheme is ${url.protocol.replace(':', '')}`, fix);
}

function checkTls(input: IssuerCheckInput): Finding | undefined {
  const title = 'certificate chain trusted';
  const outcomes = [input.discovery, input.jwks].filter((o): o is FetchOutcome => o !== undefined);
  const tlsFailure = outcomes.find((o) => !o.ok && o.errorCode === 'tls');
  if (tlsFailure && !tlsFailure.ok) {
    const fix = input.caFileGiven
      ? 'the chain does not verify against --ca-file: give the CA that signed the server certificate, and make sure the certificate names the host'
      : 'serve a complete chain from a public CA whose certificate names the host (AWS STS trusts public roots only); to check an issuer behind a private CA, pass the CA with --ca-file';
    return fail('tls-certificate', title, tlsFailure.message, fix);
  }
  const httpsResponses = outcomes.filter((o) => o.ok && o.response.url.startsWith('https:'));
  if (httpsResponses.length === 0) return undefined;
  return pass('tls-certificate', title, `verified against ${input.caFileGiven ? 'the CA of --ca-file' : 'the default trust store'}`);
}

function checkFetch(id: string, title: string, outcome: FetchOutcome, limits: IssuerCheckLimits): Finding {
  if (!outcome.ok) {
    return fail(id, title, outcome.message, fetchErrorFix(outcome.errorCode, outcome.url, limits));
  }
  const { status, headers, url, elapsedMs } = outcome.response;
  if (status >= 300 && status < 400) {
    return fail(
      id,
      title,
      `GET ${url} answered HTTP ${status} redirecting to ${headers.location ?? '(no location)'}`,
      'serve the document at exactly this URL with HTTP 200: AWS STS and OIDC libraries do not follow redirects (an S3 website or regional-endpoint origin answers PermanentRedirect; use the bucket\'s regional REST endpoint with CloudFront OAC)',
    );
  }
  if (status !== 200) {
    const hint = status === 403 || status === 404
      ? 'the object is missing at this key or not readable by CloudFront: publish it (run the sync) and check the bucket policy allows the distribution'
      : status === 401
        ? 'the endpoint requires authentication: relying parties fetch it anonymously, so publish it on a public site (this project\'s issuer site)'
        : 'make the endpoint answer HTTP 200';
    return fail(id, title, `GET ${url} answered HTTP ${status}`, hint);
  }
  return pass(id, title, `GET ${url}: HTTP 200 in ${elapsedMs} ms`);
}

function fetchErrorFix(code: FetchErrorCode, url: string, limits: IssuerCheckLimits): string {
  switch (code) {
    case 'timeout':
      return `the endpoint must answer within ${limits.maxResponseMs / 1000} s (AWS STS gives up after 5 s): serve it from a CDN such as CloudFront`;
    case 'too_large':
      return 'the document is far larger than a discovery document or JWKS should be: check the URL serves the right object';
    case 'tls':
      return 'fix the certificate (see tls-certificate)';
    case 'http_not_allowed':
      return 'serve it over https (plain http is accepted only for loopback addresses with --allow-http)';
    case 'invalid_url':
      return 'the URL must be an absolute https URL';
    case 'network':
      return `make ${url} reachable from the internet (DNS, firewall, security groups): AWS STS fetches it from AWS's network`;
  }
}

function checkContentType(id: string, title: string, response: FetchedResponse, accepted: string[]): Finding {
  const raw = response.headers['content-type'];
  const media = raw?.split(';')[0].trim().toLowerCase();
  if (media && accepted.includes(media)) return pass(id, title, raw as string);
  return fail(
    id,
    title,
    raw ? `Content-Type: ${raw}` : 'no Content-Type header',
    `serve it with Content-Type: ${accepted.join(' or ')} (S3 objects uploaded without a content type are served as binary/octet-stream)`,
  );
}

function checkDiscoveryJson(doc: Record<string, unknown> | undefined, url: string): Finding {
  const title = 'discovery document complete';
  if (!doc) return fail('discovery-json', title, `${url} is not a JSON object`, 'publish the discovery document (kube-oidc discovery --issuer URL --jwks FILE prints it)');
  const missing = ['issuer', 'jwks_uri'].filter((member) => typeof doc[member] !== 'string' || doc[member] === '');
  for (const member of ['response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
    if (!Array.isArray(doc[member])) missing.push(member);
  }
  if (missing.length === 0) return pass('discovery-json', title, 'issuer, jwks_uri and the required metadata are present');
  return fail('discovery-json', title, `missing or invalid: ${missing.join(', ')}`, 'publish the document kube-apiserver would serve (kube-oidc discovery --issuer URL --jwks FILE prints it)');
}

function checkIssuerMatch(issuer: string, published: string): Finding {
  const title = 'discovery "issuer" equals the issuer URL byte for byte';
  if (published === issuer) return pass('issuer-match', title, published);
  const seen = `discovery "issuer" is ${JSON.stringify(published)}, the issuer URL is ${JSON.stringify(issuer)}`;
  if (published.replace(/\/+$/, '') === issuer.replace(/\/+$/, '')) {
    return fail(
      'issuer-match',
      title,
      `${seen} (they differ only by a trailing slash)`,
      'remove the trailing slash so that --service-account-issuer, the discovery "issuer", the tokens\' iss and the IAM provider URL are identical (go-oidc: "issuer did not match")',
    );
  }
  return fail('issuer-match', title, seen, 'publish a discovery document whose "issuer" is exactly the URL it is served under and the tokens\' iss (--service-account-issuer)');
}

function checkJwksUri(jwksUri: string, allowHttp: boolean): Finding {
  const title = 'jwks_uri is an https URL';
  const url = safeUrl(jwksUri);
  if (!url) return fail('jwks-uri', title, `jwks_uri ${JSON.stringify(jwksUri)} is not an absolute URL`, 'set --service-account-jwks-uri to the public https URL of the JWKS');
  if (url.protocol === 'https:') return pass('jwks-uri', title, jwksUri);
  if (url.protocol === 'http:' && allowHttp && isLoopbackHost(url.hostname)) {
    return pass('jwks-uri', 'jwks_uri is a plain HTTP URL (allowed on loopback by --allow-http)', `${jwksUri} (plain http on loopback, accepted because of --allow-http)`);
  }
  return fail('jwks-uri', title, `jwks_uri is ${jwksUri}`, 'set --service-account-jwks-uri (and the published discovery document) to the public https URL of the JWKS');
}

function checkCacheAge(responses: FetchedResponse[], limits: IssuerCheckLimits): Finding {
  const title = `Cache-Control max-age at most ${limits.maxCacheAgeSeconds} s`;
  const ages = responses.map((response) => ({ url: response.url, maxAge: cacheMaxAge(response.headers['cache-control']) }));
  const tooLong = ages.filter((entry) => entry.maxAge !== undefined && entry.maxAge > limits.maxCacheAgeSeconds);
  const seen = ages.map((entry) => `${documentLabel(entry.url)}: ${entry.maxAge === undefined ? 'no max-age' : `max-age=${entry.maxAge} (${humanSeconds(entry.maxAge)})`}`).join('; ');
  if (tooLong.length === 0) return pass('cache-max-age', title, seen);
  return fail(
    'cache-max-age',
    title,
    seen,
    `serve the documents with a max-age of at most ${limits.maxCacheAgeSeconds} s (300 s recommended): verifiers that honour a long max-age keep an old key set and reject tokens signed by a newly rotated key`,
  );
}

function checkResponseTime(outcomes: FetchOutcome[], limits: IssuerCheckLimits): Finding {
  const title = `responses within ${limits.maxResponseMs / 1000} s`;
  const timedOut = outcomes.find((o) => !o.ok && o.errorCode === 'timeout');
  if (timedOut && !timedOut.ok) return fail('response-time', title, timedOut.message, fetchErrorFix('timeout', timedOut.url, limits));
  const times = outcomes.flatMap((o) => (o.ok ? [o.response.elapsedMs] : []));
  if (times.length === 0) return fail('response-time', title, 'no response was received', 'make the documents reachable (see the fetch findings)');
  const slowest = Math.max(...times);
  if (slowest < limits.maxResponseMs) return pass('response-time', title, `slowest response ${slowest} ms`);
  return fail('response-time', title, `slowest response ${slowest} ms`, fetchErrorFix('timeout', '', limits));
}

// ---------------------------------------------------------------- keys

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

interface JwkEntry {
  readonly index: number;
  readonly raw: Record<string, unknown>;
  /** `kid` when it is a string, else undefined. */
  readonly kid?: string;
  /** The public key, when the members make one. */
  readonly key?: KeyObject;
  /** Why no public key could be made. */
  readonly keyError?: string;
}

function parseJwks(body: string): { finding: Finding; keys?: JwkEntry[] } {
  const title = 'JWKS is a non-empty key set';
  const doc = parseJsonObject(body);
  if (!doc || !Array.isArray(doc.keys)) {
    return { finding: fail('jwks-json', title, 'not a JSON object with a "keys" array', 'publish the JWKS kube-apiserver serves at /openid/v1/jwks (kube-oidc jwks FILE... builds it)') };
  }
  const keys = doc.keys.map((raw, index): JwkEntry => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { index, raw: {}, keyError: 'entry is not a JSON object' };
    const entry = raw as Record<string, unknown>;
    const kid = typeof entry.kid === 'string' ? entry.kid : undefined;
    try {
      return { index, raw: entry, kid, key: createPublicKey({ key: publicMembers(entry) as never, format: 'jwk' }) };
    } catch (err) {
      return { index, raw: entry, kid, keyError: err instanceof Error ? err.message.split('\n')[0] : 'unreadable key' };
    }
  });
  if (keys.length === 0) {
    return { finding: fail('jwks-json', title, 'the key set is empty', 'publish the cluster\'s public signing keys: with no keys every token is refused'), keys };
  }
  return { finding: pass('jwks-json', title, `${keys.length} key(s): ${keys.map(keyLabel).join(', ')}`), keys };
}

function checkKeys(keys: JwkEntry[]): Finding[] {
  const findings: Finding[] = [];

  const leaking = keys.filter((k) => PRIVATE_MEMBERS.some((member) => member in k.raw));
  findings.push(
    leaking.length === 0
      ? pass('jwks-key-private', 'no private key material published', 'public members only')
      : fail(
        'jwks-key-private',
        'no private key material published',
        leaking.map((k) => `${keyLabel(k)} carries private members ${PRIVATE_MEMBERS.filter((m) => m in k.raw).join(', ')}`).join('; '),
        'remove the private members now and rotate the key: anyone who fetched this JWKS can sign tokens for the cluster (publish public keys only: kube-oidc jwks)',
      ),
  );

  const kidProblems: string[] = [];
  const materialByKid = new Map<string, string>();
  const materials = new Set(keys.filter((k) => k.kid).map((k) => materialOf(k)));
  for (const k of keys) {
    if (!('kid' in k.raw)) kidProblems.push(`${keyLabel(k)} has no kid`);
    else if (k.kid === undefined) kidProblems.push(`${keyLabel(k)} has a non-string kid`);
    else if (k.kid === '' && !materials.has(materialOf(k))) kidProblems.push(`${keyLabel(k)} has an empty kid and is not also published under its real kid`);
    else if (k.kid !== '') {
      const previous = materialByKid.get(k.kid);
      if (previous !== undefined && previous !== materialOf(k)) kidProblems.push(`kid ${k.kid} names two different keys`);
      materialByKid.set(k.kid, materialOf(k));
    }
  }
  findings.push(
    kidProblems.length === 0
      ? pass('jwks-key-kid', 'every key has a unique kid', `${materialByKid.size} kid(s)`)
      : fail(
        'jwks-key-kid',
        'every key has a unique kid',
        kidProblems.join('; '),
        'publish every key with the kid kube-apiserver puts in tokens (base64url SHA-256 of the DER public key; kube-oidc jwks computes it): STS matches the token\'s kid and says "Couldn\'t retrieve verification key" otherwise',
      ),
  );

  const algProblems: string[] = [];
  for (const k of keys) {
    const expected = expectedAlg(k);
    if (typeof k.raw.alg !== 'string') algProblems.push(`${keyLabel(k)} has no alg${expected ? ` (should be ${expected})` : ''}`);
    else if (!(SIGNING_ALGS as readonly string[]).includes(k.raw.alg)) algProblems.push(`${keyLabel(k)} has alg ${k.raw.alg}, which kube does not sign with`);
    else if (expected && k.raw.alg !== expected) algProblems.push(`${keyLabel(k)} has alg ${k.raw.alg} but its key type signs ${expected}`);
  }
  findings.push(
    algProblems.length === 0
      ? pass('jwks-key-alg', 'every key names its algorithm', [...new Set(keys.map((k) => String(k.raw.alg)))].join(', '))
      : fail('jwks-key-alg', 'every key names its algorithm', algProblems.join('; '), 'publish each key with "alg": RS256 for RSA, ES256/ES384/ES512 for P-256/P-384/P-521 (kube-oidc jwks sets it)'),
  );

  const useProblems = keys.filter((k) => 'use' in k.raw && k.raw.use !== 'sig');
  findings.push(
    useProblems.length === 0
      ? pass('jwks-key-use', 'every key is for signatures', keys.every((k) => k.raw.use === 'sig') ? 'use: sig' : 'use: sig or absent')
      : fail('jwks-key-use', 'every key is for signatures', useProblems.map((k) => `${keyLabel(k)} has use ${JSON.stringify(k.raw.use)}`).join('; '), 'publish signing keys with "use": "sig"'),
  );

  const strengthProblems: string[] = [];
  for (const k of keys) {
    if (!k.key) {
      strengthProblems.push(`${keyLabel(k)} is not a usable ${String(k.raw.kty ?? 'public')} key: ${k.keyError}`);
    } else if (k.key.asymmetricKeyType === 'rsa') {
      const bits = k.key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) strengthProblems.push(`${keyLabel(k)} is RSA-${bits}`);
    }
  }
  findings.push(
    strengthProblems.length === 0
      ? pass('jwks-key-strength', `keys are valid (RSA at least ${MIN_RSA_BITS} bits)`, keys.map((k) => `${keyLabel(k)}: ${keyDescription(k)}`).join('; '))
      : fail('jwks-key-strength', `keys are valid (RSA at least ${MIN_RSA_BITS} bits)`, strengthProblems.join('; '), `sign with RSA keys of at least ${MIN_RSA_BITS} bits or EC P-256/P-384/P-521, and publish their complete public members`),
  );
  return findings;
}

function checkSigningAlgs(discovery: Record<string, unknown>, keys: JwkEntry[]): Finding {
  const title = 'id_token_signing_alg_values_supported matches the keys';
  const advertised = Array.isArray(discovery.id_token_signing_alg_values_supported)
    ? discovery.id_token_signing_alg_values_supported.filter((alg): alg is string => typeof alg === 'string')
    : [];
  const keyAlgs = [...new Set(keys.map((k) => (typeof k.raw.alg === 'string' ? k.raw.alg : expectedAlg(k))).filter((alg): alg is string => !!alg))].sort();
  const missing = keyAlgs.filter((alg) => !advertised.includes(alg));
  const extra = advertised.filter((alg) => !keyAlgs.includes(alg));
  const seen = `advertised [${advertised.join(', ')}], keys sign [${keyAlgs.join(', ')}]`;
  if (missing.length === 0 && extra.length === 0) return pass('signing-algs', title, seen);
  return fail('signing-algs', title, seen, `list exactly the algorithms of the published keys: [${keyAlgs.join(', ')}] (kube-oidc discovery --issuer URL --jwks FILE computes it)`);
}

// ---------------------------------------------------------------- token

function checkToken(input: IssuerCheckInput, keys: JwkEntry[] | undefined, limits: IssuerCheckLimits): Finding[] {
  const decoded = decodeCompactJwt(input.token ?? '');
  if (!decoded.ok) {
    return [fail('token-format', 'token is a signed JWT', decoded.reason, 'pass the token itself (kubectl create token SA --audience AUD, or the projected token file), not a file name or a JSON wrapper')];
  }
  const { header, claims } = decoded;
  const findings: Finding[] = [pass('token-format', 'token is a signed JWT', `alg ${String(header.alg)}, kid ${header.kid === undefined ? '(none)' : JSON.stringify(header.kid)}`)];

  const iss = claims.iss;
  if (iss === input.issuer) findings.push(pass('token-issuer', 'token iss equals the issuer', String(iss)));
  else {
    const trailing = typeof iss === 'string' && iss.replace(/\/+$/, '') === input.issuer.replace(/\/+$/, '');
    findings.push(
      fail(
        'token-issuer',
        'token iss equals the issuer',
        `token iss is ${JSON.stringify(iss)}, the issuer is ${JSON.stringify(input.issuer)}${trailing ? ' (they differ only by a trailing slash)' : ''}`,
        'set kube-apiserver --service-account-issuer to exactly the published issuer URL (the first value signs new tokens), then let pods get fresh tokens',
      ),
    );
  }

  const auds = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
  if (auds.includes(input.audience)) findings.push(pass('token-audience', `token aud includes ${input.audience}`, `aud [${auds.join(', ')}]`));
  else {
    findings.push(
      fail(
        'token-audience',
        `token aud includes ${input.audience}`,
        auds.length === 0 ? 'the token has no aud' : `aud [${auds.join(', ')}]`,
        `request the token for this audience (projected volume "audience: ${input.audience}", or kubectl create token SA --audience ${input.audience}); STS says "Incorrect token audience" otherwise`,
      ),
    );
  }

  if (keys) {
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const published = keys.filter((k) => k.kid === kid && k.key);
    const publishedKids = keys.filter((k) => k.kid !== undefined).map((k) => JSON.stringify(k.kid)).join(', ') || '(none)';
    if (published.length === 0) {
      findings.push(
        fail(
          'token-kid',
          'token kid published in the JWKS',
          `token kid ${JSON.stringify(kid)} is not in the published JWKS (kids: ${publishedKids})`,
          kid === ''
            ? 'the token has no kid (Kubernetes before 1.16): publish each key a second time with "kid": "" (KIDLESS_COMPAT)'
            : 'publish the public key that signs the cluster\'s tokens (kube-oidc keys upload, then the sync), and keep old keys until their tokens expire; STS says "Couldn\'t retrieve verification key from your identity provider" otherwise',
        ),
      );
    } else {
      findings.push(pass('token-kid', 'token kid published in the JWKS', `kid ${JSON.stringify(kid)}`));
      const verified = published.some((k) => signatureValid(decoded, k));
      findings.push(
        verified
          ? pass('token-signature', 'token signature verifies with the published key', `${String(header.alg)} signature valid`)
          : fail(
            'token-signature',
            'token signature verifies with the published key',
            `the ${String(header.alg)} signature does not verify with the published key ${JSON.stringify(kid)}`,
            'the key published under this kid is not the one that signed the token: publish the signer\'s public key (kube-oidc jwks on --service-account-key-file)',
          ),
      );
    }
  }

  findings.push(checkTokenTime(claims, input.now, limits));
  return findings;
}

function checkTokenTime(claims: Record<string, unknown>, now: number, limits: IssuerCheckLimits): Finding {
  const title = 'token within its validity period';
  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number') return fail('token-time', title, 'the token has no exp', 'use a bound service-account token (projected volume or kubectl create token), which always expires');
  const skew = limits.clockSkewSeconds;
  if (exp + skew <= now) return fail('token-time', title, `expired ${humanSeconds(now - exp)} ago (exp ${isoTime(exp)})`, 'use a fresh token: the kubelet refreshes projected tokens at 80% of their lifetime');
  const start = typeof nbf === 'number' ? nbf : typeof iat === 'number' ? iat : undefined;
  if (start !== undefined && start - skew > now) {
    return fail('token-time', title, `not valid until ${isoTime(start)} (${humanSeconds(start - now)} from now)`, 'check the clocks of the API server and of this machine (NTP)');
  }
  return pass('token-time', title, `expires ${isoTime(exp)} (in ${humanSeconds(exp - now)})`);
}

interface DecodedJwt {
  readonly ok: true;
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

function decodeCompactJwt(token: string): DecodedJwt | { ok: false; reason: string } {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return { ok: false, reason: `not a compact JWS: ${parts.length} dot-separated part(s) instead of 3` };
  const header = parseJsonObject(base64UrlText(parts[0]));
  const claims = parseJsonObject(base64UrlText(parts[1]));
  if (!header) return { ok: false, reason: 'the JWT header is not base64url JSON' };
  if (!claims) return { ok: false, reason: 'the JWT payload is not base64url JSON' };
  if (!/^[A-Za-z0-9_-]+$/.test(parts[2])) return { ok: false, reason: 'the token has no signature' };
  return { ok: true, header, claims, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
}

const SIGNATURE_HASH: Record<string, { hash: string; ec: boolean }> = {
  RS256: { hash: 'sha256', ec: false },
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  ES512: { hash: 'sha512', ec: true },
};

function signatureValid(jwt: DecodedJwt, entry: JwkEntry): boolean {
  const alg = typeof jwt.header.alg === 'string' ? jwt.header.alg : '';
  const scheme = SIGNATURE_HASH[alg];
  // The algorithm must be the key's own: never let the token choose how a key is used.
  if (!scheme || !entry.key || expectedAlg(entry) !== alg) return false;
  try {
    return verifySignature(scheme.hash, Buffer.from(jwt.signingInput), scheme.ec ? { key: entry.key, dsaEncoding: 'ieee-p1363' } : entry.key, jwt.signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- drift and IAM

function checkClusterDrift(outcome: FetchOutcome, published: JwkEntry[] | undefined): Finding {
  const title = 'every cluster key is published';
  const fixFetch = 'give the cluster\'s /openid/v1/jwks URL with --cluster-jwks-url (and --ca-file for the cluster CA); it needs a token allowed by system:service-account-issuer-discovery';
  if (!outcome.ok) return fail('cluster-keys-published', title, `cluster JWKS: ${outcome.message}`, fixFetch);
  if (outcome.response.status !== 200) return fail('cluster-keys-published', title, `cluster JWKS: GET ${outcome.response.url} answered HTTP ${outcome.response.status}`, fixFetch);
  const parsed = parseJwks(outcome.response.body);
  if (!parsed.keys || parsed.keys.length === 0) return fail('cluster-keys-published', title, 'the cluster JWKS has no keys', fixFetch);
  if (!published) return fail('cluster-keys-published', title, 'the published JWKS could not be read (see jwks-fetch)', 'publish the JWKS first');
  const publishedMaterial = new Map(published.filter((k) => k.kid !== undefined).map((k) => [k.kid as string, materialOf(k)]));
  const missing: string[] = [];
  const differing: string[] = [];
  for (const key of parsed.keys.filter((k) => k.kid !== undefined && k.kid !== '')) {
    const material = publishedMaterial.get(key.kid as string);
    if (material === undefined) missing.push(key.kid as string);
    else if (material !== materialOf(key)) differing.push(key.kid as string);
  }
  const total = parsed.keys.length;
  if (missing.length === 0 && differing.length === 0) return pass('cluster-keys-published', title, `all ${total} cluster key(s) published`);
  const seen = [
    missing.length ? `not published: ${missing.join(', ')}` : '',
    differing.length ? `published with different key material: ${differing.join(', ')}` : '',
  ].filter(Boolean).join('; ');
  return fail('cluster-keys-published', title, seen, 'run the sync (kube-oidc sync) or upload the missing public keys (kube-oidc keys upload): tokens signed by an unpublished key are refused');
}

function checkIamProvider(issuer: string, audience: string, iam: IamLookup): Finding[] {
  const title = 'IAM OIDC provider exists for the issuer';
  if (!iam.ok) return [fail('iam-provider', title, `could not list IAM OIDC providers: ${iam.message}`, 'use credentials allowed iam:ListOpenIDConnectProviders and iam:GetOpenIDConnectProvider')];
  const hostPath = issuerHostPath(issuer);
  const provider = iam.providers.find((p) => p.url === hostPath || p.url === `https://${hostPath}`);
  if (!provider) {
    const near = iam.providers.filter((p) => p.url.replace(/^https:\/\//, '').replace(/\/+$/, '').toLowerCase() === hostPath.toLowerCase());
    return [
      fail(
        'iam-provider',
        title,
        near.length
          ? `no provider for ${hostPath} exactly; near matches: ${near.map((p) => p.url).join(', ')}`
          : `no provider for ${hostPath} among ${iam.providers.length} provider(s)`,
        `create it with the issuer URL exactly: deploy this project's stack, or aws iam create-open-id-connect-provider --url ${issuer} --client-id-list ${audience}; STS says "No OpenIDConnect provider found in your account" otherwise`,
      ),
    ];
  }
  const hasAudience = provider.clientIds.includes(audience);
  return [
    pass('iam-provider', title, provider.arn),
    hasAudience
      ? pass('iam-provider-audience', `IAM provider lists ${audience} as a client ID`, `client IDs [${provider.clientIds.join(', ')}]`)
      : fail(
        'iam-provider-audience',
        `IAM provider lists ${audience} as a client ID`,
        `client IDs [${provider.clientIds.join(', ')}]`,
        `add it: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${provider.arn} --client-id ${audience}`,
      ),
  ];
}

// ---------------------------------------------------------------- helpers

function pass(id: string, title: string, seen: string): Finding {
  return { id, title, ok: true, seen };
}

function fail(id: string, title: string, seen: string, fix: string): Finding {
  return { id, title, ok: false, seen, fix };
}

function okResponse(outcome: FetchOutcome): FetchedResponse | undefined {
  return outcome.ok && outcome.response.status === 200 ? outcome.response : undefined;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function base64UrlText(part: string): string {
  return /^[A-Za-z0-9_-]*$/.test(part) ? Buffer.from(part, 'base64url').toString('utf8') : '';
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function publicMembers(entry: Record<string, unknown>): Record<string, unknown> {
  return entry.kty === 'RSA' ? { kty: 'RSA', n: entry.n, e: entry.e } : { kty: entry.kty, crv: entry.crv, x: entry.x, y: entry.y };
}

function materialOf(entry: JwkEntry): string {
  return JSON.stringify(publicMembers(entry.raw));
}

function expectedAlg(entry: JwkEntry): string | undefined {
  if (!entry.key) return undefined;
  if (entry.key.asymmetricKeyType === 'rsa') return 'RS256';
  const curve = entry.key.asymmetricKeyDetails?.namedCurve;
  return curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : undefined;
}

function keyLabel(entry: JwkEntry): string {
  return entry.kid !== undefined ? `key ${JSON.stringify(entry.kid)}` : `key #${entry.index}`;
}

function keyDescription(entry: JwkEntry): string {
  if (!entry.key) return 'unusable';
  return entry.key.asymmetricKeyType === 'rsa'
    ? `RSA-${entry.key.asymmetricKeyDetails?.modulusLength}`
    : `EC ${String(entry.raw.crv)}`;
}

/**
 * The longest lifetime a Cache-Control header grants: `max-age` (what verifiers honour) or
 * `s-maxage` (what CloudFront and other shared caches honour), whichever is larger.
 */
function cacheMaxAge(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const ages = header
    .toLowerCase()
    .split(',')
    .map((directive) => /^(?:s-maxage|max-age)\s*=\s*"?(\d+)"?$/.exec(directive.trim()))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]));
  return ages.length ? Math.max(...ages) : undefined;
}

function documentLabel(url: string): string {
  return url.endsWith(DISCOVERY_PATH) ? 'discovery' : 'JWKS';
}

function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/** `90` → `1m 30s`, `604800` → `7d`. */
export function humanSeconds(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const units: [string, number][] = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.length ? parts.join(' ') : '0s';
}
