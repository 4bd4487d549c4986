/**
 * The CLI's one filter on Node process warnings. The AWS SDK v3 prints a nine-line
 * `NodeVersionSupportWarning` on every run under a Node version it plans to drop, although the
 * project supports that version (package.json `engines`): an operator would see it on every
 * `keys`, `deny`, `sync` and `status` call. Exactly that warning is dropped; every other warning
 * (deprecations, experimental features, the SDK's own others) still prints.
 */

/** The warning type the AWS SDK uses (as the `type` or, in current releases, as the message's first word). */
export const SDK_NODE_VERSION_WARNING = 'NodeVersionSupportWarning';

/** The part of `process` the filter replaces. */
export interface WarningEmitter {
  emitWarning: (warning: string | Error, ...rest: unknown[]) => void;
}

/** True for the AWS SDK's Node-version warning, however it is emitted. */
export function isSdkNodeVersionWarning(warning: string | Error, typeOrOptions?: unknown): boolean {
  const type = typeof typeOrOptions === 'string' ? typeOrOptions : (typeOrOptions as { type?: unknown } | undefined)?.type;
  if (type === SDK_NODE_VERSION_WARNING) return true;
  if (warning instanceof Error && warning.name === SDK_NODE_VERSION_WARNING) return true;
  const text = typeof warning === 'string' ? warning : warning.message;
  return text.startsWith(`${SDK_NODE_VERSION_WARNING}:`);
}

/** Wraps `target.emitWarning` so that the SDK's Node-version warning is dropped and every other warning passes. */
export function dropSdkNodeVersionWarning(target: WarningEmitter): void {
  const original = target.emitWarning.bind(target);
  target.emitWarning = (warning: string | Error, ...rest: unknown[]): void => {
    if (isSdkNodeVersionWarning(warning, rest[0])) return;
    original(warning, ...rest);
  };
}
