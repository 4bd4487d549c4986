/**
 * `decode TOKEN|-`: shows what a service-account token says, offline. The signature is not
 * checked (that is `verify`'s job); the point is to read iss, aud, kid and the times when a
 * relying party refuses a token.
 */
import { EXIT_OK, LeafCommand, NOW_OPTION, readTokenArgument, resolveNow, UsageError } from '../command';
import { formatDuration, formatFields, formatLocalTime, formatRelative, indent } from '../output';

/** Lifetime above which a token is flagged: kube's extended 1-year tokens (`expirationSeconds: 3607`) are the usual cause. */
const LONG_LIFETIME_SECONDS = 86400;

/** The `decode` command. */
export const decodeCommand: LeafCommand = {
  name: 'decode',
  summary: 'show a token\'s header and claims, with times in local time (offline, signature not checked)',
  usage: 'TOKEN|-',
  description: [
    'Prints a JWT\'s header and claims, the kid, and iat/nbf/exp in local time with the time left.',
    'Never uses the network and does not check the signature: use `verify` for that.',
    'Give - to read the token from stdin (keeps it out of shell history).',
  ].join('\n'),
  positionals: { min: 1, max: 1 },
  options: { now: NOW_OPTION },
  examples: ['decode - < /var/run/secrets/eks.amazonaws.com/serviceaccount/token', 'decode "$(kubectl create token api -n payments)"'],
  async run(args, context) {
    const token = await readTokenArgument(args.positionals[0], context.io);
    const now = resolveNow(args, context.io);
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const { header, claims } = decodeCompactJwt(token);

    const times = {
      iat: timeOf(claims.iat, nowSeconds),
      nbf: timeOf(claims.nbf, nowSeconds),
      exp: timeOf(claims.exp, nowSeconds),
    };
    const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
    const start = typeof claims.nbf === 'number' ? claims.nbf : typeof claims.iat === 'number' ? claims.iat : undefined;
    const lifetimeSeconds = exp !== undefined && typeof claims.iat === 'number' ? exp - claims.iat : undefined;
    const status = exp === undefined ? 'no-expiry' : exp <= nowSeconds ? 'expired' : start !== undefined && start > nowSeconds ? 'not-yet-valid' : 'current';
    const kube = kubernetesIdentity(claims);
    const warnings = tokenWarnings(header, claims, lifetimeSeconds);

    const statusText = {
      'no-expiry': 'no exp claim: bound service-account tokens always expire',
      expired: exp !== undefined ? `EXPIRED ${formatDuration(nowSeconds - exp)} ago` : '',
      'not-yet-valid': start !== undefined ? `not valid for another ${formatDuration(start - nowSeconds)}` : '',
      current: exp !== undefined ? `${formatDuration(exp - nowSeconds)} left` : '',
    }[status];
    const human = [
      'header:',
      indent(JSON.stringify(header, null, 2)),
      'claims:',
      indent(JSON.stringify(claims, null, 2)),
      '',
      formatFields([
        ['kid', typeof header.kid === 'string' ? header.kid : '(none)'],
        ['alg', String(header.alg)],
        ['issuer', typeof claims.iss === 'string' ? claims.iss : '(none)'],
        ['subject', typeof claims.sub === 'string' ? claims.sub : '(none)'],
        ['audience', audiences(claims.aud).join(', ') || '(none)'],
        ['service account', kube.serviceAccount],
        ['pod', kube.pod],
        ['issued (iat)', times.iat?.text],
        ['not before (nbf)', times.nbf?.text],
        ['expires (exp)', times.exp?.text],
        ['lifetime', lifetimeSeconds !== undefined ? formatDuration(lifetimeSeconds) : undefined],
        ['status', statusText],
      ]),
      ...warnings.map((warning) => `warning: ${warning}`),
      'signature: not checked (use `verify`)',
    ].join('\n');
    context.emit(human, {
      header,
      claims,
      kid: typeof header.kid === 'string' ? header.kid : null,
      times: { iat: times.iat?.json ?? null, nbf: times.nbf?.json ?? null, exp: times.exp?.json ?? null },
      lifetimeSeconds: lifetimeSeconds ?? null,
      secondsLeft: exp !== undefined ? exp - nowSeconds : null,
      status,
      warnings,
      signatureChecked: false,
    });
    return EXIT_OK;
  },
};

