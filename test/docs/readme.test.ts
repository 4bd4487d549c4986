/**
 * README.md stays true: its two quick-start commands are the ones CI and npm run, its pod example
 * is the CLI's own output, and the names its snippets import exist.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { documentPaths } from '../../core/documents';
import { runCli } from '../support/cli';
import { blocksOf, REPO_ROOT } from './support/doc-blocks';

const blocks = blocksOf('README.md');
function block(id: string): string {
  const found = blocks.find((b) => b.id === id);
  if (!found) throw new Error(`README.md has no block ${id}`);
  return found.text.trim();
}
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

test('readme-start runs local mode and readme-test runs exactly what CI runs', () => {
  expect(block('readme-start')).toBe('npm ci && npm start');
  expect(packageJson.scripts.start).toMatch(/bin\/cli\.ts local$/);
  expect(block('readme-test')).toBe('npm ci && npm test');
  // .ci/run is README's command and nothing more: npm test's pretest sets up the machine.
  const ci = readFileSync(join(REPO_ROOT, '.ci', 'run'), 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  expect(ci).toEqual(['set -euo pipefail', 'cd "$(dirname "$0")/.."', block('readme-test')]);
  expect(packageJson.scripts.pretest).toBe('sh scripts/test-prerequisites');
});

test('readme-manifest is what `manifest` prints for the command shown above it', async () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const command = /`npm run cli -- (manifest [^`]+)`/.exec(readme);
  expect(command).not.toBeNull();
  const run = await runCli(command![1].split(' '));
  expect(run.status).toBe(0);
  expect(block('readme-manifest')).toBe(run.stdout.trim());
});

test('readme-flags name the issuer and the JWKS URI the sync publishes for it', () => {
  const flags = Object.fromEntries(block('readme-flags').split('\n').map((line) => line.trim().replace(/^--/, '').split('=')));
  expect(Object.keys(flags)).toEqual(['service-account-issuer', 'service-account-jwks-uri']);
  expect(flags['service-account-jwks-uri']).toBe(documentPaths(flags['service-account-issuer']).jwksUri);
});

test('readme-library-cdk and readme-library-verifier import names the package exports', async () => {
  const lib = await import('../../lib/index');
  const verifier = await import('../../core/verifier');
  for (const name of /import \{ ([^}]+) \} from 'kube-oidc-aws'/.exec(block('readme-library-cdk'))![1].split(',').map((n) => n.trim())) {
    expect(typeof (lib as Record<string, unknown>)[name]).toBe('function');
  }
  expect(typeof (verifier as Record<string, unknown>)[/import \{ (\w+) \} from 'kube-oidc-aws\/verifier'/.exec(block('readme-library-verifier'))![1]]).toBe('function');
  const exported = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports;
  expect(Object.keys(exported)).toEqual(expect.arrayContaining(['.', './verifier']));
});

test('readme-architecture is a Mermaid flowchart naming every deployed part', () => {
  const diagram = block('readme-architecture');
  expect(diagram.startsWith('flowchart')).toBe(true);
  for (const part of ['CloudFront', 'documents bucket', 'private bucket', 'JWKS sync Lambda', 'IAM OIDC provider', 'Verify API', 'SNS']) expect(diagram).toContain(part);
});

test('readme-fleet is the fleet of examples/config/multi-account.json, which synthesizes (test/docs/multi-account-config.test.ts)', () => {
  const example = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'config', 'multi-account.json'), 'utf8')) as { fleetVerifiers: unknown[] };
  expect(JSON.parse(block('readme-fleet'))).toEqual(example.fleetVerifiers[0]);
  expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')).toContain('npx cdk synth -c config=examples/config/multi-account.json');
});
