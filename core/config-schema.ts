/**
 * The one definition of `config/clusters.json`: its shape, the description and default of every
 * field, and the rules that concern one field or one object. Written with zod 4, from which come
 * the TypeScript types (`core/config.ts`), runtime validation (`validateConfig`), the JSON Schema
 * `config/clusters.schema.json` and the reference table of docs/configuration.md (`npm run schema`).
 *
 * Every error message is "<problem>. Fix: <fix>"; the formatter in `core/config.ts` prefixes the
 * cluster, the field path and the value. A field words its own problems where a generic message
 * ("must be a string. Fix: write it as a JSON string", see `defaultMessage`) would not help.
 *
 * Rules that need several sections or the outside world (key material, the issuer across
 * documents, the audience boundary, the Lambda environment budget, warnings) live in
 * `core/config-rules.ts` and run once the shape is valid.
 *
 * Pure: no I/O. Only the CDK app and the CLI import this module, never a Lambda handler, so zod
 * never reaches a Lambda bundle.
 */
import { z } from 'zod';
import { issuerUrlProblems, MAX_ISSUER_URL_LENGTH } from './issuer-url';

// ===== Limits and defaults =====

/** The audience AWS STS expects in web-identity tokens, the IAM provider's default client ID. */
export const STS_AUDIENCE = 'sts.amazonaws.com';
/** IAM accepts at most this many client IDs on one OIDC provider. */
export const MAX_PROVIDER_AUDIENCES = 100;
/** IAM limits each client ID to this many characters. */
export const MAX_AUDIENCE_LENGTH = 255;
/** Longest cluster name: it is part of stack, alarm and log-group names. */
export const MAX_CLUSTER_NAME_LENGTH = 40;

/** Default values of the optional settings; the schema below uses exactly these. */
export const CONFIG_DEFAULTS = {
  audiences: [STS_AUDIENCE] as readonly string[],
  gracePeriodSeconds: 86400,
  kidlessCompat: false,
  scheduleMinutes: 5,
  cacheMaxAgeSeconds: 300,
  verifyApiEnabled: true,
  allowSharedAudiences: false,
  iamAuth: false,
  rateLimit: 50,
  burstLimit: 100,
  clockSkewSeconds: 60,
  maxTokenBytes: 16384,
  keysTtlSeconds: 60,
  unknownKidCooldownSeconds: 30,
  staleWindowSeconds: 900,
  errorCachingTtlSeconds: 0,
} as const;

// ===== Patterns =====

