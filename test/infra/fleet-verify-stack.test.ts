/**
 * The fleet Verify API stack: routes, alarm and dashboard as a cluster's Verify API; the
 * verifier's role reads exactly the configured JWKS and deny-list objects; TRUSTED_ISSUERS as
 * the handler parses it; the cross-account deny-list grant on a cluster stack; the mapping from
 * the configuration with its errors; cdk-nag AwsSolutions and cfn-lint.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigValidationError } from '../../core/config';
import type { ClusterConfig } from '../../core/config';
import { trustedIssuersEnv } from '../../lambda/env';
import { evaluate } from '../support/rehearsal/iam';
import type { PolicyDocument } from '../support/rehearsal/iam';
import { addClusterStacks } from '../../lib/cluster-oidc-stack';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { addFleetVerifyStacks, fleetDenyListReaders, fleetVerifyStackProps } from '../../lib/fleet-verify-stack';
import type { FleetVerifierConfig, FleetVerifyStack } from '../../lib/fleet-verify-stack';
import { ACCOUNT, clusterConfig, defaultDomainCluster, resourcesOf, testApp } from './support/synth';
import type { Json } from './support/synth';

const OTHER_ACCOUNT = '210987654321';
const EKS_ISSUER = 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const GAMMA_PRIVATE_BUCKET = 'gamma-private-bucket-example';
const HERE = { account: ACCOUNT, region: 'us-east-1' };

function customIssuer(name: string) {
  return {
    url: `https://oidc.example.com/${name}`,
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    hostedZoneName: 'example.com',
    certificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0a1b2c3d-1111-2222-3333-444455556666`,
  };
}

/** alpha: CloudFront default domain, here; beta: custom domain, here; gamma: another account; delta: another region. */
function clusters(): ClusterConfig[] {
  const raw = (name: string, extra: Json): Json => ({ ...defaultDomainCluster(), name, ...extra });
  return [
    raw('alpha', { env: HERE }),
    raw('beta', { env: HERE, issuer: customIssuer('beta'), rotation: { kidlessCompat: true } }),
    raw('gamma', { env: { account: OTHER_ACCOUNT, region: 'us-east-1' }, issuer: customIssuer('gamma') }),
    raw('delta', { env: { account: ACCOUNT, region: 'eu-west-1' }, issuer: customIssuer('delta') }),
  ].map(clusterConfig);
}

function fleetConfig(overrides: Partial<FleetVerifierConfig> = {}): FleetVerifierConfig {
  return {
    name: 'fleet-prod',
    env: HERE,
    trustClusters: ['alpha', { name: 'beta', audiences: ['beta.example.com'] }, { name: 'gamma', privateBucketName: GAMMA_PRIVATE_BUCKET }, 'delta'],
    externalIssuers: [{ issuer: EKS_ISSUER, name: 'eks-payments' }],
    audiences: ['verify.example.com', 'beta.example.com'],
    defaultAudiences: ['verify.example.com'],
    iamAuth: false,
    throttle: { rateLimit: 30, burstLimit: 60 },
    ...overrides,
  };
}

interface Synthesized {
  readonly stacks: ClusterOidcStack[];
  readonly fleet: FleetVerifyStack;
  readonly template: Template;
  readonly outdir: string;
}

function synthFleet(fleet: FleetVerifierConfig = fleetConfig()): Synthesized {
  const app = testApp();
  const config = clusters();
  const stacks = addClusterStacks(app, config, fleetDenyListReaders([fleet], config));
  const [stack] = addFleetVerifyStacks(app, [fleet], config, new Map(stacks.map((s) => [s.node.id.replace(/^OidcCluster-/, ''), s.issuerSite])));
  app.synth();
  return { stacks, fleet: stack, template: Template.fromStack(stack), outdir: app.outdir };
}

