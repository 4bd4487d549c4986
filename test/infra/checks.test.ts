/**
 * Whole-template checks: cdk-nag's AwsSolutions pack on every test stack, `cfn-lint` on every
 * synthesized template, and `npx cdk synth` from the repository with no AWS credentials.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addClusterStacks } from '../../lib/cluster-oidc-stack';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { loadClusterConfig } from '../../lib/config-loader';
import { REPO_ROOT, clusterConfig, defaultDomainCluster, fullCluster, testApp } from './support/synth';
import type { Json } from './support/synth';
import { cfnLint } from './support/cfn-lint';

function vpcCluster(): Json {
  const cluster = defaultDomainCluster();
  cluster.name = 'private';
  cluster.keySources = {
    upload: { enabled: true, writerArns: ['arn:aws:iam::123456789012:role/KeyPublisher'] },
    clusterJwks: {
      url: 'https://10.0.0.10:6443/openid/v1/jwks',
      tokenParameterName: '/kube-oidc/private/discovery-token',
      vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
    },
  };
  return cluster;
}

/** Unacknowledged AwsSolutions findings of a stack, one line each. */
function nagFindings(stack: Stack, severity: 'error' | 'warning'): string[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations
    .filter((v) => v.severity === severity)
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`));
}

/** Runs a command without AWS credentials of any kind, so a lookup would fail. */
function runWithoutCredentials(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_')) delete env[name];
  Object.assign(env, {
    AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_VERSION_CHECK: 'true',
  });
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env });
    let output = '';
    child.stdout.on('data', (chunk) => { output += String(chunk); });
    child.stderr.on('data', (chunk) => { output += String(chunk); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

let outdir: string;
let cliOutdir: string;
let stacks: ClusterOidcStack[];
let cliRun: { code: number | null; output: string };

beforeAll(async () => {
  outdir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-synth-'));
  cliOutdir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-cli-'));
  // The CLI synth runs in its own process while this one synthesizes the test apps.
  const cli = runWithoutCredentials('npx', ['cdk', 'synth', '--quiet', '--output', cliOutdir], REPO_ROOT);
  const app = testApp({ bundle: true, outdir });
  stacks = addClusterStacks(app, [fullCluster(), defaultDomainCluster(), vpcCluster()].map(clusterConfig));
  app.synth();
  cliRun = await cli;
}, 240_000);

afterAll(() => {
  for (const dir of [outdir, cliOutdir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npx cdk synth from the repository', () => {
  test('works without AWS credentials and writes one template per configured cluster', () => {
    expect({ code: cliRun.code, output: cliRun.code === 0 ? '' : cliRun.output }).toEqual({ code: 0, output: '' });
    const expected = loadClusterConfig(path.join(REPO_ROOT, 'config/clusters.json')).map((c) => `${c.stackId}.template.json`);
    const written = readdirSync(cliOutdir).filter((f) => f.endsWith('.template.json'));
    expect(written.sort()).toEqual(expected.sort());
  });

  test('needed no context lookups', () => {
    const manifest = JSON.parse(readFileSync(path.join(cliOutdir, 'manifest.json'), 'utf8')) as Json;
    expect(manifest.missing).toBeUndefined();
  });

  test('bundled both Lambda entries, minified, with local esbuild (no Docker)', () => {
    const [templateFile] = readdirSync(cliOutdir).filter((f) => f.endsWith('.template.json'));
    const template = JSON.parse(readFileSync(path.join(cliOutdir, templateFile), 'utf8')) as { Resources: Record<string, Json> };
    const bundles = Object.values(template.Resources)
      // The project's two functions are the arm64 ones (aws-cdk-lib's own handlers are not).
      .filter((r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify((r.Properties as Json).Architectures) === '["arm64"]')
      .map((r) => path.join(cliOutdir, `asset.${String(((r.Properties as Json).Code as Json).S3Key).replace(/\.zip$/, '')}`, 'index.js'));
    expect(bundles).toHaveLength(2);
    for (const bundle of bundles) {
      expect(existsSync(bundle)).toBe(true);
      expect(readFileSync(bundle, 'utf8').split('\n').length).toBeLessThan(20);
    }
    expect(cliRun.output).not.toMatch(/docker/i);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('no unacknowledged error or warning on any test stack or the example', () => {
    const exampleApp = testApp();
    const example = addClusterStacks(exampleApp, loadClusterConfig(path.join(REPO_ROOT, 'config/clusters.json')));
    exampleApp.synth();
    for (const stack of [...stacks, ...example]) {
      expect({ stack: stack.stackName, errors: nagFindings(stack, 'error'), warnings: nagFindings(stack, 'warning') })
        .toEqual({ stack: stack.stackName, errors: [], warnings: [] });
    }
  });

  test('the check does catch an unacknowledged finding', () => {
    const app = testApp();
    const [stack] = addClusterStacks(app, [clusterConfig(defaultDomainCluster())]);
    const role = new iam.Role(stack, 'Careless', { assumedBy: new iam.AccountRootPrincipal() });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    app.synth();
    expect(nagFindings(stack, 'error')).toEqual(expect.arrayContaining([expect.stringMatching(/^AwsSolutions-IAM5\[Action::s3:\*\] at OidcCluster-dev\/Careless/)]));
  });
});

describe('cfn-lint', () => {
  test('reports no error on any synthesized template (warnings allowed)', async () => {
    const templates = [
      ...readdirSync(outdir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(outdir, f)),
      ...readdirSync(cliOutdir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(cliOutdir, f)),
    ];
    expect(templates).toHaveLength(stacks.length + 1);
    const result = await cfnLint(templates);
    const errors = result.output.split('\n').filter((line) => /:E\d{4}:/.test(line));
    expect({ errorBit: result.code & 2, errors }).toEqual({ errorBit: 0, errors: [] });
    expect(result.code & ~(2 | 4 | 8)).toBe(0);
  }, 120_000);

  test('a template with an error is caught (exit code bit 2)', async () => {
    const broken = path.join(outdir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { NoSuchProperty: true } } } }));
    const result = await cfnLint([broken]);
    expect(result.code & 2).toBe(2);
  }, 60_000);
});
