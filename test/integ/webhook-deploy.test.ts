/**
 * The deployment of the webhook: `kubectl kustomize deploy/webhook` renders, every object is
 * valid against the Kubernetes (and cert-manager) schemas, the pieces agree with each other and
 * with the CLI (flags, ports, secret, service, CA injection), the security settings the issue asks
 * for are there, and the esbuild bundle the Dockerfile ships runs a review. The image itself is not
 * built here (no Docker daemon); see docs/webhook.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { webhookCommand } from '../../cli/commands/webhook';
import { parseCommandLine } from '../../cli/main';
import { LeafCommand } from '../../cli/command';
import { bundleWebhook, webhookBundleInputs } from '../../scripts/bundle-webhook';
import { PROJECT_ROOT } from '../support/cli';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [key: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function render(): K8sObject[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', join(PROJECT_ROOT, 'deploy', 'webhook')], { encoding: 'utf8' });
  } catch (err) {
    throw new Error(`kubectl kustomize failed (is kubectl on PATH? https://kubernetes.io/docs/tasks/tools/): ${(err as Error).message}`);
  }
  return parseAllDocuments(text).map((doc) => doc.toJS() as K8sObject);
}

describe('deploy/webhook (Kustomize base)', () => {
  const objects = render();
  const find = (kind: string, name?: string): K8sObject => {
    const found = objects.find((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
    if (!found) throw new Error(`no ${kind} ${name ?? ''} rendered`);
    return found;
  };

  test('every rendered object is valid against the Kubernetes and cert-manager schemas', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test', 'support', 'validate-k8s.mts')], { cwd: PROJECT_ROOT, input: JSON.stringify(objects), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const results = JSON.parse(run.stdout) as { kind: string; name: string; valid: boolean; error?: string }[];
    expect(results.map((r) => `${r.kind}/${r.name}`).sort()).toEqual([
      'Certificate/kube-oidc-webhook-ca',
      'Certificate/kube-oidc-webhook-serving',
      'ClusterRole/kube-oidc-webhook',
      'ClusterRoleBinding/kube-oidc-webhook',
      'Deployment/kube-oidc-webhook',
      'Issuer/kube-oidc-webhook-ca',
      'Issuer/kube-oidc-webhook-selfsigned',
      'MutatingWebhookConfiguration/kube-oidc-webhook',
      'Namespace/kube-oidc-webhook',
      'PodDisruptionBudget/kube-oidc-webhook',
      'Service/kube-oidc-webhook',
      'ServiceAccount/kube-oidc-webhook',
    ]);
    expect(results.filter((r) => !r.valid)).toEqual([]);
    // The validator is not a rubber stamp: a wrong type is caught.
    const broken = structuredClone(find('Deployment'));
    broken.spec.replicas = 'two';
    const negative = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test', 'support', 'validate-k8s.mts')], { cwd: PROJECT_ROOT, input: JSON.stringify([broken]), encoding: 'utf8' });
    expect(JSON.parse(negative.stdout)[0]).toMatchObject({ valid: false, error: expect.stringMatching(/replicas/) });
  });

  test('Deployment: two replicas, non-root, read-only root, no privileges, resources, probes on the serving port', () => {
    const deployment = find('Deployment');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    const [container] = pod.containers;
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    // The args are the CLI's own flags (the image's entry point is `webhook serve`).
    const serve = webhookCommand.subcommands.find((c) => c.name === 'serve') as LeafCommand;
    const parsed = parseCommandLine(serve, container.args);
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    expect(Number(parsed.values.port)).toBe(ports.https);
    expect(Number(parsed.values['metrics-port'])).toBe(ports.metrics);
    // The certificate files come from the secret cert-manager writes.
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'certs');
    expect(String(parsed.values['tls-cert'])).toBe(`${mount.mountPath}/tls.crt`);
    const volume = pod.volumes.find((v: { name: string }) => v.name === 'certs');
    expect(volume.secret.secretName).toBe(find('Certificate', 'kube-oidc-webhook-serving').spec.secretName);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(parsed.values['shutdown-delay']) + 15);
    // Its own pods opt out of the webhook.
    expect(deployment.spec.template.metadata.labels['kube-oidc-aws.io/inject']).toBe('disabled');
  });

  test('PodDisruptionBudget keeps one replica; Service routes 443 to the serving port', () => {
    const deployment = find('Deployment');
    expect(find('PodDisruptionBudget').spec).toEqual({ minAvailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
    const service = find('Service');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports.find((p: { port: number }) => p.port === 443).targetPort).toBe('https');
  });

  test('RBAC: get, list and watch ServiceAccounts, nothing else, bound to the webhook\'s account', () => {
    expect(find('ClusterRole').rules).toEqual([{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] }]);
    const binding = find('ClusterRoleBinding');
    const account = find('ServiceAccount');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
    expect(find('Deployment').spec.template.spec.serviceAccountName).toBe(account.metadata.name);
  });

  test('MutatingWebhookConfiguration: never blocks pods, v1 only, short timeout, reinvocation, selectors, CA injection', () => {
    const configuration = find('MutatingWebhookConfiguration');
    const [webhook] = configuration.webhooks;
    expect(configuration.webhooks).toHaveLength(1);
    expect(webhook).toMatchObject({ failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'], reinvocationPolicy: 'IfNeeded' });
    expect(webhook.timeoutSeconds).toBeLessThanOrEqual(5);
    expect(webhook.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
    const namespace = find('Namespace').metadata.name;
    expect(webhook.namespaceSelector.matchExpressions).toEqual([{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [namespace, 'kube-system'] }]);
    expect(webhook.objectSelector.matchExpressions).toEqual([{ key: 'kube-oidc-aws.io/inject', operator: 'NotIn', values: ['disabled'] }]);
    const service = find('Service');
    expect(webhook.clientConfig.service).toEqual({ name: service.metadata.name, namespace: service.metadata.namespace, path: '/mutate', port: 443 });
    expect(webhook.clientConfig.caBundle).toBeUndefined();
    const serving = find('Certificate', 'kube-oidc-webhook-serving');
    expect(configuration.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(`${serving.metadata.namespace}/${serving.metadata.name}`);
    expect(serving.spec.dnsNames).toContain(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    // The serving certificate chains to the CA certificate through the CA issuer.
    const caIssuer = find('Issuer', serving.spec.issuerRef.name);
    expect(caIssuer.spec.ca.secretName).toBe(find('Certificate', 'kube-oidc-webhook-ca').spec.secretName);
    expect(find('Certificate', 'kube-oidc-webhook-ca').spec.isCA).toBe(true);
  });
});

describe('the Lambda bundles stay clear of the webhook', () => {
  test('nothing under lambda/ or lib/ imports the webhook, the Kubernetes client or prom-client', () => {
    const pattern = 'core/webhook|runtime/webhook|@kubernetes/client-node|prom-client';
    const search = spawnSync('grep', ['-rlE', pattern, join(PROJECT_ROOT, 'lambda'), join(PROJECT_ROOT, 'lib')], { encoding: 'utf8' });
    // grep: status 1 means no match, 0 lists the offending files.
    expect(search.stdout).toBe('');
    expect(search.status).toBe(1);
    // The pattern itself finds the webhook's own importers, so an empty answer means something.
    expect(spawnSync('grep', ['-rlE', pattern, join(PROJECT_ROOT, 'cli')], { encoding: 'utf8' }).stdout).toContain('webhook.ts');
  });
});

describe('the image\'s bundle', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kube-oidc-webhook-bundle-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the Dockerfile bundles runtime/webhook-main.ts and runs it as non-root on Node 24', () => {
    const dockerfile = readFileSync(join(PROJECT_ROOT, 'deploy', 'webhook', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:24[^\n]* AS build$/m);
    expect(dockerfile).toMatch(/RUN npx tsx scripts\/bundle-webhook\.ts --out \/out/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/webhook\.cjs", "webhook", "serve"\]$/m);
    const runtimeStage = dockerfile.split(/^FROM /m).pop() ?? '';
    expect(runtimeStage).toMatch(/^node:24/);
  });

  test('the bundle carries the webhook command only: no other command, no registry, no AWS SDK or CDK', () => {
    const inputs = webhookBundleInputs();
    expect(inputs).toEqual(expect.arrayContaining(['runtime/webhook-main.ts', 'cli/run.ts', 'cli/commands/webhook.ts', 'core/webhook/mutate.ts']));
    expect(inputs.filter((input) => /^cli\/commands\//.test(input))).toEqual(['cli/commands/webhook.ts']);
    expect(inputs.filter((input) => input === 'cli/main.ts' || /node_modules\/(@aws-sdk|@smithy|aws-cdk-lib)\//.test(input))).toEqual([]);
  });

  test('the bundle answers a review with no node_modules beside it', () => {
    const bundle = bundleWebhook(dir);
    writeFileSync(join(dir, 'sa.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: api\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/x\n');
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', operation: 'CREATE', object: { spec: { serviceAccountName: 'api', containers: [{ name: 'app' }] } } },
    });
    const run = spawnSync(process.execPath, [bundle, 'webhook', 'review', '--service-account', join(dir, 'sa.yaml')], { cwd: dir, input: review, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    // Loading the Kubernetes client from the bundle works too (serve without a cluster fails cleanly).
    const serve = spawnSync(process.execPath, [bundle, 'webhook', 'serve', '--port', '0', '--metrics-port', '0'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
    expect(serve.status).toBe(1);
    expect(serve.stderr).toMatch(/cannot configure the Kubernetes client: .*outside a cluster, give --kubeconfig/);
  });
});
