/**
 * A small IAM policy evaluator and the map from recorded AWS API requests to IAM actions and
 * resource ARNs, so the rehearsal can check every call a handler made against the policies the
 * template gives its role: a permission missing from the template fails here, not after deploy.
 *
 * Evaluation follows AWS's order for a principal and a resource in the same account: an explicit
 * Deny in any policy wins; otherwise an Allow in an identity policy or in a resource policy
 * naming the principal allows; otherwise the implicit deny. Supported: Action/NotAction and
 * Resource/NotResource with `*` and `?` wildcards, Principal, and the condition operators listed
 * in {@link CONDITION_OPERATORS} (with `IfExists`). An operator it does not know throws, so a
 * policy it cannot judge fails loudly instead of passing. Not modelled: permission boundaries,
 * SCPs, session policies, policy variables, `ForAnyValue`/`ForAllValues`, KMS key policies.
 */

/** One statement of a policy document, as in the template (values resolved). */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Principal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** A policy document. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
}

/** Who asks: an IAM role (for its sessions), a service, or a federated identity provider. */
export interface Principal {
  readonly type: 'AWS' | 'Service' | 'Federated';
  /** Role ARN, service name (`cloudfront.amazonaws.com`), or provider ARN. */
  readonly id: string;
}

/** One authorization question. */
export interface AuthorizationRequest {
  readonly principal: Principal;
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request (`s3:prefix`, `aws:SecureTransport`, ...). */
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

/** The answer, with the statement that decided it. */
export interface Decision {
  readonly decision: 'allow' | 'explicit-deny' | 'implicit-deny';
  /** Sid (or index) of the deciding statement. */
  readonly statement?: string;
}

/** The policies that apply to one request. */
export interface ApplicablePolicies {
  /** Identity policies of the principal (inline and attached). */
  readonly identity: readonly PolicyDocument[];
  /** Resource policies of the resource (bucket policy, role trust policy). */
  readonly resource: readonly PolicyDocument[];
}

type Comparator = (requestValue: string, policyValue: string) => boolean;

/** The condition operators the evaluator understands. */
export const CONDITION_OPERATORS: Readonly<Record<string, { compare: Comparator; negated: boolean }>> = {
  StringEquals: { compare: (a, b) => a === b, negated: false },
  StringNotEquals: { compare: (a, b) => a === b, negated: true },
  StringEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  StringLike: { compare: (a, b) => wildcardMatch(b, a, false), negated: false },
  StringNotLike: { compare: (a, b) => wildcardMatch(b, a, false), negated: true },
  ArnEquals: { compare: (a, b) => a === b, negated: false },
  ArnNotEquals: { compare: (a, b) => a === b, negated: true },
  ArnLike: { compare: (a, b) => wildcardMatch(b, a, false), negated: false },
  ArnNotLike: { compare: (a, b) => wildcardMatch(b, a, false), negated: true },
  Bool: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  NumericLessThan: { compare: (a, b) => Number(a) < Number(b), negated: false },
  NumericLessThanEquals: { compare: (a, b) => Number(a) <= Number(b), negated: false },
  NumericGreaterThan: { compare: (a, b) => Number(a) > Number(b), negated: false },
  NumericGreaterThanEquals: { compare: (a, b) => Number(a) >= Number(b), negated: false },
};

/** IAM's wildcard match: `*` any run, `?` one character; actions compare case-insensitively. */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${escaped}$`, ignoreCase ? 'i' : '').test(value);
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function statementsOf(document: PolicyDocument): readonly PolicyStatement[] {
  return list(document.Statement);
}

function actionApplies(statement: PolicyStatement, action: string): boolean {
  if (statement.Action !== undefined) return list(statement.Action).some((pattern) => wildcardMatch(pattern, action, true));
  if (statement.NotAction !== undefined) return !list(statement.NotAction).some((pattern) => wildcardMatch(pattern, action, true));
  return false;
}

function resourceApplies(statement: PolicyStatement, resource: string): boolean {
  // Trust policies have no Resource: the role itself is the resource.
  if (statement.Resource === undefined && statement.NotResource === undefined) return true;
  if (statement.Resource !== undefined) return list(statement.Resource).some((pattern) => wildcardMatch(pattern, resource, false));
  return !list(statement.NotResource).some((pattern) => wildcardMatch(pattern, resource, false));
}

function principalApplies(statement: PolicyStatement, principal: Principal): boolean {
  if (statement.Principal === undefined) return false;
  if (statement.Principal === '*') return true;
  const ids = list(statement.Principal[principal.type]);
  if (ids.includes('*')) return true;
  if (ids.includes(principal.id)) return true;
  // An account root ARN (or a bare account id) names every principal of that account.
  const account = /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(principal.id)?.[1];
  return principal.type === 'AWS' && account !== undefined && (ids.includes(account) || ids.some((id) => id.endsWith(`:iam::${account}:root`)));
}

/** Whether every condition block of a statement holds for the request. */
export function conditionsHold(statement: PolicyStatement, context: AuthorizationRequest['context']): boolean {
  for (const [rawOperator, block] of Object.entries(statement.Condition ?? {})) {
    const ifExists = rawOperator.endsWith('IfExists');
    const operatorName = ifExists ? rawOperator.slice(0, -'IfExists'.length) : rawOperator;
    const operator = CONDITION_OPERATORS[operatorName];
    if (!operator) throw new Error(`condition operator ${rawOperator} is not supported by the rehearsal's IAM evaluator (statement ${statement.Sid ?? '?'})`);
    for (const [key, policyValue] of Object.entries(block)) {
      const requestValues = list(context[key] ?? context[Object.keys(context).find((name) => name.toLowerCase() === key.toLowerCase()) ?? '']);
      const policyValues = list(policyValue as string | string[]).map(String);
      if (requestValues.length === 0) {
        // A missing key: IfExists and negated operators hold, every other operator fails.
        if (ifExists || operator.negated) continue;
        return false;
      }
      const anyMatch = requestValues.some((requestValue) => policyValues.some((value) => operator.compare(requestValue, value)));
      if (operator.negated ? anyMatch : !anyMatch) return false;
    }
  }
  return true;
}

