/**
 * docs/webhook.md (the admission webhook reference) against the code: the ServiceAccount block
 * uses the annotations the core reads, the environment block is what the core injects with the
 * flags of deploy/webhook, the service-to-service table is the core's naming, the Kustomize patch
 * edits the base's real argument into flags `webhook serve` accepts, the commands use real flags.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { webhookCommand, webhookOptionsFromFlags } from '../../cli/commands/webhook';
import { parseCommandLine } from '../../cli/main';
import { LeafCommand } from '../../cli/command';
import { mutatePod } from '../../core/webhook/mutate';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX } from '../../core/webhook/options';
import { layoutServiceTokens, parseAudiences } from '../../core/webhook/service-tokens';
import { Pod, ServiceAccount } from '../../core/webhook/types';
import { bashSyntaxError, requireTool } from './support/run';
import { cliProblems, docBlock, kubeOidcInvocations, projectFile, REPO_ROOT } from './support/doc-blocks';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PAGE = 'docs/webhook.md';

function subcommand(name: string): LeafCommand {
  return webhookCommand.subcommands.find((c) => c.name === name) as LeafCommand;
}

function baseDeployment(): Json {
  return parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'webhook', 'deployment.yaml'), 'utf8')) as Json;
}

function baseArgs(): string[] {
  return baseDeployment().spec.template.spec.containers[0].args;
}

function documentedAccount(): ServiceAccount {
  return parseYaml(docBlock('webhook-serviceaccount').text) as ServiceAccount;
}

describe('docs/webhook.md: the webhook reference', () => {
  test('webhook-serviceaccount is a ServiceAccount with the annotations the core reads', () => {
    const account = documentedAccount() as unknown as Json;
    expect(account).toMatchObject({ apiVersion: 'v1', kind: 'ServiceAccount' });
    const annotations = account.metadata.annotations as Record<string, string>;
    expect(annotations[`${DEFAULT_ANNOTATION_PREFIX}/role-arn`]).toMatch(/^arn:aws:iam::\d{12}:role\//);
    const audiences = parseAudiences(annotations[`${DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX}/audiences`]);
    expect(audiences.ok).toBe(true);
    // Every annotation it shows is one the reference's table documents.
    for (const key of Object.keys(annotations)) expect(projectFile(PAGE)).toContain(`| \`${key}\` |`);
  });

  test('webhook-env is what the core injects into a bare container of that account with the base\'s flags', () => {
    const account = documentedAccount();
    const options = webhookOptionsFromFlags(parseCommandLine(subcommand('serve'), baseArgs()));
    expect(baseArgs()).toEqual(expect.arrayContaining(['--aws-default-region=eu-west-1', '--sts-regional-endpoint']));
    const pod: Pod = {
      metadata: { namespace: account.metadata.namespace },
      spec: { serviceAccountName: account.metadata.name, containers: [{ name: 'app', image: 'example.com/payments-api:1' }] },
    };
    const mutation = mutatePod(pod, account, options, () => 0);
    const env = mutation.operations.filter((op) => op.path === '/spec/containers/0/env').flatMap((op) => op.value as { name: string; value: string }[]);
    expect(env.length).toBeGreaterThan(0);
    expect(env.map((variable) => `${variable.name}=${variable.value}`).join('\n') + '\n').toBe(docBlock('webhook-env').text);
  });

  test('the service-to-service table names the files and variables the core lays out', () => {
    const rows = [...projectFile(PAGE).matchAll(/^\| `([^`]+)` \| `([^`]+)` \| `(KUBE_OIDC_TOKEN_FILE_[A-Z0-9_]+)` \|$/gm)];
    expect(rows.length).toBe(2);
    const layout = layoutServiceTokens(rows.map((row) => row[1]));
    rows.forEach(([, , file, envName], i) => {
      expect(layout[i].envName).toBe(envName);
      // The table writes the hash as <hash>; the rest of the path is the core's.
      const pattern = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('<hash>', '[0-9a-f]{8}')}$`);
      expect(layout[i].path).toMatch(pattern);
    });
  });

  test('webhook-flags-patch replaces the base\'s region argument and adds a flag serve accepts', () => {
    const kustomization = parseYaml(docBlock('webhook-flags-patch').text) as Json;
    expect(kustomization.kind).toBe('Kustomization');
    expect(kustomization.resources).toEqual(['../../deploy/webhook']);
    const [patch] = kustomization.patches as Json[];
    expect(patch.target).toEqual({ kind: 'Deployment', name: baseDeployment().metadata.name });
    const args = [...baseArgs()];
    for (const op of parseYaml(patch.patch) as { op: string; path: string; value: string }[]) {
      const match = /^\/spec\/template\/spec\/containers\/0\/args\/(\d+|-)$/.exec(op.path);
      expect(match).not.toBeNull();
      const index = (match as RegExpExecArray)[1];
      if (op.op === 'replace') {
        // The replaced argument is the one the text says it is.
        expect(args[Number(index)]).toMatch(/^--aws-default-region=/);
        args[Number(index)] = op.value;
      } else {
        expect(op).toMatchObject({ op: 'add', path: expect.stringMatching(/\/-$/) });
        args.push(op.value);
      }
    }
    const options = webhookOptionsFromFlags(parseCommandLine(subcommand('serve'), args));
    expect(options.awsDefaultRegion).toBe('us-east-2');
    expect(options.serviceTokenExpiration).toBe(1800);
  });

  test('webhook-review uses real flags of webhook review', () => {
    requireTool('bash');
    const script = docBlock('webhook-review').text;
    expect(bashSyntaxError(script)).toBe('');
    const invocations = kubeOidcInvocations(script);
    expect(invocations).toHaveLength(1);
    expect(invocations[0].slice(0, 2)).toEqual(['webhook', 'review']);
    expect(invocations.map(cliProblems).flat()).toEqual([]);
    expect(script).toContain(`get serviceaccount ${documentedAccount().metadata.name}`);
  });
});
