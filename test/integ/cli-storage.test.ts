/**
 * The CLI's storage commands (keys, deny, sync, jwks) through the real executable against moto,
 * and local mode (`npm start`) started, used on every route, and stopped with Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeyMaterial } from '../../core/keys';
import { S3ObjectStore } from '../../runtime/s3-object-store';
import { runCli, PROJECT_ROOT } from '../support/cli';
import { freePort, Moto, startMoto } from '../support/moto';

const ISSUER = 'https://oidc.example.com/cluster-a';
const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-cli-'));
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaKeyFile = join(dir, 'sa.key');
const ecPubFile = join(dir, 'ec.pub');
writeFileSync(rsaKeyFile, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
writeFileSync(ecPubFile, ec.publicKey.export({ type: 'spki', format: 'pem' }) as string);
const rsaKid = parseKeyMaterial(readFileSync(rsaKeyFile, 'utf8'), 'k').keys[0].jwk.kid;
const ecKid = parseKeyMaterial(readFileSync(ecPubFile, 'utf8'), 'k').keys[0].jwk.kid;

describe('jwks', () => {
  it('prints the public JWKS of key files, never a private member', async () => {
    const run = await runCli(['jwks', rsaKeyFile, ecPubFile]);
    expect(run.status).toBe(0);
    const jwks = JSON.parse(run.stdout);
    expect(jwks.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([rsaKid, ecKid].sort());
    expect(run.stdout).not.toMatch(/"(d|p|q|dp|dq|qi)"/);
  });

  it('fails with exit 2 (unusable input) and names the file when an input is not a usable key', async () => {
    const bad = join(dir, 'id_rsa.pub');
    writeFileSync(bad, 'ssh-rsa AAAAB3NzaC1yc2E user@host\n');
    const run = await runCli(['jwks', ecPubFile, bad]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('id_rsa.pub');
    expect(run.stderr).toContain('SSH public key');
  });
});

describe('storage commands against moto', () => {
  let moto: Moto;
  let env: Record<string, string>;
  const storage = ['--bucket', 'private-bucket', '--documents-bucket', 'docs-bucket', '--issuer', ISSUER];
  /** What keys upload and deny take: they touch the private bucket only. */
  const privateOnly = ['--bucket', 'private-bucket'];

  beforeAll(async () => {
    moto = await startMoto();
    await moto.createBuckets('private-bucket', 'docs-bucket');
    env = moto.env;
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('uploads only the public half of a private key, syncs, lists, revokes, and keeps the revoked key out', async () => {
    const upload = await runCli(['keys', 'upload', rsaKeyFile, ...privateOnly], { env });
    expect(upload.status).toBe(0);
    expect(upload.stdout).toContain(rsaKid);
    const stored = await new S3ObjectStore(moto.s3(), 'private-bucket').get(`keys/${rsaKid}.pub`);
    expect(stored?.body).toContain('BEGIN PUBLIC KEY');
    expect(stored?.body).not.toContain('PRIVATE');
    expect((await runCli(['keys', 'upload', ecPubFile, ...privateOnly], { env })).status).toBe(0);

    const sync = await runCli(['sync', ...storage, '--json'], { env });
    expect(sync.status).toBe(0);
    expect(JSON.parse(sync.stdout).publishedKids.sort()).toEqual([rsaKid, ecKid].sort());

    const list = await runCli(['keys', 'list', ...storage, '--json'], { env });
    expect(list.status).toBe(0);
    expect(JSON.parse(list.stdout).published.sort()).toEqual([rsaKid, ecKid].sort());

    // Kids are base64url and may start with "-": they go after "--".
    const revoke = await runCli(['keys', 'revoke', '--reason', 'test leak', ...storage, '--', ecKid], { env });
    expect(revoke.status).toBe(0);
    const after = await runCli(['sync', ...storage, '--json'], { env });
    expect(JSON.parse(after.stdout).revokedKids).toEqual([ecKid]);
    expect(JSON.parse(after.stdout).publishedKids).toEqual([rsaKid]);

    // The only remaining key cannot be revoked without --force: that would empty the JWKS.
    const last = await runCli(['keys', 'revoke', ...storage, '--', rsaKid], { env });
    expect(last.status).toBe(1);
    expect(last.stderr).toContain('only published key');
  });

  it('adds, lists and removes deny-list entries, refusing a malformed service account with exit 2', async () => {
    expect((await runCli(['deny', 'add', '--kind', 'pod-uid', '1b4e28ba-2fa1-11d2-883f-0016d3cca427', '--reason', 'pod compromised', ...privateOnly], { env })).status).toBe(0);
    expect((await runCli(['deny', 'add', '--kind', 'service-account', 'payments/api', ...privateOnly], { env })).status).toBe(0);
    const list = await runCli(['deny', 'list', ...privateOnly, '--json'], { env });
    const parsed = JSON.parse(list.stdout);
    expect(parsed.podUids.map((e: { value: string }) => e.value)).toEqual(['1b4e28ba-2fa1-11d2-883f-0016d3cca427']);
    expect(parsed.serviceAccounts.map((e: { value: string }) => e.value)).toEqual(['payments/api']);

    expect((await runCli(['deny', 'remove', '--kind', 'service-account', 'payments/api', ...privateOnly], { env })).status).toBe(0);
    const again = JSON.parse((await runCli(['deny', 'list', ...privateOnly, '--json'], { env })).stdout);
    expect(again.serviceAccounts).toEqual([]);

    const bad = await runCli(['deny', 'add', '--kind', 'service-account', 'not a service account', ...privateOnly], { env });
    expect(bad.status).toBe(2);
  });

  it('finds a deployed cluster\'s buckets and issuer from its stack outputs with --cluster', async () => {
    const { CloudFormationClient, CreateStackCommand } = await import('@aws-sdk/client-cloudformation');
    const cloudFormation = new CloudFormationClient(moto.clientConfig);
    await cloudFormation.send(new CreateStackCommand({
      StackName: 'OidcCluster-staging',
      TemplateBody: JSON.stringify({
        Resources: { Private: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'staging-private' } }, Documents: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'staging-docs' } } },
        Outputs: {
          PrivateBucketName: { Value: { Ref: 'Private' } },
          DocumentsBucketName: { Value: { Ref: 'Documents' } },
          IssuerUrl: { Value: 'https://oidc.example.com/staging' },
        },
      }),
    }));
    cloudFormation.destroy();
    expect((await runCli(['keys', 'upload', ecPubFile, '--cluster', 'staging'], { env })).status).toBe(0);
    const sync = await runCli(['sync', '--cluster', 'staging', '--json'], { env });
    expect(sync.status).toBe(0);
    expect(JSON.parse(sync.stdout).publishedKids).toEqual([ecKid]);
    const jwks = await new S3ObjectStore(moto.s3(), 'staging-docs').get('staging/openid/v1/jwks');
    expect(JSON.parse(jwks!.body).keys[0].kid).toBe(ecKid);

    const missing = await runCli(['keys', 'list', '--cluster', 'nope'], { env });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('cannot read stack OidcCluster-nope');
  });

  it('says how to name the cluster when neither --cluster nor --bucket is given', async () => {
    const run = await runCli(['keys', 'list'], { env });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--cluster NAME');
  });
});