const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(root|role\/[\w+=,.@/-]+|user\/[\w+=,.@/-]+)$/;
/** An IAM OIDC provider ARN: its account and its URL without `https://`. */
export const PROVIDER_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):oidc-provider\/(.+)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ACCOUNT_ID = /^\d{12}$/;
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const ROLE_ID = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const SA_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SA_PREFIX = /^[a-z0-9][-a-z0-9.]{0,252}$/;
const MANAGED_POLICY_ARN = /^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]+$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/;
// SSM names are either flat ("token") or a path that starts with "/" ("/kube-oidc/token").
const SSM_NAME = /^(?:[\w.-]+|(?:\/[\w.-]+)+)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** General purpose S3 bucket names, without the reserved prefixes and suffixes or an IP address's shape. */
const BUCKET_NAME = /^(?!xn--|sthree-|amzn-s3-demo-)(?!.*(-s3alias|--ol-s3|--x-s3|--table-s3)$)(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** For editors only (the JSON Schema): `issuerUrlProblems` gives the precise message. */
const ISSUER_URL_PATTERN = '^(?!.*/\\.{1,2}(/|$))https://[a-z0-9.-]+(/[A-Za-z0-9._~-]+)*$';

// ===== Messages =====

type RawIssue = z.core.$ZodRawIssue;
type Ctx = z.core.$RefinementCtx;

/** One problem's text as the formatter expects it: `<problem>. Fix: <fix>`. */
export function problemText(problem: string, fix: string): string {
  return `${problem}. Fix: ${fix}`;
}

/** The problem and the generic fix of a value of the wrong type, by the type expected. */
const KINDS: Record<string, readonly [string, string]> = {
  string: ['must be a string', 'write it as a JSON string'],
  boolean: ['must be true or false', 'write true or false without quotes'],
  number: ['must be a number', 'write a number without quotes'],
  int: ['must be a whole number', 'write a whole number'],
  object: ['must be an object', 'write it as a JSON object {...}'],
  record: ['must be an object', 'write it as a JSON object {...}'],
  array: ['must be an array', 'write it as a JSON array [...]'],
};

/** The problem of an issue zod raised for a type, an enum or a size. */
function problemOf(iss: RawIssue, range = ''): string {
  if (iss.code === 'invalid_type') return iss.input === undefined ? 'is missing' : KINDS[iss.expected]?.[0] ?? `must be of type ${iss.expected}`;
  if (iss.code === 'invalid_value') return `is not ${orList(iss.values.map((v) => JSON.stringify(v)))}`;
  if ((iss.code === 'too_small' || iss.code === 'too_big') && iss.origin === 'array') {
    return iss.code === 'too_small' ? 'is empty' : `has more than ${String(iss.maximum)} entries`;
  }
  if (iss.code === 'too_small' || iss.code === 'too_big') return `is out of range${range}`;
  return 'is not valid';
}

/**
 * The message of a wrong type or a missing field when the field words none itself: validation
 * passes it to every parse (zod asks it only when the schema has no message of its own).
 */
export function defaultMessage(iss: RawIssue): string | undefined {
  if (iss.code !== 'invalid_type') return undefined;
  return problemText(problemOf(iss), iss.input === undefined ? 'add it' : KINDS[iss.expected]?.[1] ?? `write a ${iss.expected}`);
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** Messages for a type or size problem, with this fix. */
const withFix = (fix: string, range?: string) => ({ error: (iss: RawIssue) => problemText(problemOf(iss, range), fix) });
/** A check with its own problem text; the first failing check of a field is its only problem. */
const rule = (problem: string, fix: string) => ({ error: () => problemText(problem, fix), abort: true });

/** Records a problem of a refinement at `path` (relative to the refined value). */
function report(ctx: Ctx, path: readonly (string | number)[], input: unknown, problem: string, fix: string): void {
  ctx.addIssue({ code: 'custom', path: [...path], input, message: problemText(problem, fix) });
}

/** Reports each entry whose `keyOf` an earlier entry shares; `problem` gets the earlier entry's index and this one's. */
function reportRepeats<T>(ctx: Ctx, list: readonly T[], keyOf: (item: T) => unknown, pathOf: (i: number) => (string | number)[],
  problem: (first: number, i: number) => string = () => 'is listed twice', fix = 'remove the duplicate'): void {
  const seen = new Map<unknown, number>();
  list.forEach((item, i) => {
    const key = keyOf(item);
    const first = seen.get(key);
    if (first !== undefined) report(ctx, pathOf(i), item, problem(first, i), fix);
    else if (key !== undefined) seen.set(key, i);
  });
}

/** The per-key messages of unknown fields, one line per key (the formatter splits them). */
function unknownFields(keys: readonly string[], known: readonly string[]): string {
  return keys.map((key) => {
    const k = key.toLowerCase();
    const near = known.find((f) => f.toLowerCase() === k || f.toLowerCase().startsWith(k) || k.startsWith(f.toLowerCase()))
      ?? known.find((f) => editDistance(f.toLowerCase(), k) <= 2);
    return problemText('is not a known field', near ? `did you mean ${JSON.stringify(near)}?` : `remove it (known fields: ${known.join(', ')})`);
  }).join('\n');
}

/** Levenshtein distance, to suggest the field a typo meant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

// ===== Building blocks =====

const comment = z.string().optional().describe('A free-text comment, ignored by validation. When absent: none.');

/**
 * A JSON object with exactly these fields (and `$comment`, allowed everywhere and ignored).
 * `example` is the fix shown when the value is not an object, `missingFix` when a required one is absent.
 */
function section<S extends z.ZodRawShape>(shape: S, example: string, missingFix = example) {
  const known = Object.keys(shape);
  return z.strictObject({ ...shape, $comment: comment }, {
    error: (iss: RawIssue) => (iss.code === 'unrecognized_keys' ? unknownFields(iss.keys, known)
      : problemText(problemOf(iss), iss.input === undefined ? missingFix : example)),
  });
}

function flag(fallback: boolean, description: string) {
  return z.boolean(withFix(`write true or false without quotes (default ${fallback})`)).default(fallback).describe(description);
}

/** A number from `min` to `max`; whole unless `fractions`. `tooBig` words a value above `max` itself. */
function numberIn(min: number, max: number, fix: string, options: { fractions?: boolean; tooBig?: readonly [string, string] } = {}) {
  const e = withFix(fix, ` (${min} to ${max})`);
  const number = options.fractions ? z.number(e) : z.number(e).int(e);
  return number.min(min, { ...e, abort: true }).max(max, options.tooBig ? rule(...options.tooBig) : { ...e, abort: true });
}

/** A JSON array of strings; each string must satisfy `item`. */
function stringList(item: z.ZodString = z.string(), fix = 'write it as ["...", "..."]') {
  return z.array(item, withFix(fix));
}

/** A name that becomes part of stack, alarm and log-group names. */
function dnsName(what: string, example: string, stack?: string) {
  return z.string(withFix(`give the ${what} a DNS-safe name such as ${JSON.stringify(example)}`))
    .max(MAX_CLUSTER_NAME_LENGTH, rule(`is longer than ${MAX_CLUSTER_NAME_LENGTH} characters`, stack ? `use a shorter name: it becomes part of the stack name ${stack}` : 'use a shorter name'))
    .regex(DNS_LABEL, rule('is not DNS-safe', `use lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. ${JSON.stringify(example)})`));
}

const accountId = (example: string, fix?: string) => z.string(fix === undefined ? undefined : withFix(fix))
  .regex(ACCOUNT_ID, rule('is not a 12-digit AWS account id', `give the account id, e.g. "${example}"`));
const regionName = () => z.string().regex(AWS_REGION, rule('is not an AWS region name', 'give a region such as "eu-west-1"'));
const providerArn = (where = '') => z.string()
  .regex(PROVIDER_ARN, rule('is not an IAM OIDC provider ARN', `give arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH], as \`aws iam list-open-id-connect-providers\` shows${where}`));

/** Exact IAM principals allowed to write something: no wildcard, since `why`. */
const principalArns = (why: string, example: string) => stringList(z.string()
  .refine((arn) => !arn.includes('*'), rule('contains a wildcard', `name each principal by its exact role or user ARN: ${why}`))
  .regex(IAM_PRINCIPAL_ARN, rule('is not an IAM role, user or account-root ARN', `give e.g. "${example}"`))).default([]);

/** A PEM CA bundle to trust instead of the public roots; `which` says which CA to paste. */
const caBundle = (which: string) => z.string()
  .regex(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/, rule('holds no PEM certificate', `paste ${which}`)).optional();

const alarms = (owner: string) => section({
  emails: stringList(z.string().regex(EMAIL, rule('is not an e-mail address', 'give e.g. "oncall@example.com"'))).default([])
    .describe(`Each e-mail gets a subscription to the ${owner}'s alarm topic (confirm it from the e-mail).`),
}, 'write {"emails": ["oncall@example.com"]}').prefault({}).describe(`Where the ${owner}'s alarms go.`);

// ===== Issuer =====

const issuerUrl = (description: string) => z.string(withFix('give the issuer URL, e.g. "https://oidc.example.com"'))
  .superRefine((url, ctx) => { for (const [problem, fix] of issuerUrlProblems(url)) report(ctx, [], url, problem, fix); })
  .meta({ description, pattern: ISSUER_URL_PATTERN, maxLength: MAX_ISSUER_URL_LENGTH });

const issuer = section({
  url: issuerUrl('The issuer URL, byte for byte as kube-apiserver\'s `--service-account-issuer`: `https://HOST[/PATH]`, https only; no query, fragment, port or user information; no trailing slash; a lowercase DNS host name (no IP address); path segments of `A-Z a-z 0-9 . _ ~ -`, no `.` or `..` segment and no percent-encoding; at most 255 characters.'),
  hostedZoneId: z.string(withFix('give the Route 53 hosted zone id that holds the issuer host, e.g. "Z0123456789ABCDEFGHIJ"'))
    .regex(/^Z[A-Z0-9]{1,32}$/, rule('is not a Route 53 hosted zone id', 'copy the zone id (Z followed by letters and digits, without "/hostedzone/")'))
    .describe('The Route 53 hosted zone id (`Z...`) holding the issuer host. A and AAAA alias records to the distribution are created in it.'),
  hostedZoneName: z.string(withFix('give the hosted zone\'s domain name, e.g. "example.com"'))
    .describe('The zone\'s domain name (a trailing dot is dropped); the issuer host must be inside it.'),
  certificateArn: z.string(withFix('give the ARN of an ACM certificate in us-east-1 that covers the issuer host'))
    .regex(ACM_ARN, rule('is not an ACM certificate ARN', 'copy the ARN from ACM: arn:aws:acm:us-east-1:ACCOUNT:certificate/ID'))
    .superRefine((arn, ctx) => {
      const region = ACM_ARN.exec(arn)?.[1];
      if (region !== 'us-east-1') report(ctx, [], arn, `is in ${region}, but CloudFront only uses certificates from us-east-1`, 'request or import the certificate in us-east-1 and give that ARN');
    })
    .describe('An ACM certificate **in us-east-1** (CloudFront only uses those) covering the issuer host. The distribution then requires TLS 1.2 (`TLSv1.2_2021`, SNI).'),
}, 'write {"url": "https://oidc.example.com", "hostedZoneId": "Z...", "hostedZoneName": "example.com", "certificateArn": "arn:aws:acm:us-east-1:..."}, or remove issuer to use the CloudFront default domain')
  .superRefine((value, ctx) => {
    if (issuerUrlProblems(value.url).length > 0) return;
    const host = value.url.replace(/^https:\/\//, '').replace(/\/.*$/, '');
    const zone = value.hostedZoneName.replace(/\.$/, '').toLowerCase();
    if (host !== zone && !host.endsWith(`.${zone}`)) {
      report(ctx, ['hostedZoneName'], value.hostedZoneName, `does not contain the issuer host ${JSON.stringify(host)}`, 'give the hosted zone that the issuer host belongs to');
    }
  })
  .transform((value) => ({ kind: 'customDomain' as const, ...value, hostedZoneName: value.hostedZoneName.replace(/\.$/, '').toLowerCase() }));

// ===== Key sources =====

const upload = section({
  enabled: flag(true, 'The sync reads public keys (PEM, JWK, JWKS) under `keys/` of the private bucket; an upload or a deletion there triggers a sync at once.'),
  writerArns: principalArns('whoever can write a key can mint tokens for every role', 'arn:aws:iam::123456789012:role/KeyPublisher').describe('The only principals (exact IAM role, user or account-root ARNs, no wildcards) allowed to write `keys/` and the deny list `control/deny-list.json`: whoever can write a key can mint tokens for every role. Required (non-empty) when enabled.'),
}, 'write {"enabled": true, "writerArns": ["arn:aws:iam::123456789012:role/KeyPublisher"]}')
  .superRefine((value, ctx) => {
    if (value.enabled && value.writerArns.length === 0) {
      report(ctx, ['writerArns'], value.writerArns, 'is empty while uploads are enabled', 'name the principals allowed to upload keys (nobody else can), or set upload.enabled to false');
    }
  });

const idList = (prefix: string, example: string, description: string) => stringList(
  z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), rule(`is not a ${prefix} id`, `give e.g. "${example}"`)),
  `list at least one id, e.g. ["${example}"]`,
).min(1, withFix(`list at least one id, e.g. ["${example}"]`)).describe(description);

const vpc = section({
  vpcId: z.string(withFix('give the VPC id, e.g. "vpc-0123456789abcdef0"'))
    .regex(/^vpc-[0-9a-f]{8,17}$/, rule('is not a VPC id', 'give e.g. "vpc-0123456789abcdef0"'))
    .describe('The VPC of the subnets.'),
  subnetIds: idList('subnet', 'subnet-0123456789abcdef0', 'Subnets to run the sync Lambda in: they need a NAT gateway (CloudFront\'s API has no VPC endpoint).'),
  securityGroupIds: idList('sg', 'sg-0123456789abcdef0', 'Security groups of the sync Lambda: they need outbound HTTPS to the API server.'),
}, 'write {"vpcId": "vpc-...", "subnetIds": ["subnet-..."], "securityGroupIds": ["sg-..."]}');

const clusterJwks = section({
  url: z.string(withFix('give the cluster endpoint, e.g. "https://api.cluster.example.com:6443/openid/v1/jwks"'))
    .refine((url) => url.startsWith('https://'), rule('does not use https', 'use the API server\'s https URL (the token and keys must not travel in clear)'))
    .refine((url) => !/[?#]/.test(url), rule('has a query or fragment', 'remove everything from "?" or "#"'))
    .refine((url) => !/^https:\/\/[^/]*@/.test(url), rule('has user information', 'remove "user@": give a bearer token with tokenSecretArn or tokenParameterName'))
    .regex(/^https:\/\/[^/:]+(:\d{1,5})?(\/[^\s]*)?$/, rule('is not a valid URL', 'give e.g. "https://10.0.0.10:6443/openid/v1/jwks"'))
    .describe('The cluster\'s JWKS endpoint, `https://APISERVER[:PORT]/openid/v1/jwks`: https only, no query, fragment or user information.'),
  caBundlePem: caBundle('the cluster CA (e.g. the certificate-authority-data of a kubeconfig, base64-decoded)').describe('PEM CA bundle to trust for the endpoint (the cluster CA). When absent: the public roots.'),
  tokenSecretArn: z.string()
    .regex(SECRET_ARN, rule('is not a complete Secrets Manager secret ARN', 'copy the full ARN, including the 6-character suffix Secrets Manager appends to the name'))
    .optional().describe('Complete Secrets Manager ARN (with its 6-character suffix) of a bearer token for the endpoint; the sync may read only this secret. If the secret uses a customer KMS key, grant the sync role `kms:Decrypt` on it. When absent: no token from Secrets Manager.'),
  tokenParameterName: z.string()
    .regex(SSM_NAME, rule('is not an SSM parameter name', 'give the name (not the ARN): a flat name, or a path starting with "/", e.g. "/kube-oidc/prod/discovery-token"'))
    .optional().describe('SSM parameter name (SecureString) of a bearer token; exclusive with `tokenSecretArn`. The sync may read only this parameter. When absent: no token from SSM.'),
  vpc: vpc.optional().describe('Run the sync Lambda in these subnets, for an endpoint only reachable from a VPC. When absent: the Lambda runs outside any VPC.'),
}, 'write {"url": "https://APISERVER:6443/openid/v1/jwks"}')
  .superRefine((value, ctx) => {
    if (value.tokenSecretArn !== undefined && value.tokenParameterName !== undefined) {
      report(ctx, ['tokenParameterName'], value.tokenParameterName, 'is set together with tokenSecretArn', 'keep one token source: tokenSecretArn or tokenParameterName');
    }
  });

const KEY_FORMS = ['file', 'pem', 'jwk'] as const;

const configKey = section({
  file: z.string().min(1, rule('is empty', 'give the key file path, relative to the config file'))
    .optional().describe('A key file, relative to the config file\'s folder. When absent: `pem` or `jwk` is given.'),
  pem: z.string().optional().describe('PEM key material inline. When absent: `file` or `jwk` is given.'),
  jwk: z.record(z.string(), z.unknown(), withFix('paste the JSON object itself, not a string')).optional().describe('A JWK or a JWKS object. When absent: `file` or `pem` is given.'),
}, 'write {"file": "keys/sa.pub"}, {"pem": "-----BEGIN PUBLIC KEY-----..."} or {"jwk": {...}}')
  .superRefine((value, ctx) => {
    const forms = KEY_FORMS.filter((form) => value[form] !== undefined);
    if (forms.length !== 1) {
      report(ctx, [], value, forms.length === 0 ? 'names no key' : `has ${forms.join(' and ')} together`, 'give exactly one of "file", "pem" or "jwk" per entry');
    }
  })
  .meta({
    description: 'One key entry: exactly one of `file`, `pem` or `jwk`. Accepted: PEM `PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE` (several blocks per file), JWK and JWKS; RSA of 2048 bits or more, EC P-256/P-384/P-521. A private key is accepted with a warning and only its public half is used.',
    oneOf: KEY_FORMS.map((form) => ({ required: [form] })),
  });

const keySources = section({
  configKeys: z.array(configKey).default([]).describe('Public keys given in the config, converted to a JWKS at synth time (kube-apiserver\'s key ids) and passed to the sync Lambda as `CONFIG_JWKS`. With `clusterJwks.caBundlePem` at most 3072 bytes of Lambda environment (about five RSA-2048 keys).'),
  upload: upload.default({ enabled: false, writerArns: [] }).describe('Keys uploaded by operators under the private bucket\'s `keys/` prefix. When given, `enabled` defaults to `true`.'),
  clusterJwks: clusterJwks.optional().describe('The cluster\'s own JWKS endpoint, read by the sync. When absent: not read.'),
}, 'write {"configKeys": [{"file": "keys/sa.pub"}]} or another source',
'configure at least one key source: keySources.configKeys (public keys in the config), keySources.upload or keySources.clusterJwks')
  .superRefine((value, ctx) => {
    if (!value.upload.enabled && !value.clusterJwks && value.configKeys.length === 0) {
      report(ctx, [], value, 'has no enabled source', 'configure keySources.configKeys, enable keySources.upload, or set keySources.clusterJwks');
    }
  });

// ===== Service-account roles =====

const STATEMENT_PAIRS = [['Action', 'NotAction', 'e.g. "Action": ["s3:GetObject"]'], ['Resource', 'NotResource', 'e.g. "Resource": ["arn:aws:s3:::my-bucket/*"]']] as const;

const actionOrResource = (field: string, example: string) => z.union(
  [z.string().min(1), z.array(z.string().min(1)).min(1)],
  { error: () => problemText('must be a non-empty string or array of strings', example) },
).optional().describe(`IAM \`${field}\`: a string or a non-empty array of strings. When absent: its counterpart must be given (exactly one of Action/NotAction and of Resource/NotResource).`);

const noPrincipal = z.unknown().optional().meta({ description: 'Not allowed: the statement is attached to the role itself. When absent: the role.', not: {} });

const statement = section({
  Sid: z.string().optional().describe('Statement id. When absent: none.'),
  Effect: z.enum(['Allow', 'Deny'], withFix('set "Effect": "Allow" or "Deny"')).describe('`Allow` or `Deny`.'),
  Action: actionOrResource('Action', STATEMENT_PAIRS[0][2]),
  NotAction: actionOrResource('NotAction', STATEMENT_PAIRS[0][2]),
  Resource: actionOrResource('Resource', STATEMENT_PAIRS[1][2]),
  NotResource: actionOrResource('NotResource', STATEMENT_PAIRS[1][2]),
  Condition: z.record(z.string(), z.unknown(), withFix('write {"StringEquals": {...}}')).optional().describe('IAM condition block. When absent: none.'),
  Principal: noPrincipal,
  NotPrincipal: noPrincipal,
}, 'write {"Effect": "Allow", "Action": [...], "Resource": [...]}')
  .superRefine((value, ctx) => {
    if (value.Principal !== undefined || value.NotPrincipal !== undefined) {
      report(ctx, [], value, 'has a Principal', 'remove Principal: the statement is attached to the role itself');
    }
    for (const [field, negated, example] of STATEMENT_PAIRS) {
      const present = [field, negated].filter((f) => value[f] !== undefined);
      if (present.length !== 1) {
        report(ctx, [], value, present.length === 0 ? `has no ${field}` : `has both ${field} and ${negated}`, `give exactly one of ${field} or ${negated}, ${example}`);
      }
    }
  })
  .describe('An IAM policy statement attached inline to the role: `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`, optional `Sid` and `Condition`; no `Principal`.');

const NAMESPACE_FIX = 'use a DNS label: lowercase letters, digits and hyphens, at most 63 characters';

const role = section({
  id: z.string(withFix('give the role a stable id such as "payments-api"'))
    .regex(ROLE_ID, rule('is not a valid role id', 'use up to 64 letters, digits and hyphens, starting with a letter'))
    .describe('Stable id: letters, digits and `-`, starting with a letter, at most 64; unique in the cluster (compared without hyphens and case). It names the role\'s construct and its stack output `<Id>RoleArn`: **changing it replaces the role** (new ARN).'),
  namespace: z.string(withFix('give the Kubernetes namespace of the service account'))
    .refine((ns) => !/[*?]/.test(ns), rule('contains a wildcard', 'name one namespace: wildcards across namespaces are not allowed (use match "namespace" for every service account of one namespace)'))
    .regex(DNS_LABEL, rule('is not a Kubernetes namespace name', NAMESPACE_FIX))
    .max(63, rule('is not a Kubernetes namespace name', NAMESPACE_FIX))
    .describe('A Kubernetes namespace (DNS label). Never a wildcard.'),
  serviceAccount: z.string().optional().describe('The service account name (with `match: "namePrefix"`, the name prefix). Never a wildcard. Required unless `match` is `namespace`. When absent: every service account of the namespace (only with `match: "namespace"`).'),
  match: z.enum(['exact', 'namespace', 'namePrefix'], withFix('use "exact" (one service account), "namespace" (all of a namespace) or "namePrefix"')).default('exact').describe('`exact`: one service account (`StringEquals` on `sub`). `namespace`: every service account of the namespace (`StringLike` on `system:serviceaccount:NS:*`). `namePrefix`: names starting with `serviceAccount` (`StringLike` on `system:serviceaccount:NS:PREFIX*`). There is no way to trust a bare `*`.'),
  audience: z.string().optional().describe('The `aud` the token must carry (the projected volume\'s `audience`); one of the cluster\'s `audiences`. Always checked with `StringEquals`. When absent: the first of the cluster\'s `audiences`.'),
  managedPolicyArns: stringList(z.string()
    .regex(MANAGED_POLICY_ARN, rule('is not an IAM managed policy ARN', 'give e.g. "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" or "arn:aws:iam::123456789012:policy/MyPolicy"')))
    .max(20, rule('has more than 20 policies (IAM\'s limit per role)', 'merge policies'))
    .default([]).describe('Managed policy ARNs attached to the role (at most 20).'),
  inlinePolicyStatements: z.array(statement).default([]).describe('IAM policy statements attached inline to the role.'),
}, 'write {"id": "payments-api", "namespace": "payments", "serviceAccount": "api", "managedPolicyArns": [...]}')
  .superRefine((value, ctx) => {
    const sa = value.serviceAccount;
    const problem = (text: string, fix: string) => report(ctx, ['serviceAccount'], sa, text, fix);
    if (value.match === 'namespace') {
      if (sa !== undefined) problem('is set with match "namespace", which trusts every service account of the namespace', 'remove serviceAccount, or use match "exact"');
    } else if (sa === undefined) {
      problem('is missing', value.match === 'exact'
        ? 'name the service account, or set match to "namespace" to trust all of the namespace'
        : 'give the name prefix the service accounts share, e.g. "runner-"');
    } else if (/[*?]/.test(sa)) {
      problem('contains a wildcard', 'give the exact name; for several service accounts set match to "namePrefix" (name prefix) or "namespace" (whole namespace)');
    } else if (value.match === 'exact' && !SA_NAME.test(sa)) {
      problem('is not a Kubernetes service account name', 'use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit');
    } else if (value.match === 'namePrefix' && !SA_PREFIX.test(sa)) {
      problem('is not a service account name prefix', 'use lowercase letters, digits, "-" and ".", starting with a letter or digit');
    }
  })
  .describe('An IAM role that pods of the cluster assume with their projected service-account token (self-hosted IRSA).');

const roles = z.array(role).superRefine((list, ctx) => reportRepeats(ctx, list, (r) => r.id.replace(/-/g, '').toLowerCase(), (i) => [i, 'id'],
  (first) => `duplicates serviceAccountRoles[${first}].id (ids are compared without hyphens and case because they name stack outputs)`, 'give every role a distinct id'));

// ===== Rotation, sync, issuer site =====

const rotation = section({
  gracePeriodSeconds: numberIn(3600, 31622400, 'give seconds between 3600 (1 h, the default token lifetime) and 31622400 (366 days); it must cover the longest token lifetime the cluster issues')
    .default(CONFIG_DEFAULTS.gracePeriodSeconds).describe('How long a key stays published after every source stopped listing it (3600 to 31622400). **It must cover the longest token lifetime the cluster issues**: 1 h by default for projected tokens, but one year for tokens requested with `expirationSeconds: 3607` when kube-apiserver runs with `--service-account-extend-token-expiration` (the default).'),
  kidlessCompat: flag(CONFIG_DEFAULTS.kidlessCompat, 'Also publish each key with `kid: ""`, for tokens from clusters before Kubernetes 1.16 (STS treats a missing kid as `""`). Applies to the Verify API too.'),
}, 'write {"gracePeriodSeconds": 86400, "kidlessCompat": false}');

const sync = section({
  scheduleMinutes: numberIn(1, 60, 'give whole minutes between 1 and 60').default(CONFIG_DEFAULTS.scheduleMinutes)
    .describe('Minutes between scheduled syncs (1 to 60). The sync also runs on uploads, deny-list changes and deployments.'),
  cacheMaxAgeSeconds: numberIn(0, 3600, 'give whole seconds between 0 and 3600 (default 300)', {
    tooBig: ['is more than 3600 seconds: verifiers and CloudFront would keep serving an old JWKS that long and refuse tokens signed by a new key', 'use at most 3600 (default 300)'],
  }).default(CONFIG_DEFAULTS.cacheMaxAgeSeconds).describe('The documents\' `Cache-Control: max-age` (0 to 3600). More than an hour is refused: verifiers that honour it (and CloudFront) would keep an old JWKS that long and reject tokens signed by a new key.'),
}, 'write {"scheduleMinutes": 5, "cacheMaxAgeSeconds": 300}');

const issuerSite = section({
  documentWriterArns: principalArns('whoever can write the documents can swap the published keys', 'arn:aws:iam::123456789012:role/BreakGlass').describe('Break-glass principals (exact IAM role, user or account-root ARNs, no wildcards) allowed to write the documents bucket besides the sync Lambda; nobody else can.'),
  errorCachingTtlSeconds: numberIn(0, 300, 'give whole seconds between 0 and 300').default(CONFIG_DEFAULTS.errorCachingTtlSeconds).describe('How long CloudFront caches a 403, 404 or 5xx answer of the origin (0 to 300 seconds). 0 by default: an error cached at an edge would keep failing AssumeRoleWithWebIdentity after the documents are back, and caching errors of two tiny documents saves nothing; raise it only to shield the origin during an outage.'),
}, 'write {"documentWriterArns": [], "errorCachingTtlSeconds": 0}');

// ===== Verify API =====

const THROTTLE_EXAMPLE = 'write {"rateLimit": 50, "burstLimit": 100}';
const rateLimit = numberIn(1, 10000, 'give requests per second between 1 and 10000', { fractions: true }).describe('Requests per second, 1 to 10000.');
const burstLimit = numberIn(1, 5000, 'give a whole number of requests between 1 and 5000').describe('Burst of requests, 1 to 5000.');

const routeThrottle = (route: string) => section({ rateLimit, burstLimit }, THROTTLE_EXAMPLE)
  .optional().describe(`Throttle of the ${route} route(s). When absent: the stage throttle applies.`);

/**
 * The settings of a verifier, shared by a cluster's Verify API and a fleet verifier: the audience
 * policy, caller bindings, throttles and the verifier's own limits.
 */
const verifierSettings = {
  audiences: stringList().optional().describe('Audiences callers may ask about; unique. Required (non-empty) when enabled. Never `sts.amazonaws.com`, one of the cluster\'s `audiences`, or an API-server audience (the issuer by default; with the default domain anything like `https://*.cloudfront.net`) unless `allowSharedAudiences`: a service accepting those could be handed any token meant for AWS or for the Kubernetes API. When absent: none.'),
  defaultAudiences: stringList().optional().describe('Audiences used when a request names none; a non-empty subset of `audiences`. When absent: all of `audiences`.'),
  allowSharedAudiences: flag(CONFIG_DEFAULTS.allowSharedAudiences, '`true` lifts the audience rule of `audiences`, knowingly.'),
  iamAuth: flag(CONFIG_DEFAULTS.iamAuth, 'Require SigV4 (IAM) signatures on every route (`$default` included); callers need `execute-api:Invoke` on the API.'),
  callerAudiences: z.record(z.string(), stringList(z.string(), 'list the audiences this caller may ask about'), withFix('write {"arn:aws:iam::123456789012:role/Billing": ["billing.example.com"]}'))
    .optional().describe('`{"<role or user ARN>": ["aud", ...]}`: the audiences each caller may ask about. Needs `iamAuth`. Role ARNs without a path (sessions do not carry it); each audience must be in `audiences`. When absent: every caller may ask about every audience.'),
  throttle: section({
    rateLimit: rateLimit.default(CONFIG_DEFAULTS.rateLimit),
    burstLimit: burstLimit.default(CONFIG_DEFAULTS.burstLimit),
  }, THROTTLE_EXAMPLE).prefault({}).describe('API Gateway stage throttling (the default route).'),
  routeThrottles: section({
    verify: routeThrottle('`POST /verify`'),
    tokenReview: routeThrottle('TokenReview (`POST /apis/authentication.k8s.io/v1/tokenreviews`)'),
    auth: routeThrottle('forward-auth (`ANY /auth`, `ANY /auth/{proxy+}`)'),
  }, 'write {"verify": {"rateLimit": 50, "burstLimit": 100}}').optional().describe('Per-route throttles, each `{rateLimit, burstLimit}` (both required). When absent: every route uses `throttle`.'),
  clockSkewSeconds: numberIn(0, 300, 'give whole seconds between 0 and 300').default(CONFIG_DEFAULTS.clockSkewSeconds)
    .describe('Clock skew allowed on `exp`, `nbf` and `iat` (0 to 300 seconds).'),
  maxTokenLifetimeSeconds: numberIn(600, 31622400, 'give whole seconds between 600 (kube\'s minimum token lifetime) and 31622400 (366 days), or remove it').optional().describe('Refuse tokens whose `exp - iat` is longer (600 to 31622400 seconds), for example one-year extended tokens. A warning is printed when it exceeds `rotation.gracePeriodSeconds`. When absent: no limit.'),
  maxTokenBytes: numberIn(1024, 65536, 'give bytes between 1024 and 65536').default(CONFIG_DEFAULTS.maxTokenBytes).describe('Longest token accepted, in bytes (1024 to 65536).'),
  keysTtlSeconds: numberIn(1, 3600, 'give whole seconds between 1 and 3600').default(CONFIG_DEFAULTS.keysTtlSeconds).describe('How long the verifier caches the key set (1 to 3600 seconds).'),
  unknownKidCooldownSeconds: numberIn(30, 3600, 'give whole seconds between 30 and 3600: a shorter cooldown lets a flood of random kids cause a key fetch per request')
    .default(CONFIG_DEFAULTS.unknownKidCooldownSeconds).describe('At most one key refetch per this period for unknown kids (30 to 3600 seconds).'),
  staleWindowSeconds: numberIn(60, 86400, 'give whole seconds between 60 and 86400').default(CONFIG_DEFAULTS.staleWindowSeconds).describe('How long a cached key set is used while the bucket is unreachable, then 503 (60 to 86400 seconds, at least `keysTtlSeconds`).'),
};

/** The rules inside a verifier's settings; `prefix` names the section in messages (`verifyApi.`). */
function checkVerifierSettings(value: z.output<z.ZodObject<typeof verifierSettings>>, ctx: Ctx, prefix: string, noAudience?: readonly [string, string], issuerAudiences: readonly string[] = []): void {
  const audiences = value.audiences ?? [];
  if (audiences.length === 0 && noAudience) report(ctx, ['audiences'], value.audiences, ...noAudience);
  checkAudienceList(ctx, [], audiences, value.defaultAudiences, audiences, `${prefix}audiences`);
  if (value.callerAudiences) checkCallerAudiences(ctx, value.callerAudiences, [...audiences, ...issuerAudiences], value.iamAuth, prefix);
  if (value.staleWindowSeconds < value.keysTtlSeconds) {
    report(ctx, ['staleWindowSeconds'], value.staleWindowSeconds, `is shorter than keysTtlSeconds (${value.keysTtlSeconds})`, 'make the stale window at least as long as the key cache TTL');
  }
}

/**
 * Audiences and their defaults at `at`: no empty or repeated audience; defaults a non-empty subset
 * of `within`, which messages call `withinName`.
 */
function checkAudienceList(ctx: Ctx, at: readonly (string | number)[], audiences: readonly string[] | undefined, defaults: readonly string[] | undefined, within: readonly string[], withinName: string): void {
  audiences?.forEach((aud, i) => { if (aud === '') report(ctx, [...at, 'audiences', i], aud, 'is empty', 'remove it'); });
  reportRepeats(ctx, audiences ?? [], (aud) => aud, (i) => [...at, 'audiences', i]);
  defaults?.forEach((aud, i) => {
    if (!within.includes(aud)) report(ctx, [...at, 'defaultAudiences', i], aud, `is not in ${withinName}`, `default audiences must be a subset of ${withinName}`);
  });
  if (defaults?.length === 0) report(ctx, [...at, 'defaultAudiences'], [], 'is empty', 'remove defaultAudiences (all audiences become the default) or list some');
}

function checkCallerAudiences(ctx: Ctx, callers: Record<string, string[]>, audiences: readonly string[], iamAuth: boolean, prefix: string): void {
  if (!iamAuth) report(ctx, ['callerAudiences'], callers, `needs ${prefix}iamAuth: without IAM authorization the caller is unknown`, `set ${prefix}iamAuth to true, or remove callerAudiences`);
  for (const [arn, list] of Object.entries(callers)) {
    const at = ['callerAudiences', arn];
    if (!IAM_PRINCIPAL_ARN.test(arn) || arn.endsWith(':root')) {
      report(ctx, at, list, 'is not keyed by an IAM role or user ARN', 'key each entry by the caller\'s role or user ARN, e.g. "arn:aws:iam::123456789012:role/Billing"');
    } else if (/:role\/.+\//.test(arn)) {
      // A caller's session ARN (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION) carries no role path.
      report(ctx, at, list, 'is a role ARN with a path, which assumed-role sessions do not carry', 'key the entry by arn:aws:iam::ACCOUNT:role/NAME, without the path');
    } else if (list.length === 0) {
      report(ctx, at, list, 'is empty', 'list at least one audience, or remove the caller');
    } else {
      list.forEach((aud, i) => {
        if (!audiences.includes(aud)) report(ctx, [...at, i], aud, `is not in ${prefix}audiences${prefix === '' ? ' or an issuer\'s own audiences' : ''}`, `add it to ${prefix}audiences or remove it here`);
      });
    }
  }
}

/** Absent audiences are none; absent default audiences are all of them. */
function withAudienceDefaults<T extends { audiences?: string[]; defaultAudiences?: string[] }>({ audiences, defaultAudiences, ...rest }: T) {
  return { ...rest, audiences: audiences ?? [], defaultAudiences: defaultAudiences ?? audiences ?? [] };
}

const verifyApi = section({
  enabled: flag(CONFIG_DEFAULTS.verifyApiEnabled, '`false` creates no API and no verifier Lambda.'),
  ...verifierSettings,
}, 'write {"enabled": true, "audiences": ["verify.example.com"]}')
  .superRefine((value, ctx) => checkVerifierSettings(value, ctx, 'verifyApi.', value.enabled
    ? ['lists no audience while the Verify API is enabled', 'list the audiences callers may verify (e.g. ["verify.prod.example.com"]), or set verifyApi.enabled to false']
    : undefined))
  .transform(withAudienceDefaults);

// ===== Cluster =====

const providerAudiences = stringList(z.string()
  .min(1, rule('is empty', 'remove it'))
  .max(MAX_AUDIENCE_LENGTH, rule(`is longer than ${MAX_AUDIENCE_LENGTH} characters`, 'use a shorter client ID'))
  .refine((aud) => !(/^sts\.amazon\.com$/i.test(aud) || (/^sts\.amazonaws\.com$/i.test(aud) && aud !== STS_AUDIENCE)),
    rule(`is not ${JSON.stringify(STS_AUDIENCE)}`, `write ${JSON.stringify(STS_AUDIENCE)} exactly: STS refuses any other spelling with "Incorrect token audience"`)))
  .min(1, withFix(`list at least one client ID (usually ${JSON.stringify(STS_AUDIENCE)})`))
  .max(MAX_PROVIDER_AUDIENCES, {
    abort: true,
    error: (iss: RawIssue) => problemText(`has ${Array.isArray(iss.input) ? iss.input.length : 'too many'} entries, more than IAM's ${MAX_PROVIDER_AUDIENCES}`, `keep at most ${MAX_PROVIDER_AUDIENCES} client IDs`),
  })
  .superRefine((list, ctx) => reportRepeats(ctx, list, (aud) => aud, (i) => [i]));

const env = (stack: string) => section({
  account: accountId('123456789012').optional().describe('The AWS account id of the stack. When absent: the account of the credentials at deploy time.'),
  region: regionName().optional().describe('The AWS region of the stack. CloudFront access logs need the stack in us-east-1. When absent: the region of the credentials at deploy time.'),
}, 'write {"account": "123456789012", "region": "eu-west-1"} or remove env for an environment-agnostic stack')
  .optional().describe(`Deployment environment of the ${stack}. When absent: an environment-agnostic stack.`);

const federationAccount = section({
  account: accountId('222222222222', 'give the 12-digit account id that holds the roles, e.g. "222222222222"').describe('The AWS account that holds the roles. A federation stack `OidcFederation-<cluster>-<account>` creates the IAM OIDC provider for the cluster\'s issuer there (or imports one) and the roles.'),
  region: regionName().optional().describe('Region of the federation stack (IAM is global; the stack still needs one to deploy). When absent: the cluster\'s `env.region`, else the region of the credentials at deploy time.'),
  existingOidcProviderArn: providerArn(' in that account').optional().describe('The IAM OIDC provider of this issuer already registered in that account (IAM allows one per URL), imported instead of created. When absent: the federation stack creates it.'),
  roleIds: stringList(z.string(), 'list the ids of the serviceAccountRoles to create in this account')
    .min(1, withFix('list the ids of the serviceAccountRoles to create in this account, or remove the account'))
    .describe('Ids of the cluster\'s `serviceAccountRoles` created in this account instead of the cluster\'s own stack; each role goes to one account at most.'),
}, 'write {"account": "222222222222", "roleIds": ["payments-api"]}')
  .describe('An AWS account that holds some of the cluster\'s roles.');

const federationAccounts = z.array(federationAccount).superRefine((list, ctx) => {
  reportRepeats(ctx, list, (entry) => entry.account, (i) => [i, 'account'], (first) => `duplicates federationAccounts[${first}].account`, 'list each account once, with all of its roleIds');
  const roleIds = list.flatMap((entry, i) => entry.roleIds.map((id, j) => ({ id, i, j })));
  reportRepeats(ctx, roleIds, (at) => at.id, (n) => [roleIds[n].i, 'roleIds', roleIds[n].j],
    (first, n) => (roleIds[first].i === roleIds[n].i ? 'is listed twice' : `is already in federationAccounts[${roleIds[first].i}].roleIds`),
    'give each role one account: a role id names one role and one stack output');
});

/** One cluster as written in the file, with the defaults of the schema applied. */
export const clusterSchema = section({
  name: dnsName('cluster', 'prod-eu', 'OidcCluster-<name>').describe('DNS-safe name: lowercase letters, digits and `-`, starting and ending with a letter or digit; at most 40 characters; unique in the file. The stack is `OidcCluster-<name>`.'),
  env: env('cluster\'s stack; pin both for production'),
  issuer: issuer.optional().transform((value) => value ?? { kind: 'cloudFrontDefault' as const }).describe('Where the issuer lives: a custom domain served by CloudFront (recommended: the issuer must never change under a running cluster). When absent: the distribution\'s own `https://dXXXX.cloudfront.net` domain, known after the first deployment and retained for good.'),
  audiences: providerAudiences.default([...CONFIG_DEFAULTS.audiences]).describe('Client IDs of the IAM OIDC provider: 1 to 100, each up to 255 characters, no duplicates. `sts.amazon.com` and other misspellings of `sts.amazonaws.com` are refused (STS answers "Incorrect token audience").'),
  existingOidcProviderArn: providerArn().optional().describe('Import an existing IAM OIDC provider (IAM allows one per URL). It must be the provider of this issuer (`arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]` equal to the issuer without `https://`); with the default domain a `*.cloudfront.net` provider. `audiences` are then not applied (a warning says so). When absent: a provider is created.'),
  apiServerAudiences: stringList(z.string().min(1, rule('is empty', 'remove it or give the audience kube-apiserver accepts (--api-audiences)'))).optional().describe('Audiences kube-apiserver accepts (`--api-audiences`, which defaults to the issuer). Only used to refuse them as Verify API audiences. When absent: `[issuer URL]` with a custom domain, `[]` with the default domain (then any `https://*.cloudfront.net` Verify API audience is refused instead).'),
  keySources: keySources.describe('Every key source of the cluster (at least one); the published set is their union, plus retired keys inside their grace period.'),
  serviceAccountRoles: roles.default([]).describe('IAM roles assumable by service accounts of the cluster (self-hosted IRSA).'),
  federationAccounts: federationAccounts.default([]).describe('Other AWS accounts that hold some of the cluster\'s roles (an IAM role trusts web identities only through a provider in its own account). Needs a custom-domain issuer: those stacks need the issuer URL at synth time.'),
  issuerSite: issuerSite.prefault({}).describe('The issuer site: the documents bucket and its CloudFront distribution.'),
  rotation: rotation.prefault({}).describe('Rotation policy of the published key set.'),
  sync: sync.prefault({}).describe('Schedule and caching of the published documents.'),
  verifyApi: verifyApi.prefault({}).describe('The token Verify API (TokenReview, `/verify`, forward auth).'),
  alarms: alarms('cluster'),
}, 'write each cluster as {"name": "...", "keySources": {...}, ...}')
  .transform((cluster) => ({
    ...cluster,
    apiServerAudiences: cluster.apiServerAudiences ?? (cluster.issuer.kind === 'customDomain' ? [cluster.issuer.url] : []),
    serviceAccountRoles: cluster.serviceAccountRoles.map((r) => ({ ...r, audience: r.audience ?? cluster.audiences[0] })),
  }))
  .describe('One cluster: it becomes the stack `OidcCluster-<name>`.');

// ===== Fleet verifiers =====

/** A trusted issuer's own audiences, instead of the fleet's, for its tokens. */
const ownAudiences = {
  audiences: stringList().min(1, withFix('list this issuer\'s audiences, or remove audiences to use the fleet\'s')).optional().describe(
    'Audiences callers may ask about for this issuer\'s tokens, instead of the fleet\'s `audiences`; unique, under the same audience rule. When absent: the fleet\'s.'),
  defaultAudiences: stringList().optional().describe(
    'Audiences used for this issuer\'s tokens when a request names none; a non-empty subset of this issuer\'s audiences. When absent: this issuer\'s `audiences` when given, else the fleet\'s default audiences.'),
};

const externalIssuer = section({
  url: issuerUrl('The issuer URL, byte for byte as its tokens\' `iss` (an EKS cluster: `https://oidc.eks.REGION.amazonaws.com/id/ID`); its keys are found through its discovery document. Same rules as `issuer.url`.'),
  name: dnsName('external issuer', 'eks-prod').optional().describe('The name answers give as `cluster` for this issuer\'s tokens; distinct from the fleet\'s cluster names. When absent: answers carry the issuer only.'),
  jwksUrl: z.string()
    .regex(/^https:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/, rule('is not an https URL without query, fragment or user information', 'give e.g. "https://oidc.example.net/keys", or remove jwksUrl to use discovery'))
    .optional().describe('Fetch the keys from this URL instead of the `jwks_uri` of the issuer\'s discovery document. When absent: discovery.'),
  caBundlePem: caBundle('the CA that issued the certificate of the issuer (and of jwksUrl)').describe(
    'PEM CA bundle to trust for the discovery document and the keys, for an issuer served with a private CA. When absent: the public roots.'),
  ...ownAudiences,
}, 'write {"url": "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", "name": "eks-prod"}')
  .describe('An issuer that is not a cluster of this file.');

/** What a fleet knows of a trusted cluster beyond its name. */
type TrustedClusterEntry = { name: string; privateBucketName?: string; audiences?: string[]; defaultAudiences?: string[] };

/** A fleet's trusted cluster: its name, or an object with its name and, in another account, its private bucket. */
const trustedCluster = z.union([z.string(), section({
  name: z.string().describe('The cluster\'s `name` in this file.'),
  // Not aborting: the union then reports this problem rather than "neither a name nor an object".
  privateBucketName: z.string().regex(BUCKET_NAME, { error: () => problemText('is not an S3 bucket name', 'give the cluster stack\'s PrivateBucketName output (3 to 63 lowercase letters, digits, dots and hyphens)') })
    .optional().meta({
      description: 'The cluster\'s private bucket (its stack\'s `PrivateBucketName` output), for a cluster in another account of the fleet\'s region: the fleet verifier reads its deny list, and the cluster stack grants that read to the fleet\'s role in its bucket policy. Only for clusters in another account of the same region. When absent: the deny list is read from the cluster\'s stack in the fleet\'s account, or not at all.',
      pattern: BUCKET_NAME.source,
    }),
  ...ownAudiences,
}, 'write {"name": "prod-eu", "privateBucketName": "..."}')], {
  error: () => problemText('is neither a cluster name nor {"name", ...}', 'write "prod-eu", or {"name": "prod-eu", "privateBucketName": "..."} for a cluster in another account'),
}).transform((entry): TrustedClusterEntry => (typeof entry === 'string' ? { name: entry } : entry))
  .describe('A cluster name, or `{"name": ..., "privateBucketName": ..., "audiences": [...]}`.');

export const fleetVerifierSchema = section({
  name: dnsName('fleet verifier', 'fleet', 'OidcFleet-<name>').describe('DNS-safe name, at most 40 characters, unique among fleet verifiers. The stack is `OidcFleet-<name>`.'),
  env: env('fleet\'s stack'),
  clusters: z.array(trustedCluster).default([]).describe('Clusters of this file whose tokens the fleet accepts: a name, or an object with the name and `privateBucketName` for a cluster in another account whose deny list the fleet reads, or the cluster\'s own `audiences`. Keys come from a cluster\'s documents bucket in the same account and region, or from its published issuer elsewhere (which needs a custom-domain issuer).'),
  externalIssuers: z.array(externalIssuer).default([]).describe('Other Kubernetes issuers whose tokens the fleet accepts, by URL.'),
  ...verifierSettings,
  audiences: stringList(z.string(), 'list the audiences callers may verify (e.g. ["verify.example.com"])')
    .min(1, withFix('list the audiences callers may verify (e.g. ["verify.example.com"])')).describe('Audiences callers may ask about; at least one, unique. Never `sts.amazonaws.com`, a client ID or API-server audience of a trusted cluster, or an external issuer\'s URL (kube-apiserver\'s default API audience), unless `allowSharedAudiences`.'),
  alarms: alarms('fleet'),
}, 'write {"name": "fleet", "clusters": ["prod"], "audiences": ["verify.example.com"]}')
  .superRefine((value, ctx) => {
    const issuers = [...value.clusters.map((own, i) => ({ own, at: ['clusters', i] })), ...value.externalIssuers.map((own, i) => ({ own, at: ['externalIssuers', i] }))];
    for (const { own, at } of issuers) {
      checkAudienceList(ctx, at, own.audiences, own.defaultAudiences, own.audiences ?? value.audiences, own.audiences ? 'this issuer\'s audiences' : 'audiences');
    }
    checkVerifierSettings(value, ctx, '', undefined, issuers.flatMap(({ own }) => own.audiences ?? []));
    if (value.clusters.length === 0 && value.externalIssuers.length === 0) {
      report(ctx, ['clusters'], value.clusters, 'names no cluster, and externalIssuers is empty', 'list the clusters (or external issuers) whose tokens the fleet accepts');
    }
    reportRepeats(ctx, value.clusters, (entry) => entry.name, (i) => ['clusters', i]);
    reportRepeats(ctx, value.externalIssuers, (issuer) => issuer.url, (i) => ['externalIssuers', i, 'url']);
    reportRepeats(ctx, value.externalIssuers, (issuer) => issuer.name, (i) => ['externalIssuers', i, 'name'], () => 'is used twice', 'give every external issuer a distinct name');
  })
  .transform(withAudienceDefaults)
  .describe('A Verify API that accepts tokens of several issuers: clusters of this file and external issuers.');

/** One fleet verifier as parsed by the schema. */
export type FleetShape = z.output<typeof fleetVerifierSchema>;
/** One cluster as parsed by the schema: every static and derived default applied, key entries not yet read. */
export type ClusterShape = z.output<typeof clusterSchema>;

/** The whole file. */
export const configFileSchema = z.strictObject({
  $schema: z.string().optional().describe('The JSON Schema of this file, for editors: the path of clusters.schema.json relative to the file. Ignored by validation. When absent: editors do not check the file.'),
  $comment: comment,
  clusters: z.array(clusterSchema).min(1, withFix('declare at least one cluster')).describe('The clusters of this deployment; each becomes one stack.'),
  fleetVerifiers: z.array(fleetVerifierSchema).default([]).describe('Verify APIs that accept tokens of several clusters and external issuers; each becomes the stack `OidcFleet-<name>`.'),
}, {
  error: (iss: RawIssue) => (iss.code === 'unrecognized_keys'
    ? unknownFields(iss.keys, ['clusters', 'fleetVerifiers', '$schema'])
    : problemText('must be a JSON object with a "clusters" array', 'write {"clusters": [{"name": "...", ...}]}')),
}).meta({
  title: 'kube-oidc-aws cluster configuration',
  description: 'The clusters that get an OIDC identity on AWS (config/clusters.json). See docs/configuration.md.',
});

/**
 * The JSON Schema of the configuration file (draft-07, what editors support best), generated from
 * the zod definition: the input side, so defaulted fields are optional and carry their `default`.
 */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configFileSchema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    // zod leaves out the default of a field whose type transforms its input (a section drops
    // `$comment`), although the default is a valid input too: put it back.
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def;
      if (def.type === 'default' && jsonSchema.default === undefined) jsonSchema.default = (def as z.core.$ZodDefaultDef).defaultValue;
    },
  }) as Record<string, unknown>;
}
