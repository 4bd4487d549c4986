import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError } from '../../core/config';
import { DEFAULT_CONFIG_PATH, loadClusterConfig, loadConfigFile } from '../../lib/config-loader';
import { addConfigStacks } from '../../lib/config-stacks';
import { REPO_ROOT, testApp } from './support/synth';

const SHIPPED_CONFIGS = [DEFAULT_CONFIG_PATH, ...readdirSync(path.join(REPO_ROOT, 'examples/config')).filter((f) => f.endsWith('.json')).map((f) => `examples/config/${f}`)];

let dir: string;
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-config-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

function writeConfig(content: unknown): string {
  const file = path.join(dir, 'clusters.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

test('the shipped example configuration is valid and names one cluster', () => {
  expect(DEFAULT_CONFIG_PATH).toBe('config/clusters.json');
  const clusters = loadClusterConfig(path.join(REPO_ROOT, DEFAULT_CONFIG_PATH));
  expect(clusters.map((c) => c.stackId)).toEqual(['OidcCluster-example']);
  expect(clusters[0].keySources.configKeys).toHaveLength(1);
  expect(clusters[0].warnings).toEqual([]);
});

test.each(SHIPPED_CONFIGS)('%s loads and synthesizes every stack it describes, as bin/app.ts does', (file) => {
  const config = loadConfigFile(path.join(REPO_ROOT, file));
  const app = testApp({ outdir: path.join(dir, 'cdk.out') });
  const { clusterStacks, federationStacks, fleetStacks } = addConfigStacks(app, config);
  const assembly = app.synth();
  expect(clusterStacks.map((s) => s.stackName)).toEqual(config.clusters.map((c) => c.stackId));
  expect(fleetStacks.map((s) => s.stackName)).toEqual(config.fleetVerifiers.map((f) => f.stackId));
  const federationIds = config.clusters.flatMap((c) => c.federationAccounts.map((a) => `OidcFederation-${c.name}-${a.account}`));
  expect(federationStacks.map((s) => s.stackName)).toEqual(federationIds);
  const expected = [...config.clusters.map((c) => c.stackId), ...federationIds, ...config.fleetVerifiers.map((f) => f.stackId)];
  expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(expected.sort());
  for (const stack of assembly.stacks) expect(Object.keys(stack.template.Resources ?? {}).length).toBeGreaterThan(federationIds.includes(stack.stackName) ? 1 : 10);
}, 120_000);

test('key files are read relative to the config file\'s folder', () => {
  mkdirSync(path.join(dir, 'keys'));
  copyFileSync(path.join(REPO_ROOT, 'test/fixtures/kube-format/sa-ec.pub'), path.join(dir, 'keys', 'sa.pub'));
  const file = writeConfig({ clusters: [{ name: 'a', keySources: { configKeys: [{ file: 'keys/sa.pub' }] }, verifyApi: { enabled: false } }] });
  const [cluster] = loadClusterConfig(file);
  expect(cluster.keySources.configKeys.map((k) => k.kid)).toEqual(['-EnXQvJzcfC5u5uOCjqgV8KCf5lBbj2EdIpgtFeUHE0']);
});

test('a missing file names the file and the fix', () => {
  const missing = path.join(dir, 'nope.json');
  expect(() => loadClusterConfig(missing)).toThrow(
    new RegExp(`^Cannot read the cluster configuration ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT.*Fix: create it \\(see docs/configuration\\.md\\) or pass -c config=PATH\\.$`),
  );
});

test('invalid JSON names the file', () => {
  const file = writeConfig('{"clusters": [');
  expect(() => loadClusterConfig(file)).toThrow(`The cluster configuration ${file} is not valid JSON: `);
});

test('validation problems are prefixed with the file, and a missing key file is one of them', () => {
  const file = writeConfig({ clusters: [{ name: 'a', keySources: { configKeys: [{ file: 'keys/missing.pub' }] }, verifyApi: { enabled: false } }] });
  let error: unknown;
  try {
    loadClusterConfig(file);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigValidationError);
  const problems = (error as ConfigValidationError).problems;
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(/^cluster "a", keySources\.configKeys\[0\]\.file = "keys\/missing\.pub": cannot be read: ENOENT: no such file or directory, open '.*keys\/missing\.pub'\. Fix: check the path \(relative to the config file\) and permissions\.$/);
  expect((error as Error).message.startsWith(`${file}: Invalid cluster configuration (1 problem):\n`)).toBe(true);
});