describe('local mode (npm start)', () => {
  it('serves the documents and every verify route, then stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const stateDir = mkdtempSync(join(tmpdir(), 'kube-oidc-local-'));
    const child = spawn('npm', ['start', '--', '--port', String(port), '--state-dir', stateDir], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    try {
      for (let i = 0; i < 200 && !stdout.includes('Press Ctrl-C'); i += 1) await new Promise((r) => setTimeout(r, 100));
      expect(stdout).toContain(`http://127.0.0.1:${port}`);
      const token = /TOKEN=(\S+)/.exec(stdout)![1];
      const base = `http://127.0.0.1:${port}`;

      const discovery = await fetch(`${base}/.well-known/openid-configuration`);
      expect(discovery.headers.get('content-type')).toBe('application/json');
      expect((await discovery.json()).issuer).toBe(base);
      const jwks = await (await fetch(`${base}/openid/v1/jwks`)).json();
      expect(jwks.keys).toHaveLength(1);
      expect(JSON.stringify(jwks)).not.toMatch(/"d"/);

      const verify = await (await fetch(`${base}/verify`, { method: 'POST', body: JSON.stringify({ token }) })).json();
      expect(verify.authenticated).toBe(true);
      expect(verify.user.username).toBe('system:serviceaccount:default:demo');
      const review = await (await fetch(`${base}/apis/authentication.k8s.io/v1/tokenreviews`, { method: 'POST', body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }) })).json();
      expect(review.status.authenticated).toBe(true);
      const auth = await fetch(`${base}/auth`, { headers: { authorization: `Bearer ${token}` } });
      expect(auth.status).toBe(200);
      const denied = await fetch(`${base}/auth`, { headers: { authorization: 'Bearer x.y.z' } });
      expect(denied.status).toBe(401);

      // A second local mode on the same port fails with a clear message instead of a stack trace.
      const clash = await runCli(['local', '--port', String(port), '--state-dir', stateDir]);
      expect(clash.status).toBe(1);
      expect(clash.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
    }
    await exited;
    // npm itself reports the signal; the CLI under it must have shut its server down cleanly.
    expect(stderr).toContain('stopped (SIGINT)');
    const refused = await new Promise<boolean>((resolve) => {
      const socket = createServer().listen(port, '127.0.0.1', () => { socket.close(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    expect(refused).toBe(true);
    rmSync(stateDir, { recursive: true, force: true });
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
