import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigValidationError, validateConfigFile } from '../core/config';
import type { ClusterConfig, ConfigFile } from '../core/config';

/** Where the app reads the cluster configuration unless `-c config=PATH` says otherwise. */
export const DEFAULT_CONFIG_PATH = 'config/clusters.json';

/**
 * Reads the cluster configuration file, reads the key files it names (relative to the file's own
 * folder), and validates everything at once.
 *
 * @throws Error naming the file when it cannot be read or parsed
 * @throws ConfigValidationError listing every problem, prefixed with the file name
 */
export function loadClusterConfig(configPath: string = DEFAULT_CONFIG_PATH): ClusterConfig[] {
  return loadConfigFile(configPath).clusters;
}

/**
 * Like `loadClusterConfig`, with the fleet verifiers of the file too.
 *
 * @throws Error naming the file when it cannot be read or parsed
 * @throws ConfigValidationError listing every problem, prefixed with the file name
 */
export function loadConfigFile(configPath: string = DEFAULT_CONFIG_PATH): ConfigFile {
  const absolute = path.resolve(configPath);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read the cluster configuration ${configPath}: ${reason(err)}. Fix: create it (see docs/configuration.md) or pass -c config=PATH.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`The cluster configuration ${configPath} is not valid JSON: ${reason(err)}.`);
  }
  const folder = path.dirname(absolute);
  try {
    return validateConfigFile(raw, { readKeyFile: (file) => readFileSync(path.resolve(folder, file), 'utf8') });
  } catch (err) {
    if (err instanceof ConfigValidationError) err.message = `${configPath}: ${err.message}`;
    throw err;
  }
}

/** The message of anything thrown (errors from another realm fail `instanceof Error`). */
function reason(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : String(err);
}