/** A template value with `Fn::Join`, `Fn::ImportValue`, `Fn::GetStackOutput` and `Ref` rendered as text (`<output:STACK.NAME>`). */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Json;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if ('Fn::ImportValue' in object) return `<import:${String(object['Fn::ImportValue'])}>`;
  if ('Ref' in object) return `<ref:${String(object.Ref)}>`;
  if ('Fn::GetStackOutput' in object) {
    const output = object['Fn::GetStackOutput'] as { StackName: string; OutputName: string };
    return `<output:${output.StackName}.${output.OutputName}>`;
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

function verifierFunction(s: Synthesized): Json {
  const id = s.fleet.getLogicalId(s.fleet.verifyApi.function.node.defaultChild as never);
  return resourcesOf(s.template, 'AWS::Lambda::Function')[id].Properties as Json;
}

function verifierStatements(s: Synthesized): Json[] {
  const roleId = s.fleet.getLogicalId(s.fleet.verifyApi.role.node.defaultChild as never);
  const policies = Object.values(resourcesOf(s.template, 'AWS::IAM::Policy')).filter((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: roleId }]));
  expect(policies).toHaveLength(1);
  return ((policies[0].Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
}

let main: Synthesized;
beforeAll(() => {
  main = synthFleet();
});

describe('FleetVerifyStack', () => {
  test('is OidcFleet-<name> with the Verify API\'s routes, all to the one handler', () => {
    expect(main.fleet.stackName).toBe('OidcFleet-fleet-prod');
    const routes = Object.values(resourcesOf(main.template, 'AWS::ApiGatewayV2::Route')).map((r) => r.Properties as Json);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(['$default', 'ANY /auth', 'ANY /auth/{proxy+}', 'POST /apis/authentication.k8s.io/v1/tokenreviews', 'POST /verify']);
    expect(new Set(routes.map((r) => JSON.stringify(r.Target))).size).toBe(1);
    expect(routes.every((r) => r.AuthorizationType === undefined || r.AuthorizationType === 'NONE')).toBe(true);
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', DefaultRouteSettings: { ThrottlingRateLimit: 30, ThrottlingBurstLimit: 60 } });
  });

  test('route throttles reach the stage: /verify limited on its own, the other routes at the stage limit', () => {
    const { template } = synthFleet(fleetConfig({ routeThrottles: { verify: { rateLimit: 5, burstLimit: 10 } } }));
    const stage = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Stage'))[0].Properties as Json;
    expect(stage.RouteSettings).toEqual({
      'POST /verify': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      'POST /apis/authentication.k8s.io/v1/tokenreviews': { ThrottlingRateLimit: 30, ThrottlingBurstLimit: 60 },
      'ANY /auth': { ThrottlingRateLimit: 30, ThrottlingBurstLimit: 60 },
      'ANY /auth/{proxy+}': { ThrottlingRateLimit: 30, ThrottlingBurstLimit: 60 },
    });
  });

  test('the verifier role reads exactly the configured JWKS and deny-list objects, nothing else', () => {
    const statements = verifierStatements(main);
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatchObject({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] });
    expect(statements[1]).toMatchObject({ Sid: 'ReadTheTrustedIssuersJwksAndDenyLists', Effect: 'Allow', Action: 's3:GetObject' });
    const resources = (statements[1].Resource as unknown[]).map(render);
    // alpha and beta (same account): their two objects each, through cross-stack imports; gamma
    // (another account): its deny list by name; delta (another region) and EKS: nothing in S3.
    expect(resources).toHaveLength(5);
    expect(resources.filter((r) => /^<output:[^>]+>\/openid\/v1\/jwks$/.test(r))).toHaveLength(1);
    expect(resources.filter((r) => /^<output:[^>]+>\/beta\/openid\/v1\/jwks$/.test(r))).toHaveLength(1);
    expect(resources.filter((r) => /^<output:[^>]+>\/control\/deny-list\.json$/.test(r))).toHaveLength(2);
    expect(resources).toContain(`arn:aws:s3:::${GAMMA_PRIVATE_BUCKET}/control/deny-list.json`);
    expect(resources.join(' ')).not.toMatch(/\*/);
    expect(main.fleet.verifyApi.role.node.defaultChild).toMatchObject({ roleName: 'kube-oidc-fleet-fleet-prod' });
  });

  test('TRUSTED_ISSUERS names every issuer with its one key source, as the handler parses it', () => {
    const variables = (verifierFunction(main).Environment as Json).Variables as Record<string, unknown>;
    for (const single of ['ISSUER_URL', 'DOCUMENTS_BUCKET', 'JWKS_KEY', 'PRIVATE_BUCKET', 'CLUSTER_NAME']) expect(variables[single]).toBeUndefined();
    expect(variables).toMatchObject({ ALLOWED_AUDIENCES: '["verify.example.com","beta.example.com"]', DEFAULT_AUDIENCES: '["verify.example.com"]', METRICS_NAMESPACE: 'KubeOidc/fleet/fleet-prod' });
    const text = render(variables.TRUSTED_ISSUERS);
    const entries = trustedIssuersEnv('TRUSTED_ISSUERS', { TRUSTED_ISSUERS: text })!;
    const imported = expect.stringMatching(/^<output:[^>]+>$/);
    expect(entries).toEqual([
      { issuer: expect.stringMatching(/^https:\/\/<output:[^>]+>$/), cluster: 'alpha', documentsBucket: imported, jwksKey: 'openid/v1/jwks', privateBucket: imported, denyListKey: 'control/deny-list.json' },
      {
        issuer: 'https://oidc.example.com/beta', cluster: 'beta', documentsBucket: imported, jwksKey: 'beta/openid/v1/jwks', privateBucket: imported, denyListKey: 'control/deny-list.json',
        allowedAudiences: ['beta.example.com'], kidlessCompat: true,
      },
      { issuer: 'https://oidc.example.com/gamma', cluster: 'gamma', discovery: true, privateBucket: GAMMA_PRIVATE_BUCKET, denyListKey: 'control/deny-list.json' },
      { issuer: 'https://oidc.example.com/delta', cluster: 'delta', discovery: true },
      { issuer: EKS_ISSUER, cluster: 'eks-payments', discovery: true },
    ]);
    // The bucket objects the role may read are the ones the environment names.
    const [alpha, beta] = main.stacks;
    expect(entries[0].documentsBucket).not.toBe(entries[0].privateBucket);
    expect(alpha.issuerSite.documentsBucket).not.toBe(beta.issuerSite.documentsBucket);
  });

  test('depends on the same-account cluster stacks it imports from, and on no other', () => {
    const dependencies = main.fleet.dependencies.map((s) => s.stackName).sort();
    expect(dependencies).toEqual(['OidcCluster-alpha', 'OidcCluster-beta']);
  });

  test('warns at synth about the trusted cluster whose deny list it cannot read', () => {
    const warnings = Annotations.fromStack(main.fleet).findWarning('*', Match.stringLikeRegexp('reads no deny list'));
    expect(warnings.map((w) => String(w.entry.data))).toEqual([expect.stringContaining('cluster delta')]);
  });

  test('an error alarm on the alarm topic and a dashboard of the Verify API alone', () => {
    const topicId = main.fleet.getLogicalId(main.fleet.alarms.topic.node.defaultChild as never);
    const alarms = Object.values(resourcesOf(main.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties as Json);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', AlarmActions: [{ Ref: topicId }], OKActions: [{ Ref: topicId }] });
    const dashboards = Object.values(resourcesOf(main.template, 'AWS::CloudWatch::Dashboard')).map((d) => d.Properties as Json);
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0].DashboardName).toBe('kube-oidc-fleet-fleet-prod');
    const body = JSON.stringify(dashboards[0].DashboardBody);
    expect(body).toContain('# Verify API');
    expect(body).toContain('KubeOidc/fleet/fleet-prod');
    expect(body).not.toContain('# JWKS sync');
  });

  test('outputs the API URL and the verifier role ARN other accounts grant', () => {
    const outputs = main.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(['AlarmTopicArn', 'VerifierRoleArn', 'VerifyApiUrl']);
    expect(main.fleet.resolve(main.fleet.verifierRoleArn)).toBe(`arn:aws:iam::${ACCOUNT}:role/kube-oidc-fleet-fleet-prod`);
  });

  test('with iamAuth every route, $default included, needs SigV4', () => {
    const { template } = synthFleet(fleetConfig({ iamAuth: true, callerAudiences: { [`arn:aws:iam::${ACCOUNT}:role/Billing`]: ['verify.example.com'] } }));
    const routes = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Route')).map((r) => (r.Properties as Json).AuthorizationType);
    expect(routes).toEqual(Array(5).fill('AWS_IAM'));
  });

  test('a fleet of discovery issuers only has no S3 permission at all', () => {
    const s = synthFleet(fleetConfig({ trustClusters: ['delta'], externalIssuers: [] }));
    expect(verifierStatements(s).map((st) => st.Action)).toEqual([['logs:CreateLogStream', 'logs:PutLogEvents']]);
  });
});

