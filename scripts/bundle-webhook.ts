/**
 * Bundles the webhook (runtime/webhook-main.ts: the `webhook` commands, the Kubernetes client,
 * prom-client) into one CommonJS file for the container image (deploy/webhook/Dockerfile).
 * `tsx scripts/bundle-webhook.ts --out DIR` writes DIR/webhook.cjs.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

/** The Node version the image runs. */
export const WEBHOOK_NODE_TARGET = 'node24';

/** Builds DIR/webhook.cjs and returns its path. */
export function bundleWebhook(outDir: string): string {
  const root = resolve(__dirname, '..');
  const outfile = join(outDir, 'webhook.cjs');
  mkdirSync(outDir, { recursive: true });
  buildSync({
    entryPoints: [join(root, 'runtime', 'webhook-main.ts')],
    outfile,
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
  });
  return outfile;
}

if (require.main === module) {
  const outIndex = process.argv.indexOf('--out');
  const out = resolve(outIndex >= 0 ? process.argv[outIndex + 1] : 'dist/webhook');
  console.log(`built ${bundleWebhook(out)}`);
}
