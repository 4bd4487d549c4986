/**
 * `kube-oidc webhook review` and `webhook serve`, spawned as an operator runs them: review with
 * an AdmissionReview on stdin and a ServiceAccount file (YAML and JSON), its flags and its errors;
 * serve end to end against a local list/watch server with openssl certificates, answering a review
 * over HTTPS and exiting cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { parseAllDocuments } from 'yaml';
import { join } from 'node:path';
import { PROJECT_ROOT, runCli } from '../support/cli';
import { eventually, FakeKubeApi } from '../support/fake-kube-api';
import { OpensslWorkspace } from '../support/openssl';

const ROLE = 'arn:aws:iam::123456789012:role/payments-api';

function admissionReview(annotations: Record<string, string> = {}, nodeSelector?: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b2c3d4e5-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'payments',
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-0', annotations }, spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1' }], ...(nodeSelector ? { nodeSelector } : {}) } },
    },
  });
}

function decodePatch(stdout: string): { op: string; path: string; value: unknown }[] {
  const answer = JSON.parse(stdout);
  return JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8'));
}

describe('kube-oidc webhook review', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kube-oidc-webhook-cli-'));
    writeFileSync(join(dir, 'sa.yaml'), [
      'apiVersion: v1',
      'kind: ServiceAccount',
      'metadata:',
      '  name: api',
      '  namespace: payments',
      '  annotations:',
      `    eks.amazonaws.com/role-arn: ${ROLE}`,
      '    kube-oidc-aws.io/audiences: payments.example.com',
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'sa-prefixed.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'payments', annotations: { 'iam.example.com/role-arn': ROLE, 'iam.example.com/sts-regional-endpoints': 'false' } } }));
    writeFileSync(join(dir, 'not-sa.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('AWS identity and a service token, region, regional STS, lifetime and mount path flags', async () => {
    const run = await runCli(
      ['webhook', 'review', '--service-account', join(dir, 'sa.yaml'), '--aws-default-region', 'eu-west-1', '--sts-regional-endpoint', '--token-expiration', '3600', '--token-mount-path', '/aws/token', '--service-token-expiration', '900'],
      { stdin: admissionReview() },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).response).toMatchObject({ uid: 'b2c3d4e5-0000-4000-8000-000000000001', allowed: true, patchType: 'JSONPatch' });
    const patch = decodePatch(run.stdout);
    expect(patch[0]).toEqual({
      op: 'add',
      path: '/spec/volumes',
      value: [
        { name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } }] } },
        { name: 'kube-oidc-tokens', projected: { sources: [{ serviceAccountToken: { audience: 'payments.example.com', expirationSeconds: 900, path: 'payments.example.com/token' } }] } },
      ],
    });
    expect(patch[1].value).toEqual([
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      { name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' },
      { name: 'AWS_REGION', value: 'eu-west-1' },
      { name: 'AWS_ROLE_ARN', value: ROLE },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/aws/token/token' },
      { name: 'KUBE_OIDC_TOKEN_FILE_PAYMENTS_EXAMPLE_COM', value: '/var/run/secrets/kube-oidc-aws.io/tokens/payments.example.com/token' },
    ]);
  });

  test('--annotation-prefix with a JSON ServiceAccount; default lifetime is jittered; warnings on stderr; --decode', async () => {
    const run = await runCli(['webhook', 'review', '--service-account', join(dir, 'sa-prefixed.json'), '--annotation-prefix', 'iam.example.com', '--sts-regional-endpoint', '--decode'], {
      stdin: admissionReview({ 'iam.example.com/include-containers': 'app,ghost' }, { 'kubernetes.io/os': 'windows' }),
    });
    expect(run.status).toBe(0);
    const patch = decodePatch(run.stdout);
    const lifetime = (patch[0].value as { projected: { sources: { serviceAccountToken: { expirationSeconds: number } }[] } }[])[0].projected.sources[0].serviceAccountToken.expirationSeconds;
    expect(lifetime).toBeGreaterThanOrEqual(79200);
    expect(lifetime).toBeLessThanOrEqual(86400);
    // The ServiceAccount says false: no regional STS despite the flag. Windows token path.
    expect(patch[1].value).toEqual([{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token' }]);
    expect(run.stderr).toMatch(/warning: pod annotation iam.example.com\/include-containers names ghost/);
    expect(run.stderr).toMatch(/^patch: \[\{"op":"add"/m);
  });

  test('errors: missing flag, a file that is not a ServiceAccount, stdin that is not a review, a bad flag value', async () => {
    const [missing, notSa, badStdin, badFlag] = await Promise.all([
      runCli(['webhook', 'review'], { stdin: admissionReview() }),
      runCli(['webhook', 'review', '--service-account', join(dir, 'not-sa.yaml')], { stdin: admissionReview() }),
      runCli(['webhook', 'review', '--service-account', join(dir, 'sa.yaml')], { stdin: '{"kind":"Pod"}' }),
      runCli(['webhook', 'review', '--service-account', join(dir, 'sa.yaml'), '--token-mount-path', 'relative/path'], { stdin: admissionReview() }),
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--service-account is required/);
    expect(notSa.status).toBe(2);
    expect(notSa.stderr).toMatch(/holds kind "ConfigMap", expected ServiceAccount/);
    expect(badStdin.status).toBe(1);
    expect(badStdin.stderr).toMatch(/not an admission.k8s.io\/v1 AdmissionReview: kind is "Pod"/);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toMatch(/--token-mount-path "relative\/path" must be an absolute path/);
  });
});

describe('kube-oidc manifest --webhook', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kube-oidc-manifest-webhook-'));
    writeFileSync(join(dir, 'clusters.json'), JSON.stringify({
      clusters: [{
        name: 'example',
        keySources: { configKeys: [{ file: join(PROJECT_ROOT, 'config', 'keys', 'example-sa.pub') }] },
        serviceAccountRoles: [
          { id: 'payments-api', namespace: 'payments', serviceAccount: 'api', managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
          { id: 'batch', namespace: 'batch', match: 'namespace', managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
        ],
        verifyApi: { audiences: ['verify.example.internal'] },
      }],
    }));
    writeFileSync(join(dir, 'outputs.json'), JSON.stringify({ 'OidcCluster-example': { PaymentsApiRoleArn: ROLE, BatchRoleArn: 'arn:aws:iam::123456789012:role/batch' } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('one ServiceAccount: role, audience, lifetime and service audiences as annotations', async () => {
    const run = await runCli(['manifest', '--webhook', '--role-arn', ROLE, '--namespace', 'payments', '--service-account', 'api', '--audience', 'sts.example.internal', '--expiration', '3600', '--service-audiences', 'orders.example.com,ledger.example.com', '--json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: 'api',
        namespace: 'payments',
        annotations: {
          'eks.amazonaws.com/role-arn': ROLE,
          'eks.amazonaws.com/audience': 'sts.example.internal',
          'eks.amazonaws.com/sts-regional-endpoints': 'true',
          'eks.amazonaws.com/token-expiration': '3600',
          'kube-oidc-aws.io/audiences': 'orders.example.com,ledger.example.com',
        },
      },
    });
  });

  test('every role of the CDK config, ARNs from the stack outputs; what webhook review makes of it', async () => {
    const run = await runCli(['manifest', '--webhook', '--config', join(dir, 'clusters.json'), '--outputs', join(dir, 'outputs.json')]);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/role batch matches every ServiceAccount of namespace batch; annotate each of them with eks.amazonaws.com\/role-arn: arn:aws:iam::123456789012:role\/batch/);
    const documents = parseAllDocuments(run.stdout).map((doc) => doc.toJS());
    expect(documents).toEqual([{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/sts-regional-endpoints': 'true' } } }]);
    writeFileSync(join(dir, 'generated-sa.yaml'), run.stdout);
    const review = await runCli(['webhook', 'review', '--service-account', join(dir, 'generated-sa.yaml')], { stdin: admissionReview() });
    expect(review.status).toBe(0);
    expect(decodePatch(review.stdout)[1].value).toEqual([
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      { name: 'AWS_ROLE_ARN', value: ROLE },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' },
    ]);
    const [missingOutputs, otherFlag] = await Promise.all([
      runCli(['manifest', '--webhook', '--config', join(dir, 'clusters.json')]),
      runCli(['manifest', '--config', join(dir, 'clusters.json')]),
    ]);
    expect(missingOutputs.status).toBe(2);
    expect(missingOutputs.stderr).toMatch(/--outputs is required: the role ARNs are known once the stack is deployed/);
    expect(otherFlag.status).toBe(2);
    expect(otherFlag.stderr).toMatch(/--config needs --webhook/);
  });
});

describe('kube-oidc webhook serve', () => {
  let workspace: OpensslWorkspace;
  let api: FakeKubeApi;
  beforeAll(async () => {
    workspace = OpensslWorkspace.create();
    workspace.run(['req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls.key', '-out', 'tls.crt', '-subj', '/CN=webhook', '-days', '1', '-sha256', '-addext', 'subjectAltName=IP:127.0.0.1']);
    api = await FakeKubeApi.start([{ name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': ROLE } }]);
  });
  afterAll(async () => {
    await api.stop();
    workspace.remove();
  });

  test('serves a review from the watched ServiceAccount, then exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'bin', 'cli.ts'), 'webhook', 'serve', '--kubeconfig', api.kubeconfig(), '--tls-cert', workspace.path('tls.crt'), '--tls-key', workspace.path('tls.key'), '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--shutdown-delay', '0', '--aws-default-region', 'eu-west-1'],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await eventually(() => lines.some((line) => line.msg === 'listening') && lines.some((line) => line.msg === 'serviceaccount cache synced'), `listening and synced (stderr: ${stderr})`, 1500);
      const port = lines.find((line) => line.msg === 'listening')?.port as number;
      const reply = await new Promise<string>((resolve, reject) => {
        const body = admissionReview();
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/mutate', ca: workspace.read('tls.crt'), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });
        req.on('error', reject);
        req.end(body);
      });
      const env = decodePatch(reply)[1].value as { name: string }[];
      expect(env.map((variable) => variable.name)).toEqual(['AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']);
      await eventually(() => lines.some((line) => line.msg === 'review'), 'the review logged');
      expect(lines.find((line) => line.msg === 'review')).toMatchObject({ outcome: 'mutated', namespace: 'payments', pod: 'api-0', roleArn: ROLE });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['received SIGTERM', 'stopped']));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
