import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { defaultDomainCluster, fullCluster, resourcesOf, synthCluster } from './support/synth';
import type { Json, SynthesizedCluster } from './support/synth';

const logicalId = (stack: ClusterOidcStack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });

function role(synthesized: SynthesizedCluster, id: string): Json {
  const { stack, template } = synthesized;
  const construct = stack.federation.roles.get(id);
  if (!construct) throw new Error(`no role ${id}`);
  return resourcesOf(template, 'AWS::IAM::Role')[logicalId(stack, construct)];
}

function trustStatement(synthesized: SynthesizedCluster, id: string): Json {
  const statements = ((role(synthesized, id).Properties as Json).AssumeRolePolicyDocument as { Statement: Json[] }).Statement;
  expect(statements).toHaveLength(1);
  return statements[0];
}

/** The JSON a CfnJson resource will produce, with the distribution domain written as DOMAIN. */
function cfnJsonValue(synthesized: SynthesizedCluster, resourceId: string): unknown {
  const { stack } = synthesized;
  const domain = JSON.stringify(getAtt(logicalId(stack, stack.issuerSite.distribution), 'DomainName'));
  const resource = resourcesOf(synthesized.template, 'Custom::AWSCDKCfnJson')[resourceId];
  const join = ((resource.Properties as Json).Value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  expect(join[0]).toBe('');
  const text = join[1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part) === domain ? 'DOMAIN' : '<other token>')).join('');
  return JSON.parse(text);
}

let custom: SynthesizedCluster;
let defaultDomain: SynthesizedCluster;
let imported: SynthesizedCluster;
beforeAll(() => {
  custom = synthCluster(fullCluster());
  defaultDomain = synthCluster(defaultDomainCluster());
  const withImport = fullCluster();
  // Client IDs of an imported provider are managed where it was created.
  delete withImport.audiences;
  withImport.serviceAccountRoles = (withImport.serviceAccountRoles as Json[]).filter((r) => r.id !== 'vault-auth');
  withImport.existingOidcProviderArn = 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-a';
  imported = synthCluster(withImport);
});

describe('IAM OIDC provider', () => {
  test('the native provider has the issuer URL, the configured client IDs and no thumbprint, and is retained', () => {
    const providers = Object.values(resourcesOf(custom.template, 'AWS::IAM::OIDCProvider'));
    expect(providers).toHaveLength(1);
    expect(providers[0].Properties).toEqual({ Url: 'https://oidc.example.com/cluster-a', ClientIdList: ['sts.amazonaws.com', 'vault.example.com'] });
    expect(providers[0].DeletionPolicy).toBe('Retain');
    custom.template.resourceCountIs('Custom::AWSCDKOpenIdConnectProvider', 0);
  });

  test('it is created only once the distribution and its DNS records exist (IAM contacts the host)', () => {
    const { stack } = custom;
    const provider = Object.values(resourcesOf(custom.template, 'AWS::IAM::OIDCProvider'))[0];
    const records = Object.keys(resourcesOf(custom.template, 'AWS::Route53::RecordSet'));
    expect(records).toHaveLength(2);
    expect([...(provider.DependsOn as string[])].sort()).toEqual([logicalId(stack, stack.issuerSite.distribution), ...records].sort());
  });

  test('with the default domain its URL is https:// plus the distribution domain, and the client ID defaults to STS', () => {
    const { stack } = defaultDomain;
    const provider = Object.values(resourcesOf(defaultDomain.template, 'AWS::IAM::OIDCProvider'))[0];
    expect(provider.Properties).toEqual({
      Url: { 'Fn::Join': ['', ['https://', getAtt(logicalId(stack, stack.issuerSite.distribution), 'DomainName')]] },
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  test('an existing provider is imported by ARN instead of created', () => {
    imported.template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(trustStatement(imported, 'payments-api').Principal).toEqual({ Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-a' });
  });
});

describe('service-account role trust (custom domain: literal condition keys)', () => {
  test('an exact match checks sub and aud with StringEquals, for the provider only', () => {
    const { stack } = custom;
    expect(trustStatement(custom, 'payments-api')).toEqual({
      Effect: 'Allow',
      Action: 'sts:AssumeRoleWithWebIdentity',
      Principal: { Federated: { Ref: logicalId(stack, stack.federation.node.findChild('Provider')) } },
      Condition: {
        StringEquals: {
          'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com',
          'oidc.example.com/cluster-a:sub': 'system:serviceaccount:payments:api',
        },
      },
    });
  });

  test('a role for another audience checks that audience', () => {
    expect(trustStatement(custom, 'vault-auth').Condition).toEqual({
      StringEquals: {
        'oidc.example.com/cluster-a:aud': 'vault.example.com',
        'oidc.example.com/cluster-a:sub': 'system:serviceaccount:vault:vault',
      },
    });
  });

  test('no CfnJson is needed when the issuer is known at synth time', () => {
    custom.template.resourceCountIs('Custom::AWSCDKCfnJson', 0);
  });
});

describe('service-account role trust (default domain: CfnJson condition keys)', () => {
  function conditionValues(id: string): Record<string, unknown> {
    const condition = trustStatement(defaultDomain, id).Condition as Record<string, { 'Fn::GetAtt': [string, string] }>;
    return Object.fromEntries(Object.entries(condition).map(([operator, ref]) => {
      expect(ref['Fn::GetAtt'][1]).toBe('Value');
      return [operator, cfnJsonValue(defaultDomain, ref['Fn::GetAtt'][0])];
    }));
  }

  test('an exact match: StringEquals on DOMAIN:aud and DOMAIN:sub', () => {
    expect(conditionValues('payments-api')).toEqual({
      StringEquals: { 'DOMAIN:aud': 'sts.amazonaws.com', 'DOMAIN:sub': 'system:serviceaccount:payments:api' },
    });
  });

  test('a name-prefix match: aud with StringEquals, sub with StringLike on the prefix', () => {
    expect(conditionValues('ci-runners')).toEqual({
      StringEquals: { 'DOMAIN:aud': 'sts.amazonaws.com' },
      StringLike: { 'DOMAIN:sub': 'system:serviceaccount:ci:runner-*' },
    });
  });

  test('a namespace match: sub with StringLike on the namespace only, never a bare *', () => {
    expect(conditionValues('monitoring')).toEqual({
      StringEquals: { 'DOMAIN:aud': 'sts.amazonaws.com' },
      StringLike: { 'DOMAIN:sub': 'system:serviceaccount:monitoring:*' },
    });
  });
});

describe('service-account role permissions and outputs', () => {
  test('managed policies and inline statements come from the config', () => {
    expect((role(defaultDomain, 'payments-api').Properties as Json).ManagedPolicyArns).toEqual(['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess']);
    expect((role(custom, 'payments-api').Properties as Json).Policies).toEqual([{
      PolicyName: 'ServiceAccountPermissions',
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::payments-data/*' }] },
    }]);
    expect((role(custom, 'vault-auth').Properties as Json).Policies).toBeUndefined();
  });

  test('each role ARN is a stack output', () => {
    const { stack, template } = custom;
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.PaymentsApiRoleArn.Value).toEqual(getAtt(logicalId(stack, stack.federation.roles.get('payments-api')!), 'Arn'));
    expect(outputs.VaultAuthRoleArn.Value).toEqual(getAtt(logicalId(stack, stack.federation.roles.get('vault-auth')!), 'Arn'));
  });
});
