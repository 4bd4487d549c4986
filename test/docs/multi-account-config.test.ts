/**
 * examples/config/multi-account.json: validated and synthesized as `npx cdk synth -c
 * config=examples/config/multi-account.json` does (the config loader and addConfigStacks of
 * bin/app.ts, Lambda bundling), once; every template then passes cdk-nag AwsSolutions and cfn-lint
 * like the other templates, and the stacks are the ones the guide's "Many clusters, many
 * accounts" describes: two clusters, their roles in two other accounts, one fleet verifier.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ConfigFile } from '../../core/config';
import { loadConfigFile } from '../../lib/config-loader';
import { addConfigStacks } from '../../lib/config-stacks';
import type { ConfigStacks } from '../../lib/config-stacks';
import { cfnLint } from '../infra/support/cfn-lint';
import { testApp } from '../infra/support/synth';
import { REPO_ROOT } from './support/doc-blocks';

type Json = Record<string, unknown>;

let outdir: string;
let config: ConfigFile;
let stacks: ConfigStacks;
let all: Stack[];

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'kube-oidc-multi-account-'));
  config = loadConfigFile(join(REPO_ROOT, 'examples/config/multi-account.json'));
  const app = testApp({ bundle: true, outdir });
  stacks = addConfigStacks(app, config);
  app.synth();
  all = [...stacks.clusterStacks, ...stacks.federationStacks, ...stacks.fleetStacks];
}, 180_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** The resources of one type in a stack's template. */
function resources(stack: Stack, type: string): Json[] {
  return Object.values(Template.fromStack(stack).findResources(type)) as Json[];
}

describe('the multi-account example configuration', () => {
  test('is valid, with no warning: two clusters and one fleet verifier', () => {
    expect(config.clusters.map((c) => [c.name, c.issuer.kind, c.warnings])).toEqual([
      ['prod-eu', 'customDomain', []],
      ['prod-eu-2', 'customDomain', []],
    ]);
    expect(config.fleetVerifiers.map((f) => [f.stackId, f.warnings])).toEqual([['OidcFleet-fleet', []]]);
  });

  test('puts roles in two accounts other than the clusters\' own', () => {
    const clusterAccounts = new Set(config.clusters.map((c) => c.env?.account));
    const roleAccounts = new Set(config.clusters.flatMap((c) => c.federationAccounts.map((a) => a.account)));
    expect(roleAccounts.size).toBe(2);
    for (const account of roleAccounts) expect(clusterAccounts.has(account)).toBe(false);
  });

  test('synthesizes one template per cluster, per (cluster, account) and per fleet', () => {
    const written = readdirSync(outdir).filter((f) => f.endsWith('.template.json')).sort();
    expect(written).toEqual([
      'OidcCluster-prod-eu-2.template.json',
      'OidcCluster-prod-eu.template.json',
      'OidcFederation-prod-eu-2-333333333333.template.json',
      'OidcFederation-prod-eu-333333333333.template.json',
      'OidcFederation-prod-eu-444444444444.template.json',
      'OidcFleet-fleet.template.json',
    ]);
    expect(stacks.federationStacks.map((s) => [s.stackName, s.account])).toEqual([
      ['OidcFederation-prod-eu-333333333333', '333333333333'],
      ['OidcFederation-prod-eu-444444444444', '444444444444'],
      ['OidcFederation-prod-eu-2-333333333333', '333333333333'],
    ]);
  });

  test('each federation stack trusts its cluster\'s issuer on sub and aud', () => {
    const [payments] = stacks.federationStacks;
    const trust = resources(payments, 'AWS::IAM::Role')
      .map((role) => JSON.stringify((role.Properties as Json).AssumeRolePolicyDocument))
      .filter((doc) => doc.includes('oidc.example.com/prod-eu:sub'));
    expect(trust).toHaveLength(1);
    expect(trust[0]).toContain('system:serviceaccount:payments:api');
    expect(trust[0]).toContain('oidc.example.com/prod-eu:aud');
  });

  test('the fleet trusts both clusters and the EKS issuer', () => {
    const [fleet] = stacks.fleetStacks;
    const text = JSON.stringify(Template.fromStack(fleet).toJSON());
    for (const issuer of ['https://oidc.example.com/prod-eu', 'https://oidc.example.com/prod-eu-2', 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE']) {
      expect(text).toContain(issuer);
    }
  });

  test('has no unacknowledged cdk-nag AwsSolutions finding on any stack', () => {
    expect(all).toHaveLength(6);
    for (const stack of all) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`));
      expect({ stack: stack.stackName, findings }).toEqual({ stack: stack.stackName, findings: [] });
    }
  });

  test('cfn-lint reports no error on any template (warnings allowed)', async () => {
    const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json')).map((f) => join(outdir, f));
    expect(templates).toHaveLength(6);
    const result = await cfnLint(templates);
    const errors = result.output.split('\n').filter((line) => /:E\d{4}:/.test(line));
    expect({ errorBit: result.code & 2, errors }).toEqual({ errorBit: 0, errors: [] });
    expect(result.code & ~(2 | 4 | 8)).toBe(0);
  }, 120_000);
});