const JWT_SHAPE = 'a JWT is three base64url parts joined by dots: header.claims.signature, the header starting with eyJ';

/**
 * Splits and decodes a compact JWT without checking its signature. Each way it can be malformed is
 * a {@link UsageError} saying which part is wrong: the token is this command's input, not its verdict.
 */
export function decodeCompactJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const parts = token.split('.');
  if (parts.length === 5) throw new UsageError('TOKEN is an encrypted JWT (JWE, five parts): service-account tokens are signed JWTs (three parts); decode cannot read encrypted tokens');
  if (parts.length !== 3) throw new UsageError(`TOKEN is not a JWT: it has ${parts.length} part${parts.length === 1 ? '' : 's'}; ${JWT_SHAPE}. Check that the whole token was copied`);
  const header = decodePart(parts[0], 'header');
  const claims = decodePart(parts[1], 'claims');
  if (parts[2] === '') throw new UsageError('TOKEN has an empty signature part: an unsigned JWT ("alg": "none") is never a service-account token');
  return { header, claims };
}

function decodePart(part: string, name: 'header' | 'claims'): Record<string, unknown> {
  if (part === '' || !/^[A-Za-z0-9_-]+$/.test(part)) {
    throw new UsageError(`TOKEN's ${name} part is not base64url (only A-Z a-z 0-9 - _ are allowed); ${JWT_SHAPE}. Check that the whole token was copied, without quotes or line breaks`);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new UsageError(`TOKEN's ${name} part does not decode to JSON; ${JWT_SHAPE}. Check that the whole token was copied`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`TOKEN's ${name} part is JSON but not an object; ${JWT_SHAPE}`);
  return value as Record<string, unknown>;
}

function timeOf(value: unknown, nowSeconds: number): { text: string; json: object } | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const date = new Date(value * 1000);
  return {
    text: `${formatLocalTime(date)} (${formatRelative(value, nowSeconds)})`,
    json: { epoch: value, utc: date.toISOString(), local: formatLocalTime(date) },
  };
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

function kubernetesIdentity(claims: Record<string, unknown>): { serviceAccount?: string; pod?: string } {
  const kube = claims['kubernetes.io'] as Record<string, { name?: unknown; uid?: unknown } | unknown> | undefined;
  if (!kube || typeof kube !== 'object') return {};
  const named = (entry: unknown): { name?: string; uid?: string } =>
    typeof entry === 'object' && entry !== null
      ? { name: String((entry as { name?: unknown }).name ?? ''), uid: String((entry as { uid?: unknown }).uid ?? '') }
      : {};
  const namespace = typeof kube.namespace === 'string' ? kube.namespace : '?';
  const sa = named(kube.serviceaccount);
  const pod = named(kube.pod);
  return {
    serviceAccount: sa.name ? `${namespace}/${sa.name}${sa.uid ? ` (uid ${sa.uid})` : ''}` : undefined,
    pod: pod.name ? `${pod.name}${pod.uid ? ` (uid ${pod.uid})` : ''}` : undefined,
  };
}

function tokenWarnings(header: Record<string, unknown>, claims: Record<string, unknown>, lifetimeSeconds: number | undefined): string[] {
  const warnings: string[] = [];
  if (typeof header.kid !== 'string') warnings.push('no kid: AWS STS looks the key up as kid "" (publish kid-less duplicates, KIDLESS_COMPAT)');
  if (audiences(claims.aud).length === 0) warnings.push('no aud: AWS STS and audience-checking verifiers refuse it');
  if (lifetimeSeconds !== undefined && lifetimeSeconds > LONG_LIFETIME_SECONDS) {
    warnings.push(`lifetime ${formatDuration(lifetimeSeconds)}: probably kube's extended expiration (expirationSeconds 3607 with --service-account-extend-token-expiration)`);
  }
  return warnings;
}
