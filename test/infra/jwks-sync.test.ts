import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { SYNC_METRICS } from '../../lib/constructs/jwks-sync';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { LAMBDA_RUNTIME } from '../../lib/private/node-function';
import { REPO_ROOT, SECRET_ARN, WRITER_ARN, defaultDomainCluster, fullCluster, resourcesOf, synthCluster } from './support/synth';
import type { Json, SynthesizedCluster } from './support/synth';

const logicalId = (stack: ClusterOidcStack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const objectArn = (bucketId: string, key: string) => ({ 'Fn::Join': ['', [getAtt(bucketId, 'Arn'), `/${key}`]] });

interface Ids { fn: string; role: string; logs: string; documents: string; private: string; distribution: string; topic: string; topicKey: string }
function idsOf({ stack }: SynthesizedCluster): Ids {
  return {
    fn: logicalId(stack, stack.jwksSync.function),
    role: logicalId(stack, stack.jwksSync.role),
    logs: logicalId(stack, stack.jwksSync.logGroup),
    documents: logicalId(stack, stack.issuerSite.documentsBucket),
    private: logicalId(stack, stack.issuerSite.privateBucket),
    distribution: logicalId(stack, stack.issuerSite.distribution),
    topic: logicalId(stack, stack.alarms.topic),
    topicKey: logicalId(stack, stack.alarms.key),
  };
}

function syncFunction(s: SynthesizedCluster): Json {
  return resourcesOf(s.template, 'AWS::Lambda::Function')[idsOf(s).fn].Properties as Json;
}

function syncStatements(s: SynthesizedCluster): Json[] {
  const roleId = idsOf(s).role;
  const policies = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy'))
    .filter((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: roleId }]));
  expect(policies).toHaveLength(1);
  return ((policies[0].Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
}

function privateBucketStatements(s: SynthesizedCluster): Json[] {
  const bucketId = idsOf(s).private;
  const policy = Object.values(resourcesOf(s.template, 'AWS::S3::BucketPolicy'))
    .find((p) => JSON.stringify((p.Properties as Json).Bucket) === JSON.stringify({ Ref: bucketId }));
  return ((policy!.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
}

let full: SynthesizedCluster;
let defaultDomain: SynthesizedCluster;
let vpcPlaced: SynthesizedCluster;
beforeAll(() => {
  full = synthCluster(fullCluster());
  defaultDomain = synthCluster(defaultDomainCluster());
  const inVpc = defaultDomainCluster();
  inVpc.keySources = {
    clusterJwks: {
      url: 'https://10.0.0.10:6443/openid/v1/jwks',
      caBundlePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      tokenParameterName: '/kube-oidc/dev/discovery-token',
      vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'], securityGroupIds: ['sg-0123456789abcdef0'] },
    },
  };
  vpcPlaced = synthCluster(inVpc);
});

describe('JwksSync function', () => {
  test('the newest Node.js runtime, set explicitly, on arm64 with a short timeout', () => {
    expect(LAMBDA_RUNTIME.name).toBe('nodejs24.x');
    expect(syncFunction(full)).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 30, MemorySize: 256, Handler: 'index.handler' });
    expect((syncFunction(full).LoggingConfig as Json).LogGroup).toEqual({ Ref: idsOf(full).logs });
  });

  test('the environment carries exactly the documented variables (every source configured)', () => {
    const ids = idsOf(full);
    expect((syncFunction(full).Environment as Json).Variables).toEqual({
      ISSUER_URL: 'https://oidc.example.com/cluster-a',
      DOCUMENTS_BUCKET: { Ref: ids.documents },
      PRIVATE_BUCKET: { Ref: ids.private },
      KEY_PREFIX: 'keys/',
      STATE_KEY: 'state/rotation.json',
      DENY_LIST_KEY: 'control/deny-list.json',
      DISTRIBUTION_ID: { Ref: ids.distribution },
      GRACE_PERIOD_SECONDS: '172800',
      CACHE_MAX_AGE_SECONDS: '120',
      KIDLESS_COMPAT: 'true',
      CONFIG_JWKS: expect.any(String),
      CLUSTER_JWKS_URL: 'https://api.prod.example.com:6443/openid/v1/jwks',
      CLUSTER_TOKEN_SECRET_ARN: SECRET_ARN,
      ALARM_TOPIC_ARN: { Ref: ids.topic },
      METRICS_NAMESPACE: 'KubeOidc/prod',
    });
  });

  test('CONFIG_JWKS is the public JWKS of the config keys, as kube-apiserver would publish them', () => {
    const published = JSON.parse(readFileSync(path.join(REPO_ROOT, 'test/fixtures/kube-format/jwks.json'), 'utf8')) as { keys: { kid: string }[] };
    const variables = (syncFunction(defaultDomain).Environment as Json).Variables as Json;
    const jwks = JSON.parse(variables.CONFIG_JWKS as string) as { keys: { kid: string }[] };
    expect(jwks.keys).toHaveLength(2);
    expect(jwks).toEqual({ keys: [...published.keys].sort((a, b) => (a.kid < b.kid ? -1 : 1)) });
  });

  test('defaults: uploads disabled (empty KEY_PREFIX), no cluster endpoint, issuer from the distribution domain', () => {
    const ids = idsOf(defaultDomain);
    const variables = (syncFunction(defaultDomain).Environment as Json).Variables as Json;
    expect(variables).toMatchObject({
      ISSUER_URL: { 'Fn::Join': ['', ['https://', getAtt(ids.distribution, 'DomainName')]] },
      KEY_PREFIX: '',
      GRACE_PERIOD_SECONDS: '86400',
      CACHE_MAX_AGE_SECONDS: '300',
      KIDLESS_COMPAT: 'false',
      METRICS_NAMESPACE: 'KubeOidc/dev',
    });
    expect(Object.keys(variables).filter((name) => name.startsWith('CLUSTER_'))).toEqual([]);
  });

  test('a private cluster endpoint: CA bundle, SSM token and VPC placement', () => {
    const fn = syncFunction(vpcPlaced);
    expect((fn.Environment as Json).Variables).toMatchObject({
      CLUSTER_JWKS_URL: 'https://10.0.0.10:6443/openid/v1/jwks',
      CLUSTER_CA_BUNDLE: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      CLUSTER_TOKEN_PARAMETER_NAME: '/kube-oidc/dev/discovery-token',
    });
    expect(fn.VpcConfig).toEqual({ SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'], SecurityGroupIds: ['sg-0123456789abcdef0'] });
  });
});

describe('JwksSync triggers', () => {
  test('an EventBridge schedule at the configured rate, no retries', () => {
    full.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      State: 'ENABLED',
      Targets: [{ Arn: getAtt(idsOf(full).fn, 'Arn'), Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    defaultDomain.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test('an upload or removal under keys/, and a deny-list change, run the sync at once', () => {
    const ids = idsOf(full);
    const target = getAtt(ids.fn, 'Arn');
    const filter = (prefix: string) => ({ Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } });
    full.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: ids.private },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          { Events: ['s3:ObjectCreated:*'], Filter: filter('keys/'), LambdaFunctionArn: target },
          { Events: ['s3:ObjectRemoved:*'], Filter: filter('keys/'), LambdaFunctionArn: target },
          { Events: ['s3:ObjectCreated:*'], Filter: filter('control/deny-list.json'), LambdaFunctionArn: target },
        ],
      },
    });
    full.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction', FunctionName: target, Principal: 's3.amazonaws.com', SourceArn: getAtt(ids.private, 'Arn'),
    });
  });

  test('without uploads, only the deny list triggers the sync', () => {
    const notifications = Object.values(resourcesOf(defaultDomain.template, 'Custom::S3BucketNotifications'));
    expect(notifications).toHaveLength(1);
    const configs = ((notifications[0].Properties as Json).NotificationConfiguration as Json).LambdaFunctionConfigurations as Json[];
    expect(configs.map((c) => (c.Filter as { Key: { FilterRules: { Value: string }[] } }).Key.FilterRules[0].Value)).toEqual(['control/deny-list.json']);
  });

  test('every deployment that changes the function runs it once, asynchronously', () => {
    full.template.hasResourceProperties('Custom::Trigger', { InvocationType: 'Event', ExecuteOnHandlerChange: true });
  });
});

