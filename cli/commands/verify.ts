/**
 * `verify TOKEN|- --issuer URL --audience A`: verifies a token from a laptop exactly as an OIDC
 * relying party does (discovery document, byte-for-byte issuer check, `jwks_uri`, no redirects),
 * then with the same core verifier as the Verify API, so a verdict here is the API's verdict.
 */
import { discoveryUrlFor, isLoopbackHost } from '../../core/issuer-checks';
import { createIssuerRouter } from '../../core/trusted-issuers';
import { EXTRA_NODE_NAME, EXTRA_POD_NAME, EXTRA_POD_UID } from '../../core/token-claims';
import { createVerifier, VerifyResult } from '../../core/verifier';
import { HttpGetError, httpGet, HttpGetOptions, HttpResponse } from '../../runtime/http-client';
import {
  booleanFlag,
  CliError,
  EXIT_FAILED,
  EXIT_OK,
  LeafCommand,
  listFlag,
  NOW_OPTION,
  parseIssuerFlag,
  readFlagFile,
  readTokenArgument,
  resolveNow,
  stringFlag,
  UsageError,
  ALLOW_HTTP_OPTION,
  CA_FILE_OPTION,
} from '../command';
import { formatFields, formatLocalTime, formatRelative } from '../output';

/** The `verify` command. */
export const verifyCommand: LeafCommand = {
  name: 'verify',
  summary: 'verify a token against an issuer over the network, as a relying party does',
  usage: 'TOKEN|-',
  description: [
    'Fetches ISSUER/.well-known/openid-configuration, checks its "issuer" equals --issuer byte for byte,',
    'fetches its jwks_uri (https, no redirects), and verifies the token with the Verify API\'s core:',
    'signature, iss, aud (one of --audience), exp/nbf/iat with 60 s of skew. Prints the identity, or the',
    'reason code of the refusal (exit status 1). Give - to read the token from stdin.',
    'With several --issuer values (a fleet), the token is checked against the one its "iss" names, byte for',
    'byte, and only that one is discovered; a token naming none of them is refused (unknown_issuer).',
  ].join('\n'),
  positionals: { min: 1, max: 1 },
  options: {
    issuer: { type: 'string', valueName: 'URL', required: true, multiple: true, description: 'an issuer the token may come from (repeat for a fleet)' },
    audience: { type: 'string', valueName: 'A', required: true, multiple: true, description: 'an audience you accept; the token must carry one of them' },
    'ca-file': CA_FILE_OPTION,
    'allow-http': ALLOW_HTTP_OPTION,
    'kidless-compat': { type: 'boolean', description: 'accept tokens without a kid (Kubernetes before 1.16)' },
    now: NOW_OPTION,
  },
  examples: [
    'verify - --issuer https://oidc.example.com/cluster-a --audience api.payments.internal < token',
    'verify "$TOKEN" --issuer http://127.0.0.1:8787 --audience kube-oidc-local --allow-http',
    'verify "$TOKEN" --issuer https://oidc.example.com/cluster-a --issuer https://oidc.example.com/cluster-b --audience api.example',
  ],
  async run(args, context) {
    const allowHttp = booleanFlag(args, 'allow-http');
    // A relying party compares whatever issuer it is configured with, trailing slash included.
    const issuers = listFlag(args, 'issuer').map((value) => parseIssuerFlag(value, '--issuer', { allowHttp, allowTrailingSlash: true, isLoopback: isLoopbackHost }));
    const audiences = listFlag(args, 'audience');
    if (audiences.some((audience) => audience === '')) throw new UsageError('--audience must not be empty');
    const caFile = stringFlag(args, 'ca-file');
    const fetchOptions: HttpGetOptions = { allowHttp, caPem: caFile !== undefined ? readFlagFile(caFile, '--ca-file') : undefined };
    const token = await readTokenArgument(args.positionals[0], context.io);
    const now = resolveNow(args, context.io);

    let issuer = issuers[0];
    if (issuers.length > 1) {
      // The fleet core's router: the token's `iss` alone picks the issuer, compared byte for byte.
      let router: ReturnType<typeof createIssuerRouter>;
      try {
        router = createIssuerRouter(issuers.map((entry) => ({ issuer: entry })));
      } catch (err) {
        throw new UsageError(`--issuer: ${(err as Error).message.replace(/^trusted issuers\[\d+\]: /, '')}`);
      }
      const choice = router.route(token);
      if (!choice.ok) {
        context.emit(formatResult(choice, Math.floor(now.getTime() / 1000)), { issuers, ...choice });
        return EXIT_FAILED;
      }
      issuer = choice.entry.issuer;
    }

    const discoveryUrl = discoveryUrlFor(issuer);
    const discovery = parseJsonDocument(await fetchDocument(discoveryUrl, fetchOptions, 'discovery document'), 'discovery document');
    if (discovery.issuer !== issuer) {
      throw new CliError(`discovery document at ${discoveryUrl} has "issuer" ${JSON.stringify(discovery.issuer)}, not ${JSON.stringify(issuer)} (they must be byte-identical; run \`check\`)`);
    }
    if (typeof discovery.jwks_uri !== 'string' || discovery.jwks_uri === '') throw new CliError(`discovery document at ${discoveryUrl} has no jwks_uri`);
    const jwksUri = discovery.jwks_uri;
    const jwks = parseJsonDocument(await fetchDocument(jwksUri, fetchOptions, 'JWKS'), 'JWKS');
    if (!Array.isArray(jwks.keys)) throw new CliError(`JWKS at ${jwksUri} has no "keys" array`);

    const verifier = createVerifier({ keys: jwks.keys }, { issuer, allowedAudiences: audiences, kidlessCompat: booleanFlag(args, 'kidless-compat') });
    for (const skipped of verifier.skippedKeys) {
      context.note(`warning: JWKS key ${skipped.kid !== undefined ? JSON.stringify(skipped.kid) : `#${skipped.index}`} ignored: ${skipped.reason}`);
    }
    const nowSeconds = now.getTime() / 1000;
    const result = verifier.verify(token, { audiences, now: nowSeconds });
    const verdict = formatResult(result, Math.floor(nowSeconds));
    context.emit(issuers.length > 1 ? `${verdict}\n(checked against issuer ${issuer}, the one its iss names)` : verdict, { issuer, ...(issuers.length > 1 ? { issuers } : {}), jwksUri, ...result });
    return result.ok ? EXIT_OK : EXIT_FAILED;
  },
};

async function fetchDocument(url: string, options: HttpGetOptions, what: string): Promise<HttpResponse> {
  let response: HttpResponse;
  try {
    response = await httpGet(url, options);
  } catch (err) {
    if (err instanceof HttpGetError) throw new CliError(`cannot fetch the ${what}: ${err.message}; check the issuer URL and that it is served, e.g. with \`kube-oidc check --issuer URL\``);
    throw err;
  }
  if (response.status >= 300 && response.status < 400) {
    throw new CliError(`the ${what} at ${url} redirects (HTTP ${response.status} to ${response.headers.location ?? '?'}); relying parties do not follow redirects`);
  }
  if (response.status !== 200) throw new CliError(`the ${what} at ${url} answered HTTP ${response.status}`);
  return response;
}

function parseJsonDocument(response: HttpResponse, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(response.body);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new CliError(`the ${what} at ${response.url} is not a JSON object`);
}

function formatResult(result: VerifyResult, nowSeconds: number): string {
  if (!result.ok) return `REJECTED  ${result.reason}: ${result.message}`;
  const id = result.identity;
  const extra = (key: string): string | undefined => id.extra[key]?.[0];
  return [
    `VALID  ${id.username}`,
    formatFields([
      ['namespace', id.namespace],
      ['service account', `${id.serviceAccount}${id.uid ? ` (uid ${id.uid})` : ''}`],
      ['pod', extra(EXTRA_POD_NAME) ? `${extra(EXTRA_POD_NAME)} (uid ${extra(EXTRA_POD_UID) ?? '?'})` : undefined],
      ['node', extra(EXTRA_NODE_NAME)],
      ['audiences', id.audiences.join(', ')],
      ['groups', id.groups.join(', ')],
      ['expires', `${formatLocalTime(new Date(id.expiresAt * 1000))} (${formatRelative(id.expiresAt, nowSeconds)})`],
      ['kid', id.kid],
    ]),
  ].join('\n');
}