describe('a cluster in another account grants its deny list to the fleet role', () => {
  test('fleetDenyListReaders names the fleet role for gamma only', () => {
    expect([...fleetDenyListReaders([fleetConfig()], clusters())]).toEqual([['gamma', [`arn:aws:iam::${ACCOUNT}:role/kube-oidc-fleet-fleet-prod`]]]);
  });

  test('gamma\'s private bucket policy allows that role s3:GetObject on the deny list alone', () => {
    const gamma = main.stacks.find((s) => s.stackName === 'OidcCluster-gamma')!;
    const template = Template.fromStack(gamma);
    const privateId = gamma.getLogicalId(gamma.issuerSite.privateBucket.node.defaultChild as never);
    const policy = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy')).find((p) => JSON.stringify((p.Properties as Json).Bucket) === JSON.stringify({ Ref: privateId }))!;
    const statements = ((policy.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
    const grant = statements.filter((s) => s.Sid === 'FleetVerifiersReadTheDenyList');
    expect(grant).toEqual([{
      Sid: 'FleetVerifiersReadTheDenyList',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [privateId, 'Arn'] }, '/control/deny-list.json']] },
      Condition: { ArnEquals: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/kube-oidc-fleet-fleet-prod`] } },
    }]);
    // The other clusters' bucket policies are as without a fleet.
    for (const other of main.stacks.filter((s) => s !== gamma)) expect(JSON.stringify(Template.fromStack(other).toJSON())).not.toContain('FleetVerifiersReadTheDenyList');
  });

  test('evaluated as IAM does, the grant lets the fleet role read the deny list and nothing else, and no other principal', () => {
    const gamma = main.stacks.find((s) => s.stackName === 'OidcCluster-gamma')!;
    const template = Template.fromStack(gamma);
    const privateId = gamma.getLogicalId(gamma.issuerSite.privateBucket.node.defaultChild as never);
    const policy = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy')).find((p) => JSON.stringify((p.Properties as Json).Bucket) === JSON.stringify({ Ref: privateId }))!;
    // The bucket's ARN made plain, as CloudFormation resolves it.
    const document = JSON.parse(JSON.stringify((policy.Properties as Json).PolicyDocument)
      .replace(new RegExp(`\\{"Fn::GetAtt":\\["${privateId}","Arn"\\]\\}`, 'g'), `"arn:aws:s3:::${GAMMA_PRIVATE_BUCKET}"`)
      .replace(/\{"Fn::Join":\["",\[("[^"]*"(?:,"[^"]*")*)\]\]\}/g, (_, parts: string) => JSON.stringify((JSON.parse(`[${parts}]`) as string[]).join('')))) as PolicyDocument;
    const fleetRole = `arn:aws:iam::${ACCOUNT}:role/kube-oidc-fleet-fleet-prod`;
    const ask = (principal: string, key: string) => evaluate({ identity: [], resource: [document] }, {
      principal: { type: 'AWS', id: principal }, action: 's3:GetObject', resource: `arn:aws:s3:::${GAMMA_PRIVATE_BUCKET}/${key}`,
      context: { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principal },
    }).decision;
    expect(ask(fleetRole, 'control/deny-list.json')).toBe('allow');
    expect(ask(fleetRole, 'state/rotation.json')).toBe('implicit-deny');
    expect(ask(fleetRole, 'keys/cluster.pub')).toBe('implicit-deny');
    expect(ask(`arn:aws:iam::${ACCOUNT}:role/SomeoneElse`, 'control/deny-list.json')).toBe('implicit-deny');
  });

  test('a reader that is not a role ARN is refused at synth', () => {
    const app = testApp();
    const [alpha] = clusters();
    expect(() => addClusterStacks(app, [alpha], new Map([['alpha', ['arn:aws:iam::210987654321:user/someone']]]))).toThrow(/denyListReaderArns .*user\/someone.* are not IAM role ARNs/);
  });
});

describe('fleetVerifyStackProps', () => {
  const sites = () => {
    const app = testApp();
    const stacks = addClusterStacks(app, clusters());
    return new Map(stacks.map((s) => [s.node.id.replace(/^OidcCluster-/, ''), s.issuerSite]));
  };
  const problemsOf = (fleet: FleetVerifierConfig, config: ClusterConfig[] = clusters()): string[] => {
    try {
      fleetVerifyStackProps(fleet, config, sites());
    } catch (err) {
      if (err instanceof ConfigValidationError) return [...err.problems];
      throw err;
    }
    return [];
  };

  test('maps the fleet\'s policy, throttle and alarm e-mails', () => {
    const props = fleetVerifyStackProps(fleetConfig({ clockSkewSeconds: 30, keysTtlSeconds: 120, alarms: { emails: ['oncall@example.com'] } }), clusters(), sites());
    expect(props.name).toBe('fleet-prod');
    expect(props.env).toEqual(HERE);
    expect(props.policy.audiences).toEqual(['verify.example.com', 'beta.example.com']);
    expect(props.policy.clockSkew?.toSeconds()).toBe(30);
    expect(props.policy.keysTtl?.toSeconds()).toBe(120);
    expect(props.throttle).toEqual({ rateLimit: 30, burstLimit: 60 });
    expect(props.alarmEmails).toEqual(['oncall@example.com']);
    expect(props.trustedIssuers.map((t) => t.kind)).toEqual(['bucket', 'bucket', 'discovery', 'discovery', 'discovery']);
  });

  test('reports every problem at once, naming the fleet, field, value and fix', () => {
    const problems = problemsOf(fleetConfig({
      name: 'Fleet_Prod',
      trustClusters: ['nope', 'alpha', 'alpha', { name: 'delta', privateBucketName: 'delta-private' }],
      externalIssuers: [{ issuer: `${EKS_ISSUER}/` }, { issuer: 'https://oidc.example.com/beta' }, { issuer: 'https://other.example.com', name: 'alpha' }],
      defaultAudiences: ['elsewhere.example.com'],
      callerAudiences: { [`arn:aws:iam::${ACCOUNT}:role/Billing`]: ['verify.example.com'] },
    }));
    expect(problems).toEqual([
      expect.stringMatching(/^fleet verifier "Fleet_Prod": name = "Fleet_Prod" is not a DNS label.*; use lowercase/),
      expect.stringMatching(/defaultAudiences = "elsewhere.example.com" is not in audiences/),
      expect.stringMatching(/callerAudiences = .* needs iamAuth; set iamAuth to true/),
      expect.stringMatching(/trustClusters\[0\] = "nope" is not a cluster of this configuration; use one of \["alpha","beta","gamma","delta"\]/),
      expect.stringMatching(/trustClusters\[2\] = "alpha" is listed twice/),
      expect.stringMatching(/trustClusters\[3\]\.privateBucketName = "delta-private" is in another region .*; remove it, or deploy the fleet verifier in the cluster's region/),
      expect.stringMatching(/externalIssuers\[0\]\.issuer = ".*EXAMPLE\/" is not an https URL without a trailing slash/),
      expect.stringMatching(/externalIssuers\[1\]\.issuer = "https:\/\/oidc.example.com\/beta" is the issuer of cluster beta; list "beta" under trustClusters instead/),
      expect.stringMatching(/externalIssuers\[2\]\.name = "alpha" is already a name of this fleet/),
    ]);
  });

  test('a default-domain cluster elsewhere cannot be trusted (its issuer is known only after deployment)', () => {
    const config = clusters();
    const movedAlpha = clusterConfig({ ...defaultDomainCluster(), name: 'alpha', env: { account: OTHER_ACCOUNT, region: 'us-east-1' } });
    expect(problemsOf(fleetConfig({ trustClusters: ['alpha'], externalIssuers: [] }), [movedAlpha, ...config.slice(1)])).toEqual([
      expect.stringMatching(/trustClusters\[0\] = "alpha" is in another account and its issuer is the CloudFront default domain.*; give the cluster an issuer custom domain/),
    ]);
  });

  test('an env on one side only is refused: synth could not tell where the cluster\'s buckets are', () => {
    expect(problemsOf(fleetConfig({ env: undefined, trustClusters: ['alpha'], externalIssuers: [] }))).toEqual([
      expect.stringMatching(/trustClusters\[0\] = "alpha" cannot be placed.*; give both an env with account and region, or leave both environment-agnostic/),
    ]);
  });

  test('environment-agnostic fleet and clusters read the clusters\' buckets', () => {
    const agnostic = [clusterConfig({ ...defaultDomainCluster(), name: 'alpha' })];
    const app = testApp();
    const stacks = addClusterStacks(app, agnostic);
    const props = fleetVerifyStackProps(fleetConfig({ env: undefined, trustClusters: ['alpha'], externalIssuers: [] }), agnostic, new Map([['alpha', stacks[0].issuerSite]]));
    expect(props.trustedIssuers).toEqual([expect.objectContaining({ kind: 'bucket', cluster: 'alpha', documentsBucket: stacks[0].issuerSite.documentsBucket })]);
    expect(props.env).toBeUndefined();
  });

  test('two fleets with one name are refused (the name names a stack and an IAM role)', () => {
    const app = testApp();
    expect(() => addFleetVerifyStacks(app, [fleetConfig(), fleetConfig()], clusters(), sites())).toThrow(/"fleet-prod": name is used twice/);
  });
});

describe('checks on the fleet template', () => {
  function nagFindings(stack: Stack): string[] {
    const report = new AwsSolutionsChecks().validateScope(stack);
    return report.violations
      .filter((v) => v.severity === 'error' || v.severity === 'warning')
      .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
  }

  test('cdk-nag AwsSolutions: no unacknowledged finding on the fleet stack, or on the cluster stack granting its deny list', () => {
    const gamma = main.stacks.find((s) => s.stackName === 'OidcCluster-gamma')!;
    for (const stack of [main.fleet, gamma]) expect({ stack: stack.stackName, findings: nagFindings(stack) }).toEqual({ stack: stack.stackName, findings: [] });
  });

  test('cfn-lint: no error on the fleet template and the granting cluster template', () => {
    const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) throw new Error('cfn-lint is not installed or not on PATH: install it with `pip install cfn-lint`');
    const templates = [main.fleet, main.stacks.find((s) => s.stackName === 'OidcCluster-gamma')!].map((s) => path.join(main.outdir, s.templateFile));
    const result = spawnSync('cfn-lint', ['--format', 'parseable', '--', ...templates], { encoding: 'utf8' });
    const errors = `${result.stdout}${result.stderr}`.split('\n').filter((line) => /:E\d{4}:/.test(line));
    expect({ errorBit: (result.status ?? -1) & 2, errors }).toEqual({ errorBit: 0, errors: [] });
    expect((result.status ?? -1) & ~(2 | 4 | 8)).toBe(0);
  }, 120_000);
});