describe('JwksSync IAM: exact objects only', () => {
  test('the role policy grants exactly: read keys/state/deny list/documents, list keys/, write the three documents and state, invalidate, publish (with the topic key), read its secret', () => {
    const ids = idsOf(full);
    expect(syncStatements(full)).toEqual([
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: getAtt(ids.logs, 'Arn') },
      {
        Sid: 'ReadKeysStateAndDenyList',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: [
          objectArn(ids.documents, 'cluster-a/.well-known/jwks.json'),
          objectArn(ids.documents, 'cluster-a/.well-known/openid-configuration'),
          objectArn(ids.documents, 'cluster-a/openid/v1/jwks'),
          objectArn(ids.private, 'control/deny-list.json'),
          objectArn(ids.private, 'keys/*'),
          objectArn(ids.private, 'state/rotation.json'),
        ],
      },
      {
        Sid: 'ListUploadedKeys',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: getAtt(ids.private, 'Arn'),
        Condition: { StringLike: { 's3:prefix': ['keys/', 'keys/*'] } },
      },
      {
        Sid: 'WriteTheDocumentsAndState',
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: [
          objectArn(ids.documents, 'cluster-a/.well-known/jwks.json'),
          objectArn(ids.documents, 'cluster-a/.well-known/openid-configuration'),
          objectArn(ids.documents, 'cluster-a/openid/v1/jwks'),
          objectArn(ids.private, 'state/rotation.json'),
        ],
      },
      {
        Sid: 'InvalidateTheIssuerDistribution',
        Effect: 'Allow',
        Action: 'cloudfront:CreateInvalidation',
        Resource: { 'Fn::Join': ['', ['arn:aws:cloudfront::123456789012:distribution/', { Ref: ids.distribution }]] },
      },
      { Sid: 'AnnounceOnTheAlarmTopic', Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: ids.topic } },
      { Sid: 'EncryptAnnouncementsWithTheTopicKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: getAtt(ids.topicKey, 'Arn') },
      { Sid: 'ReadTheClusterTokenSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SECRET_ARN },
    ]);
  });

  test('without uploads there is no keys/ read and no listing', () => {
    const text = JSON.stringify(syncStatements(defaultDomain));
    expect(text).not.toContain('keys/');
    expect(text).not.toContain('s3:ListBucket');
    expect(text).not.toContain('secretsmanager');
  });

  test('an SSM token source grants ssm:GetParameter on that parameter only; VPC placement adds ENI actions', () => {
    const statements = syncStatements(vpcPlaced);
    expect(statements).toContainEqual({
      Sid: 'ReadTheClusterTokenParameter',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter/kube-oidc/dev/discovery-token']] },
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['ec2:AssignPrivateIpAddresses', 'ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:UnassignPrivateIpAddresses'],
      Resource: '*',
    });
  });

  test('no managed policy on the function role (no AWSLambdaBasicExecutionRole logs:* everywhere)', () => {
    const role = resourcesOf(full.template, 'AWS::IAM::Role')[idsOf(full).role];
    expect((role.Properties as Json).ManagedPolicyArns).toBeUndefined();
  });
});

