/**
 * docs/key-rotation.md replayed: the real sync (uploaded-keys source, folder stores, injected
 * time) runs each step of the runbook with the kube-format fixture keys (RSA old, P-256 new), a
 * loopback HTTPS issuer serves what it published, and the runbook's own commands (curl | jq, check)
 * run against it. Their output must be the documented output.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { documentPaths } from '../../core/documents';
import { parseKeyMaterial, PublicJwk } from '../../core/keys';
import { uploadedKeysSource } from '../../runtime/key-sources';
import { FileObjectStore } from '../../runtime/object-store';
import { runSync, SYNC_DEFAULTS, SyncReport } from '../../runtime/sync-runner';
import { IssuerServer, makeTestPki, startIssuerServer, TestPki } from '../support/issuer-server';
import { kubeClaims, kubeFixtures, kubeToken } from '../support/tokens';
import { connectToEnv } from './support/connect-to';
import { bashSyntaxError, requireTool, runBash } from './support/run';
import { cliProblems, docBlock, flagLines, kubeOidcInvocations, shellAssignments } from './support/doc-blocks';

const fixtures = kubeFixtures();
const OLD = fixtures.rsa;
const NEW = fixtures.ec;
const T0 = 1_798_700_000;
const GRACE = SYNC_DEFAULTS.gracePeriodSeconds;

/** The object key `kube-oidc keys upload` writes for a key (kids of this form are used as is). */
function uploadKey(kid: string): string {
  return `${SYNC_DEFAULTS.keyPrefix}${kid}.pub`;
}

function spkiPem(jwk: PublicJwk): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
}

