/**
 * The webhook's HTTPS server for real on 127.0.0.1, with certificates made by openssl: reviews,
 * refusals (415, 413, 400, 404), health and readiness, metrics on their own port, a certificate
 * rotation while a keep-alive connection stays open (the old connection keeps working, new ones
 * get the new certificate), a rotation to a mismatched pair (kept out), and graceful shutdown
 * that finishes an in-flight review.
 */
import { Agent, request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { resolveWebhookOptions } from '../../core/webhook/options';
import { ServiceAccountLookup } from '../../core/webhook/review';
import { RunningWebhookServer, ServiceAccountSource, startWebhookServer } from '../../runtime/webhook-server';
import { eventually } from '../support/fake-kube-api';
import { OpensslWorkspace } from '../support/openssl';

const ROLE = 'arn:aws:iam::123456789012:role/payments-api';

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
  readonly reused: boolean;
}

function review(uid: string, serviceAccountName = 'api'): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'payments',
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'api-' }, spec: { serviceAccountName, containers: [{ name: 'app', image: 'registry.example.com/secret-image:1' }] } },
    },
  });
}

describe('webhook HTTPS server', () => {
  let workspace: OpensslWorkspace;
  let certDir: string;
  let server: RunningWebhookServer | undefined;
  const logs: Record<string, unknown>[] = [];
  const accounts = new Map<string, ServiceAccountLookup>();
  let lookupDelayMs = 0;
  let synced = true;
  const source: ServiceAccountSource = {
    async lookup(namespace, name) {
      if (lookupDelayMs) await new Promise((resolve) => setTimeout(resolve, lookupDelayMs));
      return accounts.get(`${namespace}/${name}`) ?? { status: 'not-found' };
    },
    synced: () => synced,
    size: () => accounts.size,
  };
  let ca = '';

  /** A leaf certificate for 127.0.0.1 signed by the test CA. */
  function leaf(name: string): { cert: string; key: string } {
    workspace.run(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    workspace.write(`${name}.ext`, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    workspace.run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-sha256', '-extfile', `${name}.ext`]);
    return { cert: workspace.read(`${name}.crt`), key: workspace.read(`${name}.key`) };
  }

  /** Replaces a file atomically, as the kubelet's secret volume does. */
  function replace(name: string, content: string): void {
    const temporary = join(certDir, `.${name}.tmp`);
    writeFileSync(temporary, content);
    renameSync(temporary, join(certDir, name));
  }

  function call(port: number, options: { method?: string; path?: string; body?: string; contentType?: string; agent?: Agent }): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: options.method ?? 'POST', path: options.path ?? '/mutate', ca, agent: options.agent ?? false, headers: options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json', 'content-length': Buffer.byteLength(options.body) } : {} },
        (res) => {
          // Read now: a keep-alive socket goes back to the agent's pool (res.socket = null) at 'end'.
          const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), fingerprint, reused: req.reusedSocket }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  function metrics(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      }).on('error', reject).end();
    });
  }

  const fingerprintOf = (pem: string): string => new (require('node:crypto').X509Certificate)(pem).fingerprint256;

  beforeAll(() => {
    workspace = OpensslWorkspace.create();
    workspace.run(['req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=kube-oidc-test-ca', '-days', '1', '-sha256']);
    ca = workspace.read('ca.crt');
  });

  beforeEach(() => {
    certDir = mkdtempSync(join(tmpdir(), 'kube-oidc-webhook-certs-'));
    logs.length = 0;
    accounts.clear();
    lookupDelayMs = 0;
    synced = true;
  });

  afterEach(async () => {
    await server?.shutdown();
    server = undefined;
    rmSync(certDir, { recursive: true, force: true });
  });

  afterAll(() => workspace.remove());

  async function start(overrides: { shutdownDelayMs?: number } = {}): Promise<RunningWebhookServer> {
    server = await startWebhookServer({
      certFile: join(certDir, 'tls.crt'),
      keyFile: join(certDir, 'tls.key'),
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      webhook: resolveWebhookOptions({ awsDefaultRegion: 'eu-west-1' }),
      serviceAccounts: source,
      random: () => 0,
      log: (entry) => logs.push(entry),
      maxBodyBytes: 64 * 1024,
      certificatePollMs: 100,
      shutdownDelayMs: overrides.shutdownDelayMs ?? 0,
      shutdownTimeoutMs: 5000,
    });
    return server;
  }

  test('answers reviews, refuses bad requests, serves health, readiness and metrics, logs without the spec', async () => {
    const first = leaf('first');
    replace('tls.key', first.key);
    replace('tls.crt', first.cert);
    accounts.set('payments/api', { status: 'found', serviceAccount: { metadata: { name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': ROLE } } } });
    const running = await start();

    const reply = await call(running.port, { body: review('uid-1') });
    expect(reply.status).toBe(200);
    const answer = JSON.parse(reply.body);
    expect(answer.response).toMatchObject({ uid: 'uid-1', allowed: true, patchType: 'JSONPatch' });
    const operations = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8'));
    expect(operations[1]).toEqual({ op: 'add', path: '/spec/containers/0/env', value: [{ name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' }, { name: 'AWS_REGION', value: 'eu-west-1' }, { name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }] });

    const unchanged = JSON.parse((await call(running.port, { body: review('uid-2', 'nobody') })).body);
    expect(unchanged.response).toEqual({ uid: 'uid-2', allowed: true });

    expect((await call(running.port, { body: review('uid-3'), contentType: 'text/plain' })).status).toBe(415);
    const large = await call(running.port, { body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }) });
    expect(large.status).toBe(413);
    const malformed = await call(running.port, { body: '{"kind":"AdmissionReview"' });
    expect(malformed).toMatchObject({ status: 400 });
    expect(JSON.parse(malformed.body)).toEqual({ error: 'the body is not JSON' });
    expect((await call(running.port, { method: 'GET', path: '/mutate' })).status).toBe(405);
    expect((await call(running.port, { method: 'GET', path: '/nope' })).status).toBe(404);
    expect(await call(running.port, { method: 'GET', path: '/healthz' })).toMatchObject({ status: 200, body: 'ok' });
    expect(await call(running.port, { method: 'GET', path: '/readyz' })).toMatchObject({ status: 200, body: 'ok' });
    synced = false;
    const notReady = await call(running.port, { method: 'GET', path: '/readyz' });
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body).reasons).toEqual(['ServiceAccount cache not synced']);

    const text = await metrics(running.metricsPort);
    expect(text).toMatch(/kube_oidc_webhook_reviews_total\{outcome="mutated"\} 1/);
    expect(text).toMatch(/kube_oidc_webhook_reviews_total\{outcome="unchanged"\} 1/);
    expect(text).toMatch(/kube_oidc_webhook_injections_total\{kind="aws"\} 1/);
    expect(text).toMatch(/kube_oidc_webhook_bad_requests_total\{status="413"\} 1/);
    expect(text).toMatch(/kube_oidc_webhook_certificate_not_after_seconds \d+/);

    const reviews = logs.filter((entry) => entry.msg === 'review');
    expect(reviews).toHaveLength(2);
    expect(reviews[0]).toMatchObject({ uid: 'uid-1', namespace: 'payments', pod: 'api-*', serviceAccount: 'api', outcome: 'mutated', roleArn: ROLE, patchOperations: 3 });
    expect(JSON.stringify(logs)).not.toContain('secret-image');
  });

  test('the cache cannot answer: admitted unchanged, logged and counted', async () => {
    const first = leaf('unavailable');
    replace('tls.key', first.key);
    replace('tls.crt', first.cert);
    accounts.set('payments/api', { status: 'unavailable', reason: 'the ServiceAccount cache has not completed its first list' });
    const running = await start();
    const answer = JSON.parse((await call(running.port, { body: review('uid-u') })).body);
    expect(answer.response).toEqual({ uid: 'uid-u', allowed: true });
    expect(logs.find((entry) => entry.msg === 'review')).toMatchObject({ level: 'warn', outcome: 'lookup-failed', reason: 'the ServiceAccount cache has not completed its first list' });
    expect(await metrics(running.metricsPort)).toMatch(/kube_oidc_webhook_service_account_lookup_failures_total 1/);
  });

  test('certificate rotation mid-connection: the open connection keeps working, new connections get the new certificate', async () => {
    const first = leaf('rot-a');
    const second = leaf('rot-b');
    replace('tls.key', first.key);
    replace('tls.crt', first.cert);
    const running = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
    try {
      const before = await call(running.port, { method: 'GET', path: '/healthz', agent });
      expect(before.fingerprint).toBe(fingerprintOf(first.cert));

      // A mismatched pair (new certificate, old key) is refused and the current pair kept.
      replace('tls.crt', second.cert);
      await eventually(() => logs.some((entry) => entry.msg === 'certificate reload failed; keeping the current one'), 'the mismatched pair refused');
      expect((await call(running.port, { method: 'GET', path: '/healthz' })).fingerprint).toBe(fingerprintOf(first.cert));

      replace('tls.key', second.key);
      await eventually(() => logs.some((entry) => entry.msg === 'certificate reloaded'), 'the new pair installed');

      const same = await call(running.port, { method: 'GET', path: '/healthz', agent });
      expect(same).toMatchObject({ status: 200, reused: true, fingerprint: fingerprintOf(first.cert) });
      const fresh = await call(running.port, { method: 'GET', path: '/healthz' });
      expect(fresh).toMatchObject({ status: 200, reused: false, fingerprint: fingerprintOf(second.cert) });
      expect(await metrics(running.metricsPort)).toMatch(/kube_oidc_webhook_certificate_reloads_total\{result="success"\} 1/);
    } finally {
      agent.destroy();
    }
  });

  test('graceful shutdown: not ready first, the in-flight review is answered, then the port closes', async () => {
    const first = leaf('shutdown');
    replace('tls.key', first.key);
    replace('tls.crt', first.cert);
    accounts.set('payments/api', { status: 'found', serviceAccount: { metadata: { name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': ROLE } } } });
    const running = await start({ shutdownDelayMs: 300 });
    lookupDelayMs = 200;
    const inFlight = call(running.port, { body: review('uid-late') });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopping = running.shutdown();
    const readiness = await call(running.port, { method: 'GET', path: '/readyz' });
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body).reasons).toContain('shutting down');
    const late = await inFlight;
    expect(late.status).toBe(200);
    expect(JSON.parse(late.body).response.uid).toBe('uid-late');
    await stopping;
    await expect(call(running.port, { method: 'GET', path: '/healthz' })).rejects.toThrow(/ECONNREFUSED/);
    server = undefined;
  });
});