describe('private bucket guard', () => {
  test('writes to keys/ and control/ are denied to everyone but the named writers and the sync role', () => {
    const ids = idsOf(full);
    expect(privateBucketStatements(full)).toContainEqual({
      Sid: 'OnlyNamedWritersChangeKeysAndControl',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObject'],
      Resource: [objectArn(ids.private, 'control/*'), objectArn(ids.private, 'keys/*')],
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [WRITER_ARN, getAtt(ids.role, 'Arn')] } },
    });
  });

  test('writes to state/ are denied to everyone but the sync role', () => {
    const ids = idsOf(full);
    expect(privateBucketStatements(full)).toContainEqual({
      Sid: 'OnlyTheSyncChangesState',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObject'],
      Resource: objectArn(ids.private, 'state/*'),
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [getAtt(ids.role, 'Arn')] } },
    });
  });

  test('the named writers are granted keys/ and control/ (and nothing else)', () => {
    const ids = idsOf(full);
    const allows = privateBucketStatements(full).filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Sid: 'NamedWritersManageKeysAndControl',
        Effect: 'Allow',
        Principal: { AWS: WRITER_ARN },
        Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:GetObject', 's3:PutObject'],
        Resource: [objectArn(ids.private, 'control/*'), objectArn(ids.private, 'keys/*')],
      },
      {
        Sid: 'NamedWritersListKeysAndControl',
        Effect: 'Allow',
        Principal: { AWS: WRITER_ARN },
        Action: 's3:ListBucket',
        Resource: getAtt(ids.private, 'Arn'),
        Condition: { StringLike: { 's3:prefix': ['keys/*', 'control/*'] } },
      },
    ]);
  });

  test('with no writers named, nobody but the sync can write keys/ and control/', () => {
    const ids = idsOf(defaultDomain);
    const deny = privateBucketStatements(defaultDomain).find((s) => s.Sid === 'OnlyNamedWritersChangeKeysAndControl');
    expect(deny?.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': [getAtt(ids.role, 'Arn')] } });
    expect(privateBucketStatements(defaultDomain).filter((s) => s.Effect === 'Allow')).toEqual([]);
  });
});