describe('the rotation runbook, step by step', () => {
  let pki: TestPki;
  let server: IssuerServer;
  let dir: string;
  let issuer: string;
  let documents: FileObjectStore;
  let privateStore: FileObjectStore;
  let env: Record<string, string>;

  async function syncAt(now: number): Promise<SyncReport> {
    const report = await runSync(
      { documents, privateStore, sources: [uploadedKeysSource(privateStore, SYNC_DEFAULTS.keyPrefix)], now: () => now },
      { issuer, stateKey: SYNC_DEFAULTS.stateKey, denyListKey: SYNC_DEFAULTS.denyListKey, gracePeriodSeconds: GRACE, cacheMaxAgeSeconds: 300, includeKidlessDuplicates: false },
    );
    // Serve what the sync published, with the stored headers, as CloudFront would.
    const paths = documentPaths(issuer);
    for (const key of [paths.jwksKey, paths.discoveryKey]) {
      const stored = await documents.get(key);
      if (!stored) throw new Error(`the sync published no ${key}`);
      server.route(`/${key}`, { headers: { 'content-type': String(stored.contentType), 'cache-control': String(stored.cacheControl) }, body: stored.body });
    }
    return report;
  }

  async function showKeys(): Promise<string> {
    const run = await runBash(docBlock('rotation-show-keys').text, { env });
    if (run.status !== 0) throw new Error(`rotation-show-keys failed: ${run.stderr}`);
    return run.stdout;
  }

  async function runDocumented(id: string, replace: (script: string) => string = (s) => s, cwd?: string): Promise<string> {
    const run = await runBash(replace(docBlock(id).text), { env, cwd });
    if (run.status !== 0) throw new Error(`${id} failed (${run.status}): ${run.stderr}`);
    return run.stdout;
  }

  beforeAll(async () => {
    requireTool('bash');
    requireTool('curl');
    requireTool('jq');
    // The documented issuer itself: check applies IAM's issuer rules (no port, no IP host), so curl
    // and Node reach the loopback server as oidc.example.com (support/connect-to.ts) and trust its
    // private CA; the commands run unmodified.
    issuer = shellAssignments(docBlock('rotation-env').text).get('ISSUER') as string;
    expect(issuer).toBe('https://oidc.example.com/prod-eu');
    pki = makeTestPki([new URL(issuer).hostname]);
    server = await startIssuerServer({ tls: pki.server });
    dir = mkdtempSync(join(tmpdir(), 'kube-oidc-rotation-'));
    documents = new FileObjectStore(join(dir, 'documents'));
    privateStore = new FileObjectStore(join(dir, 'private'));
    const curlHome = join(dir, 'curl-home');
    mkdirSync(curlHome);
    env = { ISSUER: issuer, CURL_CA_BUNDLE: pki.caFile, NODE_EXTRA_CA_CERTS: pki.caFile, ...connectToEnv(new URL(issuer).hostname, server.origin, curlHome) };
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('before: the old key only (rotation-keys-before)', async () => {
    await privateStore.put(uploadKey(OLD.kid), spkiPem(OLD.jwk));
    const report = await syncAt(T0);
    expect(report.outcome).toBe('published');
    expect(await showKeys()).toBe(docBlock('rotation-keys-before').text);
  });

  test('step 1: rotation-new-key makes a P-256 key pair, the private half readable by its owner only', async () => {
    requireTool('openssl', 'openssl', ['version']);
    const work = mkdtempSync(join(tmpdir(), 'kube-oidc-newkey-'));
    try {
      await runDocumented('rotation-new-key', (s) => s, work);
      const parsed = parseKeyMaterial(readFileSync(join(work, 'sa-2.pub'), 'utf8'), 'sa-2.pub');
      expect(parsed.problems).toEqual([]);
      expect(parsed.keys.map((k) => [k.jwk.alg, k.fromPrivateKey])).toEqual([['ES256', false]]);
      expect(statSync(join(work, 'sa-2.key')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('step 2: both keys accepted, the old one signing; upload; both published (rotation-keys-both)', async () => {
    const flags = flagLines(docBlock('rotation-accept-flags').text);
    expect(flags.filter((f) => f.name === 'service-account-key-file').map((f) => f.value)).toEqual(['/etc/kubernetes/pki/sa.pub', '/etc/kubernetes/pki/sa-2.pub']);
    expect(flags.find((f) => f.name === 'service-account-signing-key-file')?.value).toBe('/etc/kubernetes/pki/sa.key');
    expect(kubeOidcInvocations(docBlock('rotation-upload').text)).toEqual([['keys', 'upload', 'sa-2.pub', '--cluster', 'prod-eu']]);
    expect(cliProblems(['keys', 'upload', 'sa-2.pub', '--cluster', 'prod-eu'])).toEqual([]);

    await privateStore.put(uploadKey(NEW.kid), spkiPem(NEW.jwk));
    const report = await syncAt(T0 + 300);
    expect(report.plan?.addedKids).toEqual([NEW.kid]);
    expect(await showKeys()).toBe(docBlock('rotation-keys-both').text);
  });

  test('step 3: check shows both keys and the algorithms (rotation-check-output)', async () => {
    expect(kubeOidcInvocations(docBlock('rotation-check').text).flatMap(cliProblems)).toEqual([]);
    expect(await runDocumented('rotation-check')).toBe(docBlock('rotation-check-output').text);
  });

  test('step 3: the drift check finds every key the API server accepts published (rotation-drift-output)', async () => {
    const script = docBlock('rotation-drift').text;
    expect(bashSyntaxError(script)).toBe('');
    expect(kubeOidcInvocations(script).flatMap(cliProblems)).toEqual([]);
    // The API server's own JWKS, with both --service-account-key-file keys, as kube serves it.
    server.route('/openid/v1/jwks', { body: JSON.stringify(fixtures.jwks) });
    const work = mkdtempSync(join(tmpdir(), 'kube-oidc-drift-'));
    try {
      writeFileSync(join(work, 'discovery.token'), 'a-service-account-token\n');
      writeFileSync(join(work, 'cluster-ca.crt'), pki.caPem);
      chmodSync(work, 0o755);
      const kubeOidcLine = (s: string) => s.split('\n').filter((line) => line.startsWith('kube-oidc ')).join('\n');
      const output = await runBash(kubeOidcLine(script), { env: { ...env, APISERVER: server.origin }, cwd: work });
      expect({ status: output.status, stderr: output.status === 0 ? '' : output.stderr }).toEqual({ status: 0, stderr: '' });
      expect(output.stdout).toBe(docBlock('rotation-drift-output').text);
      expect(server.requests.find((r) => r.path === '/openid/v1/jwks')?.headers.authorization).toBe('Bearer a-service-account-token');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('step 4: the switch changes nothing published, and a new-key token checks out (rotation-token-check-output)', async () => {
    const flags = flagLines(docBlock('rotation-switch-flags').text);
    expect(flags.find((f) => f.name === 'service-account-signing-key-file')?.value).toBe('/etc/kubernetes/pki/sa-2.key');
    expect(flags.filter((f) => f.name === 'service-account-key-file')).toHaveLength(2);

    const report = await syncAt(T0 + 3900);
    expect(report.outcome).toBe('unchanged');
    expect(await showKeys()).toBe(docBlock('rotation-keys-both').text);

    const now = Math.floor(Date.now() / 1000);
    const token = kubeToken(NEW, kubeClaims({ issuer, iat: now, lifetimeSeconds: 600, audiences: ['sts.amazonaws.com'] }));
    const kubectl = 'kubectl create token default -n default --audience sts.amazonaws.com';
    expect(docBlock('rotation-token-check').text).toContain(`${kubectl} | kube-oidc check`);
    const output = await runDocumented('rotation-token-check', (s) => s.replace(kubectl, `printf '%s' "${token}"`));
    expect(output).toBe(docBlock('rotation-token-check-output').text);
  });

  test('step 5: the old key removed from the sources stays published through the grace period', async () => {
    const script = docBlock('rotation-remove-upload').text;
    expect(bashSyntaxError(script)).toBe('');
    expect(script).toContain(`aws s3 rm "s3://$PRIVATE_BUCKET/${uploadKey(OLD.kid)}"`);
    expect(script).toContain("kube-oidc status --cluster prod-eu --json | jq -r '.outputs.PrivateBucketName'");
    expect(kubeOidcInvocations(script).flatMap(cliProblems)).toEqual([]);

    await privateStore.delete(uploadKey(OLD.kid));
    const removed = await syncAt(T0 + 7200);
    expect(removed.plan?.retiringKids).toEqual([OLD.kid]);
    expect(await showKeys()).toBe(docBlock('rotation-keys-both').text);
    const lastDay = await syncAt(T0 + 7200 + GRACE - 1);
    expect(lastDay.plan?.publishedKids).toEqual([NEW.kid, OLD.kid]);
    expect(await showKeys()).toBe(docBlock('rotation-keys-both').text);
  });

  test('step 6: at the end of the grace period the old key leaves (rotation-keys-after)', async () => {
    const report = await syncAt(T0 + 7200 + GRACE);
    expect(report.plan?.retiredKids).toEqual([OLD.kid]);
    expect(await showKeys()).toBe(docBlock('rotation-keys-after').text);
  });

  test('rotation-revoke uses real commands and flags', () => {
    const script = docBlock('rotation-revoke').text;
    expect(bashSyntaxError(script)).toBe('');
    const invocations = kubeOidcInvocations(script);
    expect(invocations.map((args) => args.slice(0, 2))).toEqual([['keys', 'revoke'], ['sync', '--cluster']]);
    expect(invocations.flatMap(cliProblems)).toEqual([]);
    expect(invocations[0][2]).toBe(OLD.kid);
  });
});
