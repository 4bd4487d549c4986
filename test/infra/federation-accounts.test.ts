/**
 * A cluster's federation stacks in other accounts: the provider (created or imported), the roles
 * with the same trust conditions as the CLI prints, none of them duplicated in the cluster's own
 * stack, the stacks' environments and order, cdk-nag AwsSolutions and cfn-lint.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { ClusterConfig } from '../../core/config';
import { trustPolicyDocument } from '../../core/trust-policy';
import { Federation } from '../../lib/constructs/federation';
import * as lib from '../../lib';
import { addClusterAndFederationStacks, FederationAccountStack } from '../../lib/federation-account-stack';
import type { ClusterAndFederationStacks } from '../../lib/federation-account-stack';
import { clusterConfig, defaultDomainCluster, fullCluster, resourcesOf, testApp } from './support/synth';
import type { Json } from './support/synth';
import { cfnLint } from './support/cfn-lint';

const ROLES_ACCOUNT = '111111111111';
const PROVIDER_ACCOUNT = '222222222222';
const HOST_PATH = 'oidc.example.com/cluster-a';
const IMPORTED_PROVIDER = `arn:aws:iam::${PROVIDER_ACCOUNT}:oidc-provider/${HOST_PATH}`;

const FEDERATION_ACCOUNTS: Json[] = [
  { account: ROLES_ACCOUNT, roleIds: ['payments-api', 's3-reader'] },
  { account: PROVIDER_ACCOUNT, region: 'eu-central-1', roleIds: ['vault-auth'], existingOidcProviderArn: IMPORTED_PROVIDER },
];

/** fullCluster (custom domain, home account ACCOUNT) with two more roles, one of them broad, and roles in two other accounts. */
function prodCluster(): ClusterConfig {
  const raw = fullCluster();
  raw.serviceAccountRoles = [
    ...(raw.serviceAccountRoles as Json[]),
    {
      id: 's3-reader',
      namespace: 'data',
      match: 'namespace',
      managedPolicyArns: ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
      inlinePolicyStatements: [{ Effect: 'Allow', Action: 's3:List*', Resource: '*' }],
    },
    { id: 'home-only', namespace: 'ops', serviceAccount: 'backup' },
  ];
  raw.federationAccounts = FEDERATION_ACCOUNTS;
  return clusterConfig(raw);
}

const logicalId = (stack: Stack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);