function appliesTo(statement: PolicyStatement, request: AuthorizationRequest, checkPrincipal: boolean): boolean {
  return actionApplies(statement, request.action)
    && resourceApplies(statement, request.resource)
    && (!checkPrincipal || principalApplies(statement, request.principal))
    && conditionsHold(statement, request.context);
}

/** Evaluates one request against the identity and resource policies that apply to it. */
export function evaluate(policies: ApplicablePolicies, request: AuthorizationRequest): Decision {
  const labelled = (document: PolicyDocument, isResource: boolean) => statementsOf(document).map((statement, index) => ({ statement, isResource, label: statement.Sid ?? `statement ${index}` }));
  const all = [...policies.identity.flatMap((document) => labelled(document, false)), ...policies.resource.flatMap((document) => labelled(document, true))];
  const deny = all.find(({ statement, isResource }) => statement.Effect === 'Deny' && appliesTo(statement, request, isResource));
  if (deny) return { decision: 'explicit-deny', statement: deny.label };
  const allow = all.find(({ statement, isResource }) => statement.Effect === 'Allow' && appliesTo(statement, request, isResource));
  if (allow) return { decision: 'allow', statement: allow.label };
  return { decision: 'implicit-deny' };
}

/** The IAM view of one recorded AWS API request. */
export interface IamCall {
  /** `s3:GetObject`, `cloudfront:CreateInvalidation`, ... */
  readonly action: string;
  readonly resource: string;
  readonly context: Record<string, string | string[]>;
  /** Calls every principal may make (STS GetCallerIdentity), and calls judged by a trust policy instead. */
  readonly kind: 'identity' | 'always-allowed' | 'trust-policy';
}

/** What {@link iamCallOf} needs to know about the request. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** Service of the SigV4 credential scope; `undefined` for unsigned calls. */
  readonly signedService?: string;
}

/** Where the calls were made. */
export interface CallSite {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
}

/**
 * Maps a recorded request (path-style S3, CloudFront REST, SNS/STS query, SSM/Secrets Manager
 * JSON) to its IAM action, resource ARN and request condition keys. A request it does not know
 * throws, naming it: the mapping must be extended on purpose, never guessed.
 *
 * `aws:SecureTransport` is `true` and `s3:TlsVersion` `1.3`: deployed, the SDK and the verifier's
 * signed GET reach AWS over TLS; only the rehearsal talks plain HTTP to moto on 127.0.0.1.
 */
