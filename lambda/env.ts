/**
 * Reads a Lambda's environment once, at init, with clear errors: the one place Lambda code
 * touches `process.env`.
 */

/** A required variable; a missing one is a deployment bug, reported by name. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is required but not set`);
  return value;
}

/** An optional variable (`undefined` when unset or empty). */
export function optionalEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A whole number of seconds (or other count) with a default. */
export function integerEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = optionalEnv(name, env);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`environment variable ${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return value;
}

/** `true` or `false`. */
export function booleanEnv(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = optionalEnv(name, env);
  if (raw === undefined) return fallback;
  if (raw !== 'true' && raw !== 'false') throw new Error(`environment variable ${name} must be "true" or "false", got ${JSON.stringify(raw)}`);
  return raw === 'true';
}

/** A JSON array of strings. */
export function stringListEnv(name: string, fallback: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = optionalEnv(name, env);
  if (raw === undefined) return [...fallback];
  const value: unknown = JSON.parse(raw);
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error(`environment variable ${name} must be a JSON array of strings`);
  return value;
}
