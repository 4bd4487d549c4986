/**
 * docs/guide.md "Roles in other AWS accounts" against the code: the documented accounts are a plan
 * the app accepts for the example cluster, the commands name the stacks it synthesizes and flags
 * the CLI has, the trust policy is the CLI's, and the StackSet template is the provider the
 * federation stack creates, clean under cfn-lint.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../core/config';
import type { ClusterConfig, FederationAccountConfig } from '../../core/config';
import { federationStackIdFor, planFederationAccounts } from '../../core/federation-accounts';
import { trustPolicyDocument } from '../../core/trust-policy';
import { FederationAccountStack } from '../../lib/federation-account-stack';
import { testApp } from '../infra/support/synth';
import { DOCS_EXAMPLE_CONFIG, exampleConfig } from './support/example-config';
import { cliProblems, docBlock, kubeOidcInvocations, projectFile, shellCommands, shellWords } from './support/doc-blocks';
import { bashSyntaxError, requireTool, runCliInProcess } from './support/run';

type Json = Record<string, unknown>;

const documentedEntries = (): FederationAccountConfig[] => (JSON.parse(docBlock('guide-accounts-config').text) as { federationAccounts: FederationAccountConfig[] }).federationAccounts;

/** The example's prod-eu with the documented federationAccounts, validated as the app validates it. */
function prodEu(): ClusterConfig {
  const raw = exampleConfig().clusters.find((c) => c.name === 'prod-eu');
  const [cluster] = validateConfig({ clusters: [{ ...raw, federationAccounts: documentedEntries() }] }, { readKeyFile: (file) => projectFile(join(dirname(DOCS_EXAMPLE_CONFIG), file)) });
  return cluster;
}

describe('guide: roles in other AWS accounts', () => {
  test('guide-accounts-config is a plan the app accepts for prod-eu, moving its roles out of the home stack', () => {
    const cluster = prodEu();
    const plan = planFederationAccounts(cluster);
    expect(plan.accounts.map((a) => [a.stackId, a.region, a.roles.map((r) => r.id), a.existingOidcProviderArn])).toEqual([
      ['OidcFederation-prod-eu-333333333333', cluster.env?.region, ['payments-api'], undefined],
      ['OidcFederation-prod-eu-444444444444', 'eu-central-1', ['monitoring'], 'arn:aws:iam::444444444444:oidc-provider/oidc.example.com/prod-eu'],
    ]);
    expect(plan.homeRoles.map((r) => r.id)).toEqual(['ci-runners']);
  });

  test('guide-accounts-bootstrap trusts the home account from each documented account, in its stack\'s region', () => {
    requireTool('bash');
    const script = docBlock('guide-accounts-bootstrap').text;
    expect(bashSyntaxError(script)).toBe('');
    const cluster = prodEu();
    const plan = planFederationAccounts(cluster);
    const commands = shellCommands(script).map(shellWords);
    expect(commands.map((words) => words.slice(0, 3))).toEqual(plan.accounts.map(() => ['npx', 'cdk', 'bootstrap']));
    commands.forEach((words, i) => {
      expect(words[words.indexOf('--trust') + 1]).toBe(cluster.env?.account);
      expect(words[words.length - 1]).toBe(`aws://${plan.accounts[i].account}/${plan.accounts[i].region}`);
    });
  });

  test('guide-accounts-deploy names the cluster stack and exactly the federation stacks of the plan', () => {
    const script = docBlock('guide-accounts-deploy').text;
    expect(bashSyntaxError(script)).toBe('');
    const [words] = shellCommands(script).map(shellWords);
    const stacks = words.slice(3, words.indexOf('-c'));
    expect(words.slice(0, 3)).toEqual(['npx', 'cdk', 'deploy']);
    expect(stacks).toEqual(['OidcCluster-prod-eu', ...documentedEntries().map((e) => federationStackIdFor('prod-eu', e.account))]);
    expect(words.slice(words.indexOf('-c'))).toEqual(['-c', `config=${DOCS_EXAMPLE_CONFIG}`]);
  });

  test('guide-accounts-trust-policy is valid and prints the policy for the provider of the role\'s account', async () => {
    const invocations = kubeOidcInvocations(docBlock('guide-accounts-trust-policy').text);
    expect(invocations).toHaveLength(1);
    expect(cliProblems(invocations[0])).toEqual([]);
    const run = await runCliInProcess(invocations[0]);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(trustPolicyDocument(
      'arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod-eu',
      'https://oidc.example.com/prod-eu',
      { namespace: 'payments', serviceAccount: 'api' },
      'sts.amazonaws.com',
    ));
  });

  test('guide-accounts-stackset-template is the provider the federation stack creates for prod-eu, retained, and cfn-lint clean', () => {
    const documented = parseYaml(docBlock('guide-accounts-stackset-template').text) as { Resources: Record<string, Json> };
    const resources = Object.values(documented.Resources);
    expect(resources).toHaveLength(1);
    const cluster = prodEu();
    const [spec] = planFederationAccounts(cluster).accounts;
    const { stackId, ...props } = spec;
    const synthesized = Object.values(Template.fromStack(new FederationAccountStack(testApp(), stackId, props)).findResources('AWS::IAM::OIDCProvider')) as Json[];
    expect(synthesized).toHaveLength(1);
    expect(resources[0]).toEqual({ ...synthesized[0], UpdateReplacePolicy: 'Retain' });
    expect(synthesized[0].DeletionPolicy).toBe('Retain');

    const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) throw new Error('cfn-lint is not installed or not on PATH: install it with `pip install cfn-lint`');
    const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-stackset-'));
    try {
      const file = join(dir, 'provider-prod-eu.yaml');
      writeFileSync(file, docBlock('guide-accounts-stackset-template').text);
      const lint = spawnSync('cfn-lint', ['--format', 'parseable', '--', file], { encoding: 'utf8' });
      expect({ status: lint.status, output: lint.stdout + lint.stderr }).toEqual({ status: 0, output: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test('guide-accounts-stackset-commands: service-managed, auto-deployed, retained on removal, one region', () => {
    const script = docBlock('guide-accounts-stackset-commands').text;
    expect(bashSyntaxError(script)).toBe('');
    const [createSet, createInstances] = shellCommands(script).map(shellWords);
    const flag = (words: string[], name: string): string | undefined => (words.includes(name) ? words[words.indexOf(name) + 1] : undefined);
    expect(createSet.slice(0, 3)).toEqual(['aws', 'cloudformation', 'create-stack-set']);
    expect(flag(createSet, '--permission-model')).toBe('SERVICE_MANAGED');
    expect(flag(createSet, '--auto-deployment')).toBe('Enabled=true,RetainStacksOnAccountRemoval=true');
    expect(flag(createSet, '--template-body')).toBe('file://provider-prod-eu.yaml');
    expect(createInstances.slice(0, 3)).toEqual(['aws', 'cloudformation', 'create-stack-instances']);
    expect(flag(createInstances, '--stack-set-name')).toBe(flag(createSet, '--stack-set-name'));
    expect(flag(createInstances, '--deployment-targets')).toMatch(/^OrganizationalUnitIds=ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/);
    // IAM is global: a second region would create the same provider again and fail.
    expect(createInstances.slice(createInstances.indexOf('--regions') + 1)).toEqual(['eu-west-1']);
  });
});
