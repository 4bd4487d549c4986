/**
 * Configuration validation runs at synth time and in the CLI only: the schema library (zod) and
 * the config modules must never reach a Lambda bundle, whose size and cold start they would grow.
 * Each handler is bundled the way the CDK app bundles it (esbuild, same settings) and its inputs
 * are listed.
 */
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { LAMBDA_BUNDLE_EXTERNALS, LAMBDA_BUNDLE_TARGET, LAMBDA_ENTRIES } from '../../lib/private/lambda-bundling';

const ROOT = resolve(__dirname, '..', '..');

test.each(Object.entries(LAMBDA_ENTRIES))('the %s bundle holds neither zod nor the config modules', (_, entry) => {
  const result = buildSync({
    entryPoints: [join(ROOT, entry)], bundle: true, minify: true, platform: 'node', target: LAMBDA_BUNDLE_TARGET,
    format: 'cjs', external: [...LAMBDA_BUNDLE_EXTERNALS], write: false, metafile: true, logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.length).toBeGreaterThan(3);
  expect(inputs.filter((input) => /(^|\/)node_modules\/zod\/|(^|\/)core\/config(-[a-z]+)?\.ts$/.test(input))).toEqual([]);
});
