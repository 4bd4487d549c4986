import { Stack } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { addClusterStacks } from '../../lib/cluster-oidc-stack';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { IssuerSite } from '../../lib/constructs/issuer-site';
import * as library from '../../lib/index';
import { REPO_ROOT, bareTestApp, clusterConfig, defaultDomainCluster, fullCluster, resourcesOf, synthCluster, testApp } from './support/synth';
import type { Json, SynthesizedCluster } from './support/synth';

const logicalId = (stack: ClusterOidcStack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const outputsOf = (s: SynthesizedCluster) => s.template.toJSON().Outputs as Record<string, { Value: unknown; Description?: string }>;

let custom: SynthesizedCluster;
let defaultDomain: SynthesizedCluster;
beforeAll(() => {
  custom = synthCluster(fullCluster());
  defaultDomain = synthCluster(defaultDomainCluster());
});

describe('stack identity', () => {
  test('one stack per cluster, named OidcCluster-<name>, in the configured environment', () => {
    const app = testApp();
    const stacks = addClusterStacks(app, [clusterConfig(fullCluster()), clusterConfig(defaultDomainCluster())]);
    expect(stacks.map((s) => s.stackName)).toEqual(['OidcCluster-prod', 'OidcCluster-dev']);
    expect([stacks[0].account, stacks[0].region]).toEqual(['123456789012', 'us-east-1']);
    expect(stacks[1].environment).toBe('aws://unknown-account/unknown-region');
  });
});

describe('stack outputs', () => {
  test('with a custom domain the kube-apiserver flags are a literal, ready to copy', () => {
    const outputs = outputsOf(custom);
    expect(outputs.IssuerUrl.Value).toBe('https://oidc.example.com/cluster-a');
    expect(outputs.JwksUri.Value).toBe('https://oidc.example.com/cluster-a/openid/v1/jwks');
    expect(outputs.KubeApiserverFlags.Value).toBe(
      '--service-account-issuer=https://oidc.example.com/cluster-a --service-account-jwks-uri=https://oidc.example.com/cluster-a/openid/v1/jwks',
    );
  });

  test('with the default domain every output derives from the one distribution domain', () => {
    const { stack } = defaultDomain;
    const domain = getAtt(logicalId(stack, stack.issuerSite.distribution), 'DomainName');
    const outputs = outputsOf(defaultDomain);
    expect(outputs.IssuerUrl.Value).toEqual({ 'Fn::Join': ['', ['https://', domain]] });
    expect(outputs.JwksUri.Value).toEqual({ 'Fn::Join': ['', ['https://', domain, '/openid/v1/jwks']] });
    expect(outputs.KubeApiserverFlags.Value).toEqual({
      'Fn::Join': ['', ['--service-account-issuer=https://', domain, ' --service-account-jwks-uri=https://', domain, '/openid/v1/jwks']],
    });
  });

  test('bucket names, distribution, provider, alarm topic and Verify API URL are outputs', () => {
    const { stack } = custom;
    const outputs = outputsOf(custom);
    expect(outputs.DocumentsBucketName.Value).toEqual({ Ref: logicalId(stack, stack.issuerSite.documentsBucket) });
    expect(outputs.PrivateBucketName.Value).toEqual({ Ref: logicalId(stack, stack.issuerSite.privateBucket) });
    expect(outputs.DistributionId.Value).toEqual({ Ref: logicalId(stack, stack.issuerSite.distribution) });
    expect(outputs.OidcProviderArn.Value).toEqual({ Ref: logicalId(stack, stack.federation.node.findChild('Provider')) });
    expect(outputs.AlarmTopicArn.Value).toEqual({ Ref: logicalId(stack, stack.alarms.topic) });
    expect(Object.keys(outputs).sort()).toEqual([
      'AlarmTopicArn', 'DistributionId', 'DocumentsBucketName', 'IssuerUrl', 'JwksUri', 'KubeApiserverFlags', 'OidcProviderArn',
      'PaymentsApiRoleArn', 'PrivateBucketName', 'VaultAuthRoleArn', 'VerifyApiUrl',
    ]);
  });
});

describe('alarm topic', () => {
  test('TLS-only, CloudWatch of this account may publish, e-mail subscriptions from the config', () => {
    const { stack, template } = custom;
    const topicId = logicalId(stack, stack.alarms.topic);
    const policy = Object.values(resourcesOf(template, 'AWS::SNS::TopicPolicy'))[0].Properties as Json;
    const statements = (policy.PolicyDocument as { Statement: Json[] }).Statement;
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Action: 'sns:Publish' }),
      {
        Sid: 'CloudWatchAlarmsOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      },
    ]));
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: { Ref: topicId } });
    defaultDomain.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('config warnings', () => {
  test('a private key in the config becomes a synth warning naming the cluster and field', () => {
    const cluster = defaultDomainCluster();
    cluster.keySources = { configKeys: [{ file: 'sa-ec.key' }] };
    const { stack } = synthCluster(cluster);
    Annotations.fromStack(stack).hasWarning('/OidcCluster-dev', Match.stringLikeRegexp('^cluster "dev": keySources\\.configKeys\\[0\\]\\.file \\(file sa-ec\\.key\\) holds a private key'));
    const variables = (Object.values(resourcesOf(Template.fromStack(stack), 'AWS::Lambda::Function'))
      .map((f) => ((f.Properties as Json).Environment as { Variables?: Json } | undefined)?.Variables)
      .find((v) => v?.CONFIG_JWKS !== undefined))!;
    expect(variables.CONFIG_JWKS).not.toMatch(/"d"|"p"|"q"|"dp"|"dq"|"qi"/);
    expect(JSON.parse(variables.CONFIG_JWKS as string).keys).toHaveLength(1);
  });

  test('no private key material anywhere in a synthesized template', () => {
    const cluster = defaultDomainCluster();
    cluster.keySources = { configKeys: [{ file: 'sa-rsa.key' }] };
    const text = JSON.stringify(synthCluster(cluster).template.toJSON());
    const privateKey = readFileSync(path.join(REPO_ROOT, 'test/fixtures/kube-format/sa-rsa.key'), 'utf8');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(privateKey.split('\n')[2]);
  });
});

describe('library use', () => {
  test('lib/index.ts exports the constructs, the stack and the config loader', () => {
    expect(Object.keys(library).sort()).toEqual(expect.arrayContaining([
      'Alarms', 'ClusterOidcStack', 'ConfigValidationError', 'DEFAULT_CONFIG_PATH', 'Federation', 'IssuerSite', 'JwksSync', 'LAMBDA_RUNTIME',
      'PRIVATE_BUCKET_LAYOUT', 'VERIFY_API_ROUTES', 'VerifyApi', 'addClusterStacks', 'loadClusterConfig', 'validateConfig',
    ]));
  });

  test('IssuerSite grants server access logs by bucket policy, never ACL, even without cdk.json feature flags', () => {
    const stack = new Stack(bareTestApp(), 'Bare');
    new IssuerSite(stack, 'Site');
    const template = Template.fromStack(stack);
    for (const bucket of Object.values(resourcesOf(template, 'AWS::S3::Bucket'))) {
      expect((bucket.Properties as Json).AccessControl).toBeUndefined();
      expect((bucket.Properties as Json).OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    }
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' })]) },
    });
  });
});