function nagFindings(stack: Stack): string[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.filter((v) => v.severity === 'error' || v.severity === 'warning').flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) at ${r.constructPath}`));
}

/** The web-identity roles of a template, by logical id. */
function webIdentityRoles(template: Template): Record<string, Json> {
  return Object.fromEntries(Object.entries(resourcesOf(template, 'AWS::IAM::Role'))
    .filter(([, role]) => JSON.stringify((role.Properties as Json).AssumeRolePolicyDocument).includes('sts:AssumeRoleWithWebIdentity')));
}

function trustStatement(stack: FederationAccountStack, template: Template, roleId: string): Json {
  const role = stack.federation.roles.get(roleId);
  if (!role) throw new Error(`no role ${roleId} in ${stack.stackName}`);
  const resource = resourcesOf(template, 'AWS::IAM::Role')[logicalId(stack, role)];
  const statements = ((resource.Properties as Json).AssumeRolePolicyDocument as { Statement: Json[] }).Statement;
  expect(statements).toHaveLength(1);
  return statements[0];
}

let outdir: string;
let stacks: ClusterAndFederationStacks;
let rolesStack: FederationAccountStack;
let providerStack: FederationAccountStack;
let rolesTemplate: Template;
let providerTemplate: Template;
let homeTemplate: Template;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-federation-'));
  const app = testApp({ outdir });
  stacks = addClusterAndFederationStacks(app, [prodCluster()]);
  app.synth();
  [rolesStack, providerStack] = stacks.federationStacks;
  rolesTemplate = Template.fromStack(rolesStack);
  providerTemplate = Template.fromStack(providerStack);
  homeTemplate = Template.fromStack(stacks.clusterStacks[0]);
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('stacks and environments', () => {
  test('one stack per (cluster, account), in the account, in the entry\'s region or the cluster\'s', () => {
    expect(stacks.clusterStacks.map((s) => s.stackName)).toEqual(['OidcCluster-prod']);
    expect(stacks.federationStacks.map((s) => [s.stackName, s.account, s.region])).toEqual([
      [`OidcFederation-prod-${ROLES_ACCOUNT}`, ROLES_ACCOUNT, 'us-east-1'],
      [`OidcFederation-prod-${PROVIDER_ACCOUNT}`, PROVIDER_ACCOUNT, 'eu-central-1'],
    ]);
  });

  test('each federation stack is deployed after the cluster stack that serves the issuer, with no cross-stack reference', () => {
    for (const stack of stacks.federationStacks) {
      expect(stack.dependencies).toEqual([stacks.clusterStacks[0]]);
      expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toMatch(/Fn::ImportValue/);
    }
  });

  test('a cluster that skipped validateConfig, on the CloudFront default domain, is refused before any stack is added', () => {
    // validateConfig refuses it with the fix (test/unit/config-fleet.test.ts); a hand-built cluster must not get an empty provider URL.
    const app = testApp();
    const unvalidated: ClusterConfig = { ...clusterConfig(defaultDomainCluster()), federationAccounts: [{ account: ROLES_ACCOUNT, roleIds: ['payments-api'] }] };
    expect(() => addClusterAndFederationStacks(app, [prodCluster(), unvalidated])).toThrow(/federationAccounts need a custom-domain issuer/);
    expect(app.node.children).toHaveLength(0);
  });

  test('without a region (no env.region, none in the entry) the stack is pinned to the account only', () => {
    const app = testApp();
    const stack = new FederationAccountStack(app, 'NoRegion', { clusterName: 'prod', account: ROLES_ACCOUNT, issuerUrl: 'https://oidc.example.com/cluster-a', clientIds: ['sts.amazonaws.com'], roles: [] });
    expect(stack.account).toBe(ROLES_ACCOUNT);
    expect(Token.isUnresolved(stack.region)).toBe(true);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::OIDCProvider', 1);
  });

  test('the library exports the stack, the app helper and the plan', () => {
    expect(lib.FederationAccountStack).toBe(FederationAccountStack);
    expect(lib.addClusterAndFederationStacks).toBe(addClusterAndFederationStacks);
    expect(typeof lib.planFederationAccounts).toBe('function');
    expect(lib.federationStackIdFor('a', ROLES_ACCOUNT)).toBe(`OidcFederation-a-${ROLES_ACCOUNT}`);
  });

  test('the stack refuses an issuer URL that is not known at synth time', () => {
    const app = testApp();
    expect(() => new FederationAccountStack(app, 'Bad', { clusterName: 'dev', account: ROLES_ACCOUNT, issuerUrl: '', clientIds: ['sts.amazonaws.com'], roles: [] }))
      .toThrow(/issuerUrl must be the cluster's https issuer URL known at synth time/);
  });
});

describe('the IAM OIDC provider in each account', () => {
  test('created with the issuer URL and the cluster\'s client IDs, retained, depending on nothing of another account', () => {
    const providers = Object.values(resourcesOf(rolesTemplate, 'AWS::IAM::OIDCProvider'));
    expect(providers).toHaveLength(1);
    expect(providers[0].Properties).toEqual({ Url: 'https://oidc.example.com/cluster-a', ClientIdList: ['sts.amazonaws.com', 'vault.example.com'] });
    expect(providers[0].DeletionPolicy).toBe('Retain');
    expect(providers[0].DependsOn).toBeUndefined();
  });

  test('imported by ARN where the account already has one', () => {
    providerTemplate.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(providerTemplate.toJSON().Outputs.OidcProviderArn.Value).toBe(IMPORTED_PROVIDER);
  });

  test('the cluster\'s own account keeps its own provider', () => {
    homeTemplate.resourceCountIs('AWS::IAM::OIDCProvider', 1);
  });
});

describe('roles in other accounts', () => {
  test('trust the account\'s provider with exactly the conditions the trust-policy command prints', () => {
    const roleArn = { Ref: logicalId(rolesStack, rolesStack.federation.node.findChild('Provider')) };
    const cli = trustPolicyDocument('PROVIDER', 'https://oidc.example.com/cluster-a', { namespace: 'payments', serviceAccount: 'api' }, 'sts.amazonaws.com') as { Statement: Json[] };
    expect(trustStatement(rolesStack, rolesTemplate, 'payments-api')).toEqual({ ...cli.Statement[0], Principal: { Federated: roleArn } });
    expect(trustStatement(rolesStack, rolesTemplate, 'payments-api').Condition).toEqual({
      StringEquals: { [`${HOST_PATH}:aud`]: 'sts.amazonaws.com', [`${HOST_PATH}:sub`]: 'system:serviceaccount:payments:api' },
    });
    expect(trustStatement(rolesStack, rolesTemplate, 's3-reader').Condition).toEqual({
      StringEquals: { [`${HOST_PATH}:aud`]: 'sts.amazonaws.com' },
      StringLike: { [`${HOST_PATH}:sub`]: 'system:serviceaccount:data:*' },
    });
    expect(trustStatement(providerStack, providerTemplate, 'vault-auth')).toEqual({
      Effect: 'Allow',
      Action: 'sts:AssumeRoleWithWebIdentity',
      Principal: { Federated: IMPORTED_PROVIDER },
      Condition: { StringEquals: { [`${HOST_PATH}:aud`]: 'vault.example.com', [`${HOST_PATH}:sub`]: 'system:serviceaccount:vault:vault' } },
    });
  });

  test('carry their configured permissions and are stack outputs', () => {
    const role = resourcesOf(rolesTemplate, 'AWS::IAM::Role')[logicalId(rolesStack, rolesStack.federation.roles.get('s3-reader')!)];
    expect((role.Properties as Json).ManagedPolicyArns).toEqual(['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess']);
    expect((role.Properties as Json).Policies).toEqual([{
      PolicyName: 'ServiceAccountPermissions',
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:List*', Resource: '*' }] },
    }]);
    expect(Object.keys(rolesTemplate.toJSON().Outputs).sort()).toEqual(['OidcProviderArn', 'PaymentsApiRoleArn', 'S3ReaderRoleArn']);
    expect(Object.keys(providerTemplate.toJSON().Outputs).sort()).toEqual(['OidcProviderArn', 'VaultAuthRoleArn']);
  });

  test('are not also created in the cluster\'s own stack, which keeps only its own roles', () => {
    const home = stacks.clusterStacks[0];
    expect([...home.federation.roles.keys()]).toEqual(['home-only']);
    expect(Object.keys(webIdentityRoles(homeTemplate))).toEqual([logicalId(home, home.federation.roles.get('home-only')!)]);
    const outputs = Object.keys(homeTemplate.toJSON().Outputs as Json).filter((name) => name.endsWith('RoleArn'));
    expect(outputs).toEqual(['HomeOnlyRoleArn']);
    expect(Object.keys(webIdentityRoles(rolesTemplate))).toHaveLength(2);
    expect(Object.keys(webIdentityRoles(providerTemplate))).toHaveLength(1);
  });
});

describe('checks', () => {
  test('cdk-nag AwsSolutions: no unacknowledged finding on any of the stacks', () => {
    for (const stack of [...stacks.federationStacks, ...stacks.clusterStacks]) {
      expect({ stack: stack.stackName, findings: nagFindings(stack) }).toEqual({ stack: stack.stackName, findings: [] });
    }
  });

  test('the nag check does see a broad role whose permissions carry no config pointer', () => {
    const app = testApp();
    const stack = new FederationAccountStack(app, 'Unreviewed', { clusterName: 'prod', account: ROLES_ACCOUNT, issuerUrl: 'https://oidc.example.com/cluster-a', clientIds: ['sts.amazonaws.com'], existingOidcProviderArn: IMPORTED_PROVIDER.replace(PROVIDER_ACCOUNT, ROLES_ACCOUNT), roles: [] });
    new Federation(stack, 'Direct', {
      issuerUrl: 'https://oidc.example.com/cluster-a',
      existingProviderArn: IMPORTED_PROVIDER.replace(PROVIDER_ACCOUNT, ROLES_ACCOUNT),
      serviceAccountRoles: [{ id: 'broad', namespace: 'data', match: 'namespace', inlineStatements: [iam.PolicyStatement.fromJson({ Effect: 'Allow', Action: 's3:List*', Resource: '*' })] }],
    });
    app.synth();
    expect(nagFindings(stack)).toEqual([
      'AwsSolutions-IAM5[Action::s3:List*] (error) at Unreviewed/Direct/broad/Role/Resource',
      'AwsSolutions-IAM5[Resource::*] (error) at Unreviewed/Direct/broad/Role/Resource',
    ]);
  });

  test('cfn-lint reports no error on the federation templates', async () => {
    const templates = readdirSync(outdir).filter((f) => f.startsWith('OidcFederation-') && f.endsWith('.template.json')).map((f) => path.join(outdir, f));
    expect(templates).toHaveLength(2);
    const result = await cfnLint(templates);
    const errors = result.output.split('\n').filter((line) => /:E\d{4}:/.test(line));
    expect({ errorBit: result.code & 2, errors }).toEqual({ errorBit: 0, errors: [] });
    expect(result.code & ~(2 | 4 | 8)).toBe(0);
  }, 120_000);
});
