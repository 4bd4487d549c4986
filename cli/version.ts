/** The CLI's version: the `version` of the package it runs from (source tree or installed package). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = 'kube-oidc-aws';

/**
 * Reads `version` from the nearest package.json named kube-oidc-aws above this file: the source
 * tree's (`cli/`) and the built package's (`dist/cli/`) are both found.
 */
export function packageVersion(start: string = __dirname): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
