/**
 * The guide's section "Pods get their identity from an annotation" against the code: the
 * ServiceAccount block is what `manifest --webhook` prints, the environment block is what the
 * webhook core injects into the documented workload with the flags of deploy/webhook, the
 * commands use real flags, files, names and audiences.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { webhookCommand, webhookOptionsFromFlags } from '../../cli/commands/webhook';
import { parseCommandLine } from '../../cli/main';
import { LeafCommand } from '../../cli/command';
import { mutatePod } from '../../core/webhook/mutate';
import { layoutServiceTokens } from '../../core/webhook/service-tokens';
import { Pod, ServiceAccount } from '../../core/webhook/types';
import { exampleConfig } from './support/example-config';
import { bashSyntaxError, requireTool, runCliInProcess } from './support/run';
import { cliProblems, docBlock, kubeOidcInvocations, REPO_ROOT } from './support/doc-blocks';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function documentedRoleArn(): string {
  const outputs = new Map(docBlock('guide-outputs').text.trim().split('\n').map((line) => line.split('\t') as [string, string]));
  return outputs.get('PaymentsApiRoleArn') as string;
}

function deploymentArgs(): string[] {
  const deployment = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'webhook', 'deployment.yaml'), 'utf8')) as Json;
  return deployment.spec.template.spec.containers[0].args;
}

describe('guide: pods get their identity from an annotation', () => {
  test('guide-webhook-deploy builds the Dockerfile and applies the Kustomize base under its names', () => {
    requireTool('bash');
    const script = docBlock('guide-webhook-deploy').text;
    expect(bashSyntaxError(script)).toBe('');
    expect(script).toContain('-f deploy/webhook/Dockerfile');
    expect(readFileSync(join(REPO_ROOT, 'deploy', 'webhook', 'Dockerfile'), 'utf8')).toMatch(/^FROM node:24/m);
    const kustomization = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'webhook', 'kustomization.yaml'), 'utf8')) as Json;
    const imageName = kustomization.images[0].name;
    expect(script).toContain(`kustomize edit set image ${imageName}=`);
    const deployment = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'webhook', 'deployment.yaml'), 'utf8')) as Json;
    expect(script).toContain(`kubectl -n ${kustomization.namespace} rollout status deployment/${deployment.metadata.name}`);
    // The flags the guide quotes are the ones the base sets.
    expect(deploymentArgs()).toEqual(expect.arrayContaining(['--aws-default-region=eu-west-1', '--sts-regional-endpoint']));
  });

  test('guide-webhook-serviceaccount is what guide-webhook-manifest prints for the documented role', async () => {
    expect(kubeOidcInvocations(docBlock('guide-webhook-manifest').text).map(cliProblems).flat()).toEqual([]);
    const [args] = kubeOidcInvocations(docBlock('guide-webhook-manifest').text);
    const run = await runCliInProcess(args.map((arg) => (arg === '$ROLE_ARN' ? documentedRoleArn() : arg)));
    expect(run.status).toBe(0);
    expect(parseYaml(run.stdout)).toEqual(parseYaml(docBlock('guide-webhook-serviceaccount').text));
    expect(run.stdout).toBe(docBlock('guide-webhook-serviceaccount').text);
  });

  test('guide-webhook-env is what the webhook injects into guide-webhook-workload with the base\'s flags', () => {
    const account = parseYaml(docBlock('guide-webhook-serviceaccount').text) as ServiceAccount;
    const [workload] = parseAllDocuments(docBlock('guide-webhook-workload').text).map((doc) => doc.toJS() as Json);
    expect(workload.metadata.namespace).toBe(account.metadata.namespace);
    expect(workload.spec.template.spec.serviceAccountName).toBe(account.metadata.name);
    const serve = webhookCommand.subcommands.find((c) => c.name === 'serve') as LeafCommand;
    const options = webhookOptionsFromFlags(parseCommandLine(serve, deploymentArgs()));
    const pod: Pod = { metadata: workload.spec.template.metadata, spec: workload.spec.template.spec };
    const mutation = mutatePod(pod, account, options, () => 0);
    const env = mutation.operations.filter((op) => op.path === '/spec/containers/0/env').flatMap((op) => op.value as { name: string; value: string }[]);
    expect(env.map((variable) => `${variable.name}=${variable.value}`).join('\n') + '\n').toBe(docBlock('guide-webhook-env').text);
  });

  test('guide-webhook-verify reads the variable named for the audience, which the Verify API serves', () => {
    requireTool('bash');
    const script = docBlock('guide-webhook-verify').text;
    expect(bashSyntaxError(script)).toBe('');
    const [layout] = layoutServiceTokens(['orders.example.internal']);
    expect(script).toContain(`"$${layout.envName}"`);
    expect(docBlock('guide-webhook-env').text).toContain(`${layout.envName}=/var/run/secrets/kube-oidc-aws.io/tokens/${layout.path}`);
    const prodEu = exampleConfig().clusters[0] as Json;
    expect(prodEu.verifyApi.audiences).toContain('orders.example.internal');
  });

  test('guide-webhook-review uses real flags', () => {
    requireTool('bash');
    expect(bashSyntaxError(docBlock('guide-webhook-review').text)).toBe('');
    const invocations = kubeOidcInvocations(docBlock('guide-webhook-review').text);
    expect(invocations).toHaveLength(1);
    expect(invocations.map(cliProblems).flat()).toEqual([]);
  });
});
