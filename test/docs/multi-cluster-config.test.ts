/**
 * examples/config/multi-cluster.json: validated and synthesized the way `npx cdk synth -c
 * config=examples/config/multi-cluster.json` does (the config loader of bin/app.ts, Lambda bundling
 * with esbuild, cdk-nag), once. The synthesized stacks are then checked against what the guide and
 * the security model say about them: stack outputs, the role trust policy, the alarms.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ClusterConfig } from '../../core/config';
import { addClusterStacks, ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { loadClusterConfig } from '../../lib/config-loader';
import { testApp } from '../infra/support/synth';
import { docBlock, projectFile, REPO_ROOT } from './support/doc-blocks';
import { DOCS_EXAMPLE_CONFIG } from './support/example-config';

type Json = Record<string, unknown>;

let outdir: string;
let clusters: ClusterConfig[];
let stacks: ClusterOidcStack[];
let templates: Map<string, Json>;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'kube-oidc-example-synth-'));
  clusters = loadClusterConfig(join(REPO_ROOT, DOCS_EXAMPLE_CONFIG));
  const app = testApp({ bundle: true, outdir });
  stacks = addClusterStacks(app, clusters);
  app.synth();
  templates = new Map(stacks.map((stack) => [stack.stackName, Template.fromStack(stack).toJSON() as Json]));
}, 180_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

function resources(stackName: string, type: string): [string, Json][] {
  const all = (templates.get(stackName)?.Resources ?? {}) as Record<string, Json>;
  return Object.entries(all).filter(([, resource]) => resource.Type === type);
}

describe('the two-cluster example configuration', () => {
  test('is valid, with no warning, and names two clusters', () => {
    expect(clusters.map((c) => [c.name, c.stackId, c.warnings])).toEqual([
      ['prod-eu', 'OidcCluster-prod-eu', []],
      ['staging', 'OidcCluster-staging', []],
    ]);
    expect(clusters.map((c) => c.serviceAccountRoles.map((r) => r.match))).toEqual([['exact', 'namePrefix', 'namespace'], ['exact', 'exact']]);
  });

  test('synthesizes one template per cluster, with both Lambdas bundled', () => {
    const written = readdirSync(outdir);
    expect(written.filter((f) => f.endsWith('.template.json')).sort()).toEqual(['OidcCluster-prod-eu.template.json', 'OidcCluster-staging.template.json']);
    const bundles = written.filter((f) => f.startsWith('asset.') && existsSync(join(outdir, f, 'index.js')));
    expect(bundles.length).toBeGreaterThanOrEqual(2);
  });

  test('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    for (const stack of stacks) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`));
      expect({ stack: stack.stackName, findings }).toEqual({ stack: stack.stackName, findings: [] });
    }
  });
});

describe('what the guide shows of the prod-eu stack', () => {
  test('guide-outputs lists exactly the stack outputs, with the same issuer values', () => {
    const documented = new Map(docBlock('guide-outputs').text.trim().split('\n').map((line) => line.split('\t') as [string, string]));
    const outputs = (templates.get('OidcCluster-prod-eu')?.Outputs ?? {}) as Record<string, { Value: unknown }>;
    expect([...documented.keys()].sort()).toEqual(Object.keys(outputs).sort());
    for (const key of ['IssuerUrl', 'JwksUri', 'KubeApiserverFlags']) expect(documented.get(key)).toBe(outputs[key].Value);
  });

  test('the deployed trust policy of payments-api has the conditions of guide-trust-policy-output', () => {
    const documented = JSON.parse(docBlock('guide-trust-policy-output').text) as { Statement: { Condition: Json; Action: string }[] };
    const roles = resources('OidcCluster-prod-eu', 'AWS::IAM::Role')
      .map(([, role]) => ((role.Properties as Json).AssumeRolePolicyDocument as { Statement: { Condition?: { StringEquals?: Json }; Action: string }[] }).Statement[0])
      .filter((statement) => statement.Condition?.StringEquals?.['oidc.example.com/prod-eu:sub'] === 'system:serviceaccount:payments:api');
    expect(roles).toHaveLength(1);
    expect(roles[0].Condition).toEqual(documented.Statement[0].Condition);
    expect(roles[0].Action).toBe(documented.Statement[0].Action);
  });
});

describe('the alarms of docs/security-model.md', () => {
  const documented = [...projectFile('docs/security-model.md').matchAll(/^\| `([A-Za-z]+\/[A-Za-z]+Alarm)` \|/gm)].map((m) => m[1]);

  /** The alarms of a stack, by construct path below the stack (`JwksSync/StaleAlarm`). */
  function alarmsOf(stackName: string): Map<string, cloudwatch.Alarm> {
    const stack = stacks.find((s) => s.stackName === stackName);
    if (!stack) throw new Error(`no stack ${stackName}`);
    return new Map(stack.node.findAll().filter((c): c is cloudwatch.Alarm => c instanceof cloudwatch.Alarm)
      .map((alarm) => [alarm.node.path.replace(`${stackName}/`, ''), alarm]));
  }

  test.each(['OidcCluster-prod-eu', 'OidcCluster-staging'])('%s has exactly the documented alarms', (stackName) => {
    expect(documented.length).toBeGreaterThan(0);
    expect([...alarmsOf(stackName).keys()].sort()).toEqual([...documented].sort());
  });

  test('the stale alarm fires after the 15 minutes the page says (5-minute schedule)', () => {
    const stale = alarmsOf('OidcCluster-prod-eu').get('JwksSync/StaleAlarm');
    expect((stale?.node.defaultChild as cloudwatch.CfnAlarm).threshold).toBe(15 * 60);
    expect(projectFile('docs/security-model.md')).toContain('not confirmed current for 15 minutes');
  });
});
