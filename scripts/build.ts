/**
 * `npm run build`: the package as another CDK app or Node service consumes it: TypeScript compiled
 * to `dist/` with declarations, and the Lambda handlers pre-bundled into `dist/lambda-bundles/`
 * with the same esbuild settings the CDK app uses, so a consumer needs no esbuild.
 *
 * `--out DIR` builds elsewhere (tests build into a scratch folder).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { LAMBDA_BUNDLE_EXTERNALS, LAMBDA_BUNDLE_TARGET, LAMBDA_ENTRIES, PREBUNDLED_DIR } from '../lib/private/lambda-bundling';

const root = resolve(__dirname, '..');
const outIndex = process.argv.indexOf('--out');
const out = resolve(outIndex >= 0 ? process.argv[outIndex + 1] : join(root, 'dist'));

rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
for (const [name, entry] of Object.entries(LAMBDA_ENTRIES)) {
  buildSync({
    entryPoints: [join(root, entry)],
    outfile: join(out, PREBUNDLED_DIR, name, 'index.js'),
    bundle: true,
    minify: true,
    platform: 'node',
    target: LAMBDA_BUNDLE_TARGET,
    format: 'cjs',
    external: [...LAMBDA_BUNDLE_EXTERNALS],
    logLevel: 'warning',
  });
}
console.log(`built ${out}`);
