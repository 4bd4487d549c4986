/**
 * The package as another CDK app and a Node service consume it: built with `npm run build`'s
 * script, its constructs synthesize with the pre-bundled Lambda code (no esbuild run by the
 * consumer), and its `./verifier` entry verifies a kube token in-process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
// Inside the project, so that the built code resolves aws-cdk-lib and jose from node_modules.
const OUT = join(ROOT, 'node_modules', '.cache', 'kube-oidc-library-test', 'dist');

beforeAll(() => {
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'build.ts'), '--out', OUT], { cwd: ROOT, stdio: 'pipe' });
}, 180_000);

it('ships pre-bundled, minified Lambda handlers and compiled declarations', () => {
  for (const name of ['jwks-sync', 'token-verifier']) {
    const code = readFileSync(join(OUT, 'lambda-bundles', name, 'index.js'), 'utf8');
    expect(code).toMatch(/handler/);
    expect(code.split('\n').length).toBeLessThan(50);
  }
  expect(existsSync(join(OUT, 'lib', 'index.d.ts'))).toBe(true);
  expect(existsSync(join(OUT, 'core', 'verifier.d.ts'))).toBe(true);
});

it('synthesizes a consumer app from the built constructs with the pre-bundled code as Lambda assets', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'kube-oidc-consumer-'));
  try {
    expectConsumerSynth(outdir);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

function expectConsumerSynth(outdir: string): void {
  const pem = readFileSync(join(ROOT, 'test', 'fixtures', 'kube-format', 'sa-rsa.pub'), 'utf8');
  const consumer = `
    const { App } = require('aws-cdk-lib');
    const lib = require(${JSON.stringify(join(OUT, 'lib', 'index.js'))});
    const app = new App({ outdir: ${JSON.stringify(outdir)} });
    const clusters = lib.validateConfig({ clusters: [{ name: 'consumer', keySources: { configKeys: [{ pem: ${JSON.stringify(pem)} }] }, verifyApi: { audiences: ['verify.consumer.internal'] } }] });
    lib.addClusterStacks(app, clusters);
    app.synth();
  `;
  execFileSync(process.execPath, ['-e', consumer], { cwd: ROOT, stdio: 'pipe' });
  const assets = JSON.parse(readFileSync(join(outdir, 'OidcCluster-consumer.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string } }> };
  const template = JSON.parse(readFileSync(join(outdir, 'OidcCluster-consumer.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const zippedFunctions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && (r.Properties.Code as { S3Key?: string }).S3Key);
  const bundledFromPackage = new Set<string>();
  for (const fn of zippedFunctions) {
    const key = (fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
    const asset = assets.files[key];
    const file = asset ? join(outdir, asset.source.path, 'index.js') : '';
    if (existsSync(file)) bundledFromPackage.add(readFileSync(file, 'utf8'));
  }
  const shipped = ['jwks-sync', 'token-verifier'].map((name) => readFileSync(join(OUT, 'lambda-bundles', name, 'index.js'), 'utf8'));
  for (const code of shipped) expect(bundledFromPackage.has(code)).toBe(true);
}

it('verifies a kube token in-process through the ./verifier entry', () => {
  const script = `
    const { createVerifier } = require(${JSON.stringify(join(OUT, 'core', 'verifier.js'))});
    const fs = require('node:fs');
    const dir = ${JSON.stringify(join(ROOT, 'test', 'fixtures', 'kube-format'))};
    const verifier = createVerifier(JSON.parse(fs.readFileSync(dir + '/jwks.json', 'utf8')), { issuer: 'https://oidc.example.com/cluster-a', allowedAudiences: ['sts.amazonaws.com'] });
    const result = verifier.verify(fs.readFileSync(dir + '/token-rs256.jwt', 'utf8').trim(), { now: 1798761700 });
    process.stdout.write(JSON.stringify(result));
  `;
  const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT }).toString());
  expect(result.ok).toBe(true);
  expect(result.identity.username).toBe('system:serviceaccount:payments:api');
});
