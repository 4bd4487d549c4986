/**
 * The rehearsal's IAM evaluator and request map on their own (no moto): a missing permission must
 * fail the rehearsal, so the evaluator is proven to refuse what a policy does not grant.
 */
import { evaluate, iamCallOf, PolicyDocument, RecordedRequest, wildcardMatch } from '../support/rehearsal/iam';

const SITE = { accountId: '123456789012', region: 'us-east-1', partition: 'aws' };
const SYNC_ROLE = 'arn:aws:iam::123456789012:role/OidcCluster-JwksSyncRole-ABC';
const WRITER = 'arn:aws:iam::123456789012:role/KeyPublisher';
const sync = { type: 'AWS' as const, id: SYNC_ROLE };

const syncPolicy: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'ReadKeysStateAndDenyList', Effect: 'Allow', Action: 's3:GetObject', Resource: ['arn:aws:s3:::private/state/rotation.json', 'arn:aws:s3:::private/keys/*'] },
    { Sid: 'ListUploadedKeys', Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::private', Condition: { StringLike: { 's3:prefix': ['keys/', 'keys/*'] } } },
    { Sid: 'WriteTheTwoDocumentsAndState', Effect: 'Allow', Action: 's3:PutObject', Resource: ['arn:aws:s3:::docs/openid/v1/jwks', 'arn:aws:s3:::private/state/rotation.json'] },
    { Sid: 'InvalidateTheIssuerDistribution', Effect: 'Allow', Action: 'cloudfront:CreateInvalidation', Resource: 'arn:aws:cloudfront::123456789012:distribution/E123' },
  ],
};
const privateBucketPolicy: PolicyDocument = {
  Statement: [
    { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: ['arn:aws:s3:::private', 'arn:aws:s3:::private/*'], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    { Sid: 'OnlyTheSyncChangesState', Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:PutObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::private/state/*', Condition: { ArnNotEquals: { 'aws:PrincipalArn': [SYNC_ROLE] } } },
    { Sid: 'NamedWritersManageKeys', Effect: 'Allow', Principal: { AWS: [WRITER] }, Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws:s3:::private/keys/*' },
  ],
};
const https = { 'aws:SecureTransport': 'true' };

function withoutStatement(document: PolicyDocument, sid: string): PolicyDocument {
  const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
  return { ...document, Statement: statements.filter((statement) => statement.Sid !== sid) };
}

describe('the rehearsal\'s IAM evaluator', () => {
  it('refuses an action the policy lacks, and allows it once the statement is there', () => {
    const request = { principal: sync, action: 'cloudfront:CreateInvalidation', resource: 'arn:aws:cloudfront::123456789012:distribution/E123', context: https };
    expect(evaluate({ identity: [syncPolicy], resource: [] }, request)).toEqual({ decision: 'allow', statement: 'InvalidateTheIssuerDistribution' });
    expect(evaluate({ identity: [withoutStatement(syncPolicy, 'InvalidateTheIssuerDistribution')], resource: [] }, request).decision).toBe('implicit-deny');
  });

  it('matches resources exactly or by wildcard, and actions case-insensitively', () => {
    const ask = (action: string, resource: string) => evaluate({ identity: [syncPolicy], resource: [] }, { principal: sync, action, resource, context: https }).decision;
    expect(ask('s3:GetObject', 'arn:aws:s3:::private/keys/cluster-a.pub')).toBe('allow');
    expect(ask('S3:getobject', 'arn:aws:s3:::private/keys/cluster-a.pub')).toBe('allow');
    expect(ask('s3:GetObject', 'arn:aws:s3:::private/control/deny-list.json')).toBe('implicit-deny');
    expect(ask('s3:PutObject', 'arn:aws:s3:::docs/.well-known/openid-configuration')).toBe('implicit-deny');
    expect(ask('s3:DeleteObject', 'arn:aws:s3:::private/keys/cluster-a.pub')).toBe('implicit-deny');
    expect(wildcardMatch('s3:Get*', 's3:GetObjectVersion', true)).toBe(true);
    expect(wildcardMatch('arn:aws:s3:::b/key?', 'arn:aws:s3:::b/key1', false)).toBe(true);
    expect(wildcardMatch('arn:aws:s3:::b/key?', 'arn:aws:s3:::b/key12', false)).toBe(false);
    expect(wildcardMatch('arn:aws:s3:::b/a.b', 'arn:aws:s3:::b/aXb', false)).toBe(false);
  });

  it('evaluates conditions: a listing outside the granted prefix is refused', () => {
    const list = (prefix: string) => evaluate({ identity: [syncPolicy], resource: [] }, { principal: sync, action: 's3:ListBucket', resource: 'arn:aws:s3:::private', context: { ...https, 's3:prefix': prefix } }).decision;
    expect(list('keys/')).toBe('allow');
    expect(list('keys/sub/')).toBe('allow');
    expect(list('')).toBe('implicit-deny');
    expect(list('state/')).toBe('implicit-deny');
  });

  it('lets an explicit Deny of a bucket policy win, and applies ArnNotEquals to everyone but the named principal', () => {
    const put = (principal: string, context: Record<string, string>) => evaluate(
      { identity: principal === SYNC_ROLE ? [syncPolicy] : [{ Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }], resource: [privateBucketPolicy] },
      { principal: { type: 'AWS', id: principal }, action: 's3:PutObject', resource: 'arn:aws:s3:::private/state/rotation.json', context: { ...context, 'aws:PrincipalArn': principal } },
    );
    expect(put(SYNC_ROLE, https).decision).toBe('allow');
    expect(put(WRITER, https)).toEqual({ decision: 'explicit-deny', statement: 'OnlyTheSyncChangesState' });
    expect(put(SYNC_ROLE, { 'aws:SecureTransport': 'false' }).decision).toBe('explicit-deny');
  });

  it('lets a resource policy grant the principal it names, and no other', () => {
    const upload = (principal: string) => evaluate({ identity: [], resource: [privateBucketPolicy] }, {
      principal: { type: 'AWS', id: principal }, action: 's3:PutObject', resource: 'arn:aws:s3:::private/keys/new.pub', context: { ...https, 'aws:PrincipalArn': principal },
    }).decision;
    expect(upload(WRITER)).toBe('allow');
    expect(upload('arn:aws:iam::123456789012:role/Intruder')).toBe('implicit-deny');
  });

  it('fails loudly on a condition operator it cannot judge', () => {
    const policy: PolicyDocument = { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }] };
    expect(() => evaluate({ identity: [policy], resource: [] }, { principal: sync, action: 's3:GetObject', resource: 'arn:aws:s3:::x/y', context: {} })).toThrow(/DateGreaterThan is not supported/);
  });
});

describe('recorded AWS requests as IAM actions', () => {
  const request = (method: string, url: string, service: string | undefined, extra: Partial<RecordedRequest> = {}): RecordedRequest => ({ method, url, headers: {}, body: Buffer.alloc(0), ...(service ? { signedService: service } : {}), ...extra });

  it('maps path-style S3 object and listing calls, with the listing prefix as a condition key', () => {
    expect(iamCallOf(request('GET', '/private/keys/a%20b.pub?x-id=GetObject', 's3'), SITE)).toMatchObject({ action: 's3:GetObject', resource: 'arn:aws:s3:::private/keys/a b.pub' });
    expect(iamCallOf(request('HEAD', '/private/keys/a.pub', 's3'), SITE).action).toBe('s3:GetObject');
    expect(iamCallOf(request('PUT', '/docs/openid/v1/jwks?x-id=PutObject', 's3'), SITE)).toMatchObject({ action: 's3:PutObject', resource: 'arn:aws:s3:::docs/openid/v1/jwks' });
    expect(iamCallOf(request('DELETE', '/private/keys/a.pub?versionId=3', 's3'), SITE).action).toBe('s3:DeleteObjectVersion');
    expect(iamCallOf(request('GET', '/private/?list-type=2&prefix=keys%2F', 's3'), SITE)).toMatchObject({ action: 's3:ListBucket', resource: 'arn:aws:s3:::private', context: { 's3:prefix': 'keys/' } });
  });

  it('maps CloudFront invalidations, SNS publishes, SSM and Secrets Manager reads, and STS calls', () => {
    expect(iamCallOf(request('POST', '/2020-05-31/distribution/E123/invalidation', 'cloudfront'), SITE)).toMatchObject({ action: 'cloudfront:CreateInvalidation', resource: 'arn:aws:cloudfront::123456789012:distribution/E123' });
    expect(iamCallOf(request('POST', '/', 'sns', { body: Buffer.from('Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aalarms&Message=x') }), SITE))
      .toMatchObject({ action: 'sns:Publish', resource: 'arn:aws:sns:us-east-1:123456789012:alarms' });
    expect(iamCallOf(request('POST', '/', 'ssm', { headers: { 'x-amz-target': 'AmazonSSM.GetParameter' }, body: Buffer.from('{"Name":"/kube/token","WithDecryption":true}') }), SITE))
      .toMatchObject({ action: 'ssm:GetParameter', resource: 'arn:aws:ssm:us-east-1:123456789012:parameter/kube/token' });
    expect(iamCallOf(request('POST', '/', 'secretsmanager', { headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' }, body: Buffer.from('{"SecretId":"arn:aws:secretsmanager:us-east-1:123456789012:secret:t-AbCdEf"}') }), SITE).action)
      .toBe('secretsmanager:GetSecretValue');
    expect(iamCallOf(request('POST', '/', 'sts', { body: Buffer.from('Action=GetCallerIdentity&Version=2011-06-15') }), SITE).kind).toBe('always-allowed');
    expect(iamCallOf(request('POST', '/', undefined, { body: Buffer.from('Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&WebIdentityToken=x') }), SITE))
      .toMatchObject({ action: 'sts:AssumeRoleWithWebIdentity', resource: 'arn:aws:iam::123456789012:role/r', kind: 'trust-policy' });
  });

  it('refuses to guess: an unknown request names itself', () => {
    expect(() => iamCallOf(request('PUT', '/private?versioning', 's3'), SITE)).toThrow(/cannot map to IAM: PUT \/private\?versioning/);
    expect(() => iamCallOf(request('POST', '/', 'sns', { body: Buffer.from('Action=Subscribe') }), SITE)).toThrow(/SNS request/);
    expect(() => iamCallOf(request('POST', '/', 'lambda'), SITE)).toThrow(/cannot map to IAM/);
  });
});
