/**
 * `check`: the issuer doctor. Fetches the issuer's documents the way AWS STS and go-oidc do
 * (no redirects, a deadline, the default trust store unless a CA is given), optionally the
 * cluster's own JWKS and the account's IAM OIDC providers, and prints the findings of
 * `core/issuer-checks.ts`, each with what was seen and the fix.
 */
import { discoveryUrlFor, FetchOutcome, IamLookup, IamProviderFacts, jwksUriFrom, runIssuerChecks } from '../../core/issuer-checks';
import { readUnverifiedPayload } from '../../core/trusted-issuers';
import { HttpGetError, httpGet, HttpGetOptions } from '../../runtime/http-client';
import {
  audienceFlag,
  booleanFlag,
  CommandIo,
  EXIT_FAILED,
  EXIT_OK,
  LeafCommand,
  listFlag,
  NOW_OPTION,
  readFlagFile,
  readTokenArgument,
  resolveNow,
  stringFlag,
  UsageError,
  ALLOW_HTTP_OPTION,
  CA_FILE_OPTION,
} from '../command';
import { formatFindings } from '../output';

/**
 * Deadline per fetch. Longer than STS's 5 s on purpose: a slow answer is then reported with its
 * time by the response-time finding instead of as a bare timeout.
 */
const FETCH_TIMEOUT_MS = 10_000;

/** The `check` command. */
export const checkCommand: LeafCommand = {
  name: 'check',
  summary: 'check a published issuer the way AWS STS and go-oidc will (each finding with its fix)',
  description: [
    'Fetches ISSUER/.well-known/openid-configuration and its jwks_uri like a relying party, and checks:',
    'HTTPS and the certificate chain, "issuer" equal to the URL byte for byte, no redirects, JSON content',
    'types, Cache-Control max-age, response time under 5 s, every key usable (kid, alg, use, RSA >= 2048,',
    'no private members) and id_token_signing_alg_values_supported. With --token: the token\'s iss, aud,',
    'kid and signature. With --cluster-jwks-url: every cluster key published. With AWS credentials in the',
    'environment (AWS_ACCESS_KEY_ID or AWS_PROFILE; AWS_ENDPOINT_URL honoured): the IAM OIDC provider',
    'for the issuer and the audience as its client ID.',
    'Repeat --issuer to check a fleet in one run: one section per issuer (in --json, "issuers": one entry',
    'each), exit 1 if any fails. --token is then checked in the section of the issuer its "iss" names.',
  ].join('\n'),
  options: {
    issuer: { type: 'string', valueName: 'URL', required: true, multiple: true, description: 'the issuer URL, exactly as in tokens\' iss (repeat for a fleet)' },
    token: { type: 'string', valueName: 'TOKEN', description: 'a token to check against the issuer (- reads stdin)' },
    audience: { type: 'string', valueName: 'A', defaultText: 'sts.amazonaws.com', description: 'the audience the token and the IAM provider must carry' },
    'cluster-jwks-url': { type: 'string', valueName: 'URL', description: 'the cluster\'s /openid/v1/jwks, to find unpublished keys' },
    'cluster-token-file': { type: 'string', valueName: 'FILE', description: 'bearer token for --cluster-jwks-url' },
    'cluster-ca-file': { type: 'string', valueName: 'FILE', description: 'CA bundle of the API server', defaultText: '--ca-file' },
    'ca-file': CA_FILE_OPTION,
    'allow-http': ALLOW_HTTP_OPTION,
    'skip-iam': { type: 'boolean', description: 'do not look up the IAM OIDC provider even with AWS credentials' },
    now: NOW_OPTION,
  },
  examples: [
    'check --issuer https://oidc.example.com/cluster-a',
    'check --issuer https://oidc.example.com/cluster-a --token - --audience sts.amazonaws.com < token',
    'check --issuer http://127.0.0.1:8787 --allow-http',
    'check --issuer https://oidc.example.com/cluster-a --issuer https://oidc.example.com/cluster-b',
  ],
  async run(args, context) {
    const issuers = listFlag(args, 'issuer');
    for (const issuer of issuers) {
      try {
        new URL(issuer);
      } catch {
        throw new UsageError(`--issuer must be an absolute URL such as https://oidc.example.com/cluster-a, got ${JSON.stringify(issuer)}`);
      }
    }
    const twice = issuers.find((issuer, index) => issuers.indexOf(issuer) !== index);
    if (twice !== undefined) throw new UsageError(`--issuer ${twice} is given twice`);
    const audience = audienceFlag(args);
    const allowHttp = booleanFlag(args, 'allow-http');
    const caFile = stringFlag(args, 'ca-file');
    const caPem = caFile !== undefined ? readFlagFile(caFile, '--ca-file') : undefined;
    const tokenArg = stringFlag(args, 'token');
    const token = tokenArg !== undefined ? await readTokenArgument(tokenArg, context.io, '--token') : undefined;
    const now = resolveNow(args, context.io);
    const clusterJwksUrl = stringFlag(args, 'cluster-jwks-url');
    const clusterCaFile = stringFlag(args, 'cluster-ca-file');
    const clusterTokenFile = stringFlag(args, 'cluster-token-file');
    if (!clusterJwksUrl && (clusterCaFile || clusterTokenFile)) throw new UsageError('--cluster-ca-file and --cluster-token-file go with --cluster-jwks-url');
    if (clusterJwksUrl && issuers.length > 1) throw new UsageError('--cluster-jwks-url names one cluster: give it with one --issuer (run check once per cluster)');
    // With several issuers the token belongs to the one its iss names (read unverified, only to
    // pick the section; its section then checks it in full).
    const tokenIssuer = token !== undefined && issuers.length > 1 ? unverifiedIssuer(token) : undefined;
    if (token !== undefined && issuers.length > 1 && (tokenIssuer === undefined || !issuers.includes(tokenIssuer))) {
      context.note(`note: the --token names issuer ${JSON.stringify(tokenIssuer ?? null)}, none of the ${issuers.length} given, so no section checks it`);
    }
    const skipIam = booleanFlag(args, 'skip-iam');
    const withIam = !skipIam && hasAwsCredentials(context.io);
    if (!withIam && !skipIam) context.note('note: no AWS credentials in the environment, so the IAM OIDC provider was not checked');

    const fetchOptions: HttpGetOptions = { caPem, allowHttp, timeoutMs: FETCH_TIMEOUT_MS };
    const sections: { issuer: string; ok: boolean; findings: ReturnType<typeof runIssuerChecks> }[] = [];
    for (const issuer of issuers) {
      const discovery = await fetchOutcome(discoveryUrlFor(issuer), fetchOptions);
      const jwksUri = jwksUriFrom(discovery);
      const jwks = jwksUri !== undefined ? await fetchOutcome(jwksUri, fetchOptions) : undefined;
      const clusterJwks = clusterJwksUrl
        ? await fetchOutcome(clusterJwksUrl, {
          ...fetchOptions,
          caPem: clusterCaFile !== undefined ? readFlagFile(clusterCaFile, '--cluster-ca-file') : caPem,
          bearerToken: clusterTokenFile !== undefined ? readFlagFile(clusterTokenFile, '--cluster-token-file').trim() : undefined,
        })
        : undefined;
      const iam = withIam ? await lookUpIamProviders(issuer, context.io) : undefined;
      const findings = runIssuerChecks({
        issuer,
        allowHttp,
        caFileGiven: caPem !== undefined,
        discovery,
        jwks,
        token: issuers.length === 1 || tokenIssuer === issuer ? token : undefined,
        audience,
        clusterJwks,
        iam,
        now: Math.floor(now.getTime() / 1000),
      });
      sections.push({ issuer, ok: findings.every((finding) => finding.ok), findings });
    }
    const ok = sections.every((section) => section.ok);
    const human = sections.map((section) => `check ${section.issuer}\n\n${formatFindings(section.findings)}`).join('\n\n');
    if (sections.length === 1) {
      context.emit(human, { issuer: sections[0].issuer, ok, findings: sections[0].findings });
    } else {
      const failed = sections.filter((section) => !section.ok).map((section) => section.issuer);
      context.emit(`${human}\n\n${failed.length === 0 ? `all ${sections.length} issuers pass` : `${failed.length} of ${sections.length} issuers fail: ${failed.join(', ')}`}`, { ok, issuers: sections });
    }
    return ok ? EXIT_OK : EXIT_FAILED;
  },
};

