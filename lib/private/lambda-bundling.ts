/**
 * How the project's Lambda code is bundled, in one place: the CDK app bundles it at synth time
 * with esbuild (`NodejsFunction`), and `npm run build` pre-bundles it with the same settings so
 * that an app using this package as a library needs no esbuild.
 */

/**
 * The project's Lambda handlers: bundle name to entry file (relative to the repository root). The
 * verifier has one bundle per mode, so each carries only its own mode's code: `token-verifier`
 * verifies one cluster's tokens, `fleet-verifier` those of the issuers in `TRUSTED_ISSUERS`.
 */
export const LAMBDA_ENTRIES = {
  'jwks-sync': 'lambda/jwks-sync/index.ts',
  'token-verifier': 'lambda/token-verifier/single-issuer.ts',
  'fleet-verifier': 'lambda/token-verifier/fleet.ts',
} as const;

/** A bundle's name. */
export type LambdaBundleName = keyof typeof LAMBDA_ENTRIES;

/** esbuild target: the Node.js major of the Lambda runtime. */
export const LAMBDA_BUNDLE_TARGET = 'node24';

/** The Lambda runtime ships AWS SDK v3: bundling it would only grow the package. */
export const LAMBDA_BUNDLE_EXTERNALS: readonly string[] = ['@aws-sdk/*'];

/** Folder, below the compiled package root (`dist/`), holding the pre-bundled handlers. */
export const PREBUNDLED_DIR = 'lambda-bundles';
