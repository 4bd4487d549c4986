/**
 * Bundles the webhook (runtime/webhook-main.ts: the CLI runner with only the `webhook` commands,
 * the Kubernetes client, prom-client) into one CommonJS file for the container image
 * (deploy/webhook/Dockerfile). `tsx scripts/bundle-webhook.ts --out DIR` writes DIR/webhook.cjs.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import type { BuildOptions } from 'esbuild';

/** The Node version the image runs. */
export const WEBHOOK_NODE_TARGET = 'node24';

const ROOT = resolve(__dirname, '..');

/** The esbuild options of the image's bundle (entry: runtime/webhook-main.ts). */
function webhookBuildOptions(): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'runtime', 'webhook-main.ts')],
    bundle: true,
    minify: true,
    sourcemap: false,
    platform: 'node',
    target: WEBHOOK_NODE_TARGET,
    format: 'cjs',
    // Optional native speed-ups of ws; the pure-JS paths are used without them.
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
    legalComments: 'none',
  };
}

/** Builds DIR/webhook.cjs and returns its path. */
export function bundleWebhook(outDir: string): string {
  const outfile = join(outDir, 'webhook.cjs');
  mkdirSync(outDir, { recursive: true });
  buildSync({ ...webhookBuildOptions(), outfile });
  return outfile;
}

/** The source files the bundle is made of (paths relative to the project root), without writing it. */
export function webhookBundleInputs(): string[] {
  const result = buildSync({ ...webhookBuildOptions(), write: false, outfile: 'webhook.cjs', metafile: true });
  return Object.keys(result.metafile.inputs);
}

if (require.main === module) {
  const outIndex = process.argv.indexOf('--out');
  const out = resolve(outIndex >= 0 ? process.argv[outIndex + 1] : 'dist/webhook');
  console.log(`built ${bundleWebhook(out)}`);
}