/** The token's unverified `iss`, when it has one (only to pick the section that checks it). */
function unverifiedIssuer(token: string): string | undefined {
  const read = readUnverifiedPayload(token);
  return read.ok && typeof read.payload.claims.iss === 'string' ? read.payload.claims.iss : undefined;
}

/** Fetches a URL, turning transport failures into a failed outcome instead of an exception. */
export async function fetchOutcome(url: string, options: HttpGetOptions): Promise<FetchOutcome> {
  try {
    const response = await httpGet(url, options);
    return { ok: true, response };
  } catch (err) {
    if (err instanceof HttpGetError) return { ok: false, url, errorCode: err.code, message: err.message };
    throw err;
  }
}

function hasAwsCredentials(io: CommandIo): boolean {
  return Boolean(io.env.AWS_ACCESS_KEY_ID || io.env.AWS_PROFILE);
}

/** Lists the account's IAM OIDC providers whose URL could be this issuer, with their client IDs. */
async function lookUpIamProviders(issuer: string, io: CommandIo): Promise<IamLookup> {
  // Loaded on demand: the SDK costs a quarter second of start-up that other commands should not pay.
  const { GetOpenIDConnectProviderCommand, IAMClient, ListOpenIDConnectProvidersCommand } = await import('@aws-sdk/client-iam');
  const client = new IAMClient({
    // IAM is global; a region is only needed to sign requests.
    region: io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(io.env.AWS_ENDPOINT_URL ? { endpoint: io.env.AWS_ENDPOINT_URL } : {}),
    maxAttempts: 2,
    // A doctor must answer even when IAM is unreachable: bounded waits, then a failed finding.
    requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
  });
  try {
    const listed = await client.send(new ListOpenIDConnectProvidersCommand({}));
    const host = safeHost(issuer);
    const providers: IamProviderFacts[] = [];
    for (const entry of listed.OpenIDConnectProviderList ?? []) {
      const arn = entry.Arn;
      if (!arn) continue;
      const urlInArn = arn.replace(/^arn:[^:]+:iam::\d+:oidc-provider\//, '');
      // Describe only providers of the same host: enough to spot exact and near matches.
      if (host && urlInArn.split('/')[0].toLowerCase() !== host) continue;
      const described = await client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
      providers.push({ arn, url: described.Url ?? urlInArn, clientIds: described.ClientIDList ?? [] });
    }
    return { ok: true, providers };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err) };
  } finally {
    client.destroy();
  }
}

function safeHost(issuer: string): string | undefined {
  try {
    return new URL(issuer).host.toLowerCase();
  } catch {
    return undefined;
  }
}
