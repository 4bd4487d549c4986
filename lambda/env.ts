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

/**
 * One entry of the fleet verifier's `TRUSTED_ISSUERS`: an issuer, where its keys come from
 * (exactly one of `documentsBucket`, `discovery: true`, `jwksUrl`), its deny list and its policy.
 * Policy and timing members left out take the verifier's global variables.
 */
export interface TrustedIssuerEnvEntry {
  /** The issuer, byte for byte as in tokens' `iss`. */
  readonly issuer: string;
  /** The configured cluster name, given in answers. */
  readonly cluster?: string;
  /** A cluster of this project in the same account: its documents bucket. */
  readonly documentsBucket?: string;
  /** The JWKS object's key in `documentsBucket` (default: the issuer path's `openid/v1/jwks`). */
  readonly jwksKey?: string;
  /** Keys through OIDC discovery at the issuer URL. */
  readonly discovery?: true;
  /** A JWKS URL given by hand, instead of discovery. */
  readonly jwksUrl?: string;
  /** PEM CA bundle for `discovery` / `jwksUrl` (replaces the public roots). */
  readonly caBundle?: string;
  /** Bucket holding the issuer's deny list (same account, or granted by bucket policy). */
  readonly privateBucket?: string;
  /** @default control/deny-list.json */
  readonly denyListKey?: string;
  readonly allowedAudiences?: readonly string[];
  readonly defaultAudiences?: readonly string[];
  readonly clockSkewSeconds?: number;
  readonly maxTokenLifetimeSeconds?: number;
  readonly kidlessCompat?: boolean;
  readonly keysTtlSeconds?: number;
  readonly unknownKidCooldownSeconds?: number;
  readonly staleWindowSeconds?: number;
}

const ENTRY_STRINGS = ['issuer', 'cluster', 'documentsBucket', 'jwksKey', 'jwksUrl', 'caBundle', 'privateBucket', 'denyListKey'] as const;
const ENTRY_LISTS = ['allowedAudiences', 'defaultAudiences'] as const;
const ENTRY_NUMBERS = ['clockSkewSeconds', 'maxTokenLifetimeSeconds', 'keysTtlSeconds', 'unknownKidCooldownSeconds', 'staleWindowSeconds'] as const;
const ENTRY_MEMBERS = new Set<string>([...ENTRY_STRINGS, ...ENTRY_LISTS, ...ENTRY_NUMBERS, 'discovery', 'kidlessCompat']);

/**
 * The fleet verifier's trusted issuers (a JSON array of {@link TrustedIssuerEnvEntry}), or
 * `undefined` when the variable is unset (the single-cluster variables apply). Every fault is
 * reported with the entry's position and issuer.
 */
export function trustedIssuersEnv(name: string, env: NodeJS.ProcessEnv = process.env): TrustedIssuerEnvEntry[] | undefined {
  const raw = optionalEnv(name, env);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`environment variable ${name} is not JSON`);
  }
  if (!Array.isArray(value) || value.length === 0) throw new Error(`environment variable ${name} must be a non-empty JSON array of issuers`);
  return value.map((entry, index) => trustedIssuerEntry(entry, `${name}[${index}]`));
}

function trustedIssuerEntry(entry: unknown, label: string): TrustedIssuerEnvEntry {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${label} must be a JSON object`);
  const record = entry as Record<string, unknown>;
  const named = typeof record.issuer === 'string' ? `${label} (${JSON.stringify(record.issuer)})` : label;
  const fail = (problem: string): never => {
    throw new Error(`${named}: ${problem}`);
  };
  for (const member of Object.keys(record)) if (!ENTRY_MEMBERS.has(member)) fail(`unknown member ${JSON.stringify(member)}`);
  for (const member of ENTRY_STRINGS) {
    const item = record[member];
    if (item !== undefined && (typeof item !== 'string' || item === '')) fail(`${member} must be a non-empty string`);
  }
  if (record.issuer === undefined) fail('issuer is required');
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(record.issuer as string)) fail('issuer must be an absolute http(s) URL without query or fragment');
  for (const member of ENTRY_LISTS) {
    const item = record[member];
    if (item !== undefined && (!Array.isArray(item) || !item.every((audience) => typeof audience === 'string' && audience !== ''))) fail(`${member} must be a list of non-empty strings`);
  }
  for (const member of ENTRY_NUMBERS) {
    const item = record[member];
    if (item !== undefined && (!Number.isInteger(item) || (item as number) < 0)) fail(`${member} must be a whole number`);
  }
  if (record.discovery !== undefined && record.discovery !== true) fail('discovery must be true when given');
  if (record.kidlessCompat !== undefined && typeof record.kidlessCompat !== 'boolean') fail('kidlessCompat must be true or false');
  const sources = ['documentsBucket', 'discovery', 'jwksUrl'].filter((member) => record[member] !== undefined);
  if (sources.length !== 1) fail(`give exactly one key source: documentsBucket, discovery: true or jwksUrl (got ${sources.length === 0 ? 'none' : sources.join(', ')})`);
  if (record.jwksKey !== undefined && record.documentsBucket === undefined) fail('jwksKey needs documentsBucket');
  if (record.caBundle !== undefined && record.documentsBucket !== undefined) fail('caBundle applies to discovery and jwksUrl only');
  if (record.denyListKey !== undefined && record.privateBucket === undefined) fail('denyListKey needs privateBucket');
  return record as unknown as TrustedIssuerEnvEntry;
}