describe('documents bucket guard (issue 12 §3)', () => {
  const documentsStatements = (s: SynthesizedCluster): Json[] => {
    const bucketId = idsOf(s).documents;
    const policy = Object.values(resourcesOf(s.template, 'AWS::S3::BucketPolicy'))
      .find((p) => JSON.stringify((p.Properties as Json).Bucket) === JSON.stringify({ Ref: bucketId }));
    return ((policy!.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
  };

  test('object writes and deletes are denied to every principal but the sync role', () => {
    for (const s of [full, defaultDomain]) {
      const ids = idsOf(s);
      expect(documentsStatements(s)).toContainEqual({
        Sid: 'OnlyTheSyncWritesTheDocuments',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObject', 's3:PutObjectAcl', 's3:PutObjectVersionAcl', 's3:ReplicateDelete', 's3:ReplicateObject'],
        Resource: { 'Fn::Join': ['', [getAtt(ids.documents, 'Arn'), '/*']] },
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': [getAtt(ids.role, 'Arn')] } },
      });
      // Nobody is granted writes by the bucket policy: the sync writes through its role policy, on exact keys.
      expect(documentsStatements(s).filter((st) => st.Effect === 'Allow' && JSON.stringify(st.Action).match(/Put|Delete/))).toEqual([]);
    }
  });
});

describe('JwksSync alarms', () => {
  const alarmsOf = (s: SynthesizedCluster) => Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties as Json);

  test('failed runs, staleness, new kids, refused private keys and a persistently failing source are alarmed from the handler\'s EMF metrics, to the alarm topic', () => {
    const topic = { Ref: idsOf(full).topic };
    const byMetric = Object.fromEntries(alarmsOf(full).filter((a) => a.Namespace === 'KubeOidc/prod').map((a) => [a.MetricName, a]));
    expect(Object.keys(byMetric).sort()).toEqual(Object.values(SYNC_METRICS).filter((name) => name !== SYNC_METRICS.publishedKeyCount).sort());
    // A refused key substitution and a document changed by someone else each have their own alarm, to the topic.
    expect(byMetric.KidConflicts).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, EvaluationPeriods: 1, TreatMissingData: 'notBreaching', AlarmActions: [topic], OKActions: [topic] });
    expect(byMetric.DocumentsTampered).toMatchObject({ Statistic: 'Sum', ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, EvaluationPeriods: 1, AlarmActions: [topic], OKActions: [topic] });
    expect(byMetric.FailedSources).toMatchObject({ Statistic: 'Minimum', ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1, EvaluationPeriods: 3, AlarmActions: [topic], OKActions: [topic] });
    expect(byMetric.RefusedPrivateKeys).toMatchObject({ Statistic: 'Sum', ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, AlarmActions: [topic] });
    expect(byMetric.SyncOutcome).toMatchObject({
      Statistic: 'Minimum', ComparisonOperator: 'LessThanThreshold', Threshold: 1, Period: 600, TreatMissingData: 'notBreaching', AlarmActions: [topic], OKActions: [topic],
    });
    expect(byMetric.SecondsSinceLastPublish).toMatchObject({
      Statistic: 'Maximum', ComparisonOperator: 'GreaterThanThreshold', Threshold: 1800, Period: 600, EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'breaching', AlarmActions: [topic],
    });
    expect(byMetric.NewKids).toMatchObject({ Statistic: 'Sum', ComparisonOperator: 'GreaterThanThreshold', Threshold: 0, AlarmActions: [topic] });
    expect(byMetric.SyncOutcome.Dimensions).toBeUndefined();
  });

  test('Lambda errors of the sync are alarmed', () => {
    expect(alarmsOf(full)).toContainEqual(expect.objectContaining({
      Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: idsOf(full).fn } }], Threshold: 1, AlarmActions: [{ Ref: idsOf(full).topic }],
    }));
  });

  test('staleness is at least 15 minutes even with a short schedule', () => {
    const stale = alarmsOf(defaultDomain).find((a) => a.MetricName === SYNC_METRICS.secondsSinceLastPublish);
    expect(stale).toMatchObject({ Threshold: 900, Period: 300 });
  });
});
