/**
 * The verifier has one Lambda bundle per mode (lib/private/lambda-bundling.ts): the single-issuer
 * bundle must carry none of the fleet's modules, which its cold start would compile for nothing,
 * and the fleet bundle none of the single-issuer entry. Each is bundled the way the CDK app
 * bundles it (esbuild, same settings) and its inputs are read from esbuild's metafile.
 */
import { join, resolve } from 'node:path';
import { buildSync, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLE_EXTERNALS, LAMBDA_BUNDLE_TARGET, LAMBDA_ENTRIES } from '../../lib/private/lambda-bundling';

const ROOT = resolve(__dirname, '..', '..');

/** Modules only a fleet verifier runs: issuer router, per-issuer caches, discovery and its HTTP client. */
const FLEET_MODULES = ['core/trusted-issuers.ts', 'runtime/issuer-key-caches.ts', 'runtime/issuer-key-sources.ts', 'runtime/http-client.ts', 'lambda/token-verifier/fleet.ts'];

function bundle(name: keyof typeof LAMBDA_ENTRIES): { inputs: Metafile['inputs']; bytesIn: Record<string, number>; text: string } {
  const result = buildSync({
    entryPoints: [join(ROOT, LAMBDA_ENTRIES[name])], bundle: true, minify: true, platform: 'node', target: LAMBDA_BUNDLE_TARGET,
    format: 'cjs', external: [...LAMBDA_BUNDLE_EXTERNALS], write: false, metafile: true, outfile: join(ROOT, 'out.js'), logLevel: 'silent',
  });
  const [output] = Object.values(result.metafile.outputs);
  const bytesIn = Object.fromEntries(Object.entries(output.inputs).map(([input, { bytesInOutput }]) => [input, bytesInOutput]));
  return { inputs: result.metafile.inputs, bytesIn, text: result.outputFiles[0].text };
}

describe('verifier bundles', () => {
  const single = bundle('token-verifier');
  const fleet = bundle('fleet-verifier');

  test('the single-issuer bundle holds no fleet module and not the TRUSTED_ISSUERS parser', () => {
    expect(Object.keys(single.bytesIn)).toContain('lambda/token-verifier/single-issuer.ts');
    expect(Object.keys(single.bytesIn)).toContain('core/verify-api.ts');
    expect(FLEET_MODULES.filter((module) => module in single.inputs)).toEqual([]);
    // lambda/env.ts is shared; esbuild must have left out its fleet-only parser and entry checks.
    expect(single.text).not.toMatch(/non-empty JSON array of issuers|give exactly one key source/);
  });

  test('the fleet bundle holds the fleet modules and not the single-issuer entry', () => {
    expect(FLEET_MODULES.filter((module) => !(module in fleet.inputs))).toEqual([]);
    expect(Object.keys(fleet.inputs)).not.toContain('lambda/token-verifier/single-issuer.ts');
    expect(fleet.text).toMatch(/non-empty JSON array of issuers/);
    // The single cluster's own variables are read only by its entry.
    expect(fleet.text).not.toMatch(/JWKS_KEY/);
  });

  test('both share one handler module and neither loads node:perf_hooks', () => {
    for (const { inputs } of [single, fleet]) {
      expect(Object.keys(inputs)).toContain('lambda/token-verifier/handler.ts');
      const imported = Object.values(inputs).flatMap((input) => input.imports.map((item) => item.path));
      expect(imported).toContain('node:https');
      expect(imported).not.toContain('node:perf_hooks');
      expect(imported).not.toContain('perf_hooks');
    }
  });
});

describe('each mode refuses the other mode\'s environment at init', () => {
  const saved = process.env.TRUSTED_ISSUERS;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRUSTED_ISSUERS;
    else process.env.TRUSTED_ISSUERS = saved;
  });
  const load = (module: string): unknown => {
    let loaded: unknown;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(module);
    });
    return loaded;
  };

  test('the single-issuer entry with TRUSTED_ISSUERS set names the fleet bundle instead of ignoring it', () => {
    process.env.TRUSTED_ISSUERS = JSON.stringify([{ issuer: 'https://oidc.example.com/a', discovery: true }]);
    expect(() => load('../../lambda/token-verifier/single-issuer')).toThrow(/TRUSTED_ISSUERS is set, but this is the single-issuer verifier.*fleet-verifier/);
  });

  test('the fleet entry without TRUSTED_ISSUERS says it is required', () => {
    delete process.env.TRUSTED_ISSUERS;
    expect(() => load('../../lambda/token-verifier/fleet')).toThrow(/TRUSTED_ISSUERS is required but not set/);
  });
});