export function iamCallOf(request: RecordedRequest, site: CallSite): IamCall {
  const [pathname, query = ''] = request.url.split('?');
  const params = new URLSearchParams(query);
  const transport = { 'aws:SecureTransport': 'true' };
  const describe = `${request.method} ${pathname}${query ? `?${query}` : ''} (${request.signedService ?? 'unsigned'})`;
  const formBody = () => new URLSearchParams(request.body.toString('utf8'));
  const jsonBody = () => JSON.parse(request.body.toString('utf8') || '{}') as Record<string, unknown>;
  const target = String(request.headers['x-amz-target'] ?? '');

  if (request.signedService === undefined) {
    const form = formBody();
    if (form.get('Action') === 'AssumeRoleWithWebIdentity') {
      return { action: 'sts:AssumeRoleWithWebIdentity', resource: form.get('RoleArn') ?? '', context: {}, kind: 'trust-policy' };
    }
    throw new Error(`unsigned AWS request the rehearsal cannot map to IAM: ${describe}`);
  }

  switch (request.signedService) {
    case 's3': {
      const [, bucket, ...rest] = pathname.split('/');
      const key = decodeURIComponent(rest.join('/'));
      const s3Context = { ...transport, 's3:TlsVersion': '1.3' };
      const subresources = [...params.keys()].filter((name) => !['list-type', 'prefix', 'continuation-token', 'max-keys', 'delimiter', 'start-after', 'encoding-type', 'x-id', 'fetch-owner', 'versionId'].includes(name));
      if (subresources.length > 0) throw new Error(`S3 sub-resource request the rehearsal cannot map to IAM: ${describe}`);
      if (!key) {
        if (request.method === 'GET') return { action: 's3:ListBucket', resource: `arn:${site.partition}:s3:::${bucket}`, context: { ...s3Context, 's3:prefix': params.get('prefix') ?? '' }, kind: 'identity' };
        throw new Error(`S3 bucket request the rehearsal cannot map to IAM: ${describe}`);
      }
      const objectArn = `arn:${site.partition}:s3:::${decodeURIComponent(bucket)}/${key}`;
      if (request.method === 'GET' || request.method === 'HEAD') return { action: params.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn, context: s3Context, kind: 'identity' };
      if (request.method === 'PUT' && request.headers['x-amz-copy-source'] === undefined) return { action: 's3:PutObject', resource: objectArn, context: s3Context, kind: 'identity' };
      if (request.method === 'DELETE') return { action: params.has('versionId') ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: objectArn, context: s3Context, kind: 'identity' };
      throw new Error(`S3 object request the rehearsal cannot map to IAM: ${describe}`);
    }
    case 'cloudfront': {
      const invalidation = /^\/\d{4}-\d{2}-\d{2}\/distribution\/([^/]+)\/invalidation$/.exec(pathname);
      if (invalidation && request.method === 'POST') {
        return { action: 'cloudfront:CreateInvalidation', resource: `arn:${site.partition}:cloudfront::${site.accountId}:distribution/${invalidation[1]}`, context: transport, kind: 'identity' };
      }
      throw new Error(`CloudFront request the rehearsal cannot map to IAM: ${describe}`);
    }
    case 'sns': {
      const form = formBody();
      if (form.get('Action') === 'Publish') return { action: 'sns:Publish', resource: form.get('TopicArn') ?? '', context: transport, kind: 'identity' };
      throw new Error(`SNS request the rehearsal cannot map to IAM: ${describe}`);
    }
    case 'sts': {
      const form = formBody();
      if (form.get('Action') === 'GetCallerIdentity') return { action: 'sts:GetCallerIdentity', resource: '*', context: transport, kind: 'always-allowed' };
      throw new Error(`STS request the rehearsal cannot map to IAM: ${describe}`);
    }
    case 'ssm': {
      if (target === 'AmazonSSM.GetParameter') {
        const name = String(jsonBody().Name ?? '');
        return { action: 'ssm:GetParameter', resource: `arn:${site.partition}:ssm:${site.region}:${site.accountId}:parameter/${name.replace(/^\//, '')}`, context: transport, kind: 'identity' };
      }
      throw new Error(`SSM request the rehearsal cannot map to IAM: ${describe}`);
    }
    case 'secretsmanager': {
      if (target === 'secretsmanager.GetSecretValue') return { action: 'secretsmanager:GetSecretValue', resource: String(jsonBody().SecretId ?? ''), context: transport, kind: 'identity' };
      throw new Error(`Secrets Manager request the rehearsal cannot map to IAM: ${describe}`);
    }
    default:
      throw new Error(`AWS request the rehearsal cannot map to IAM: ${describe}`);
  }
}
