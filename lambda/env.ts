/**
 * Reads a Lambda's environment once, at init, with clear errors: the one place Lambda code
 * touches `process.env`.
 */
import type { VerifierPolicy } from '../core/verifier';

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
  // Every cold start of a fleet verifier checks every entry: the quick check passes a valid entry
  // in one walk over its own members; only a refused one goes through the full check, which
  // finds and names its first fault.
  for (let index = 0; index < value.length; index += 1) {
    if (!isValidTrustedIssuerEntry(value[index])) trustedIssuerEntry(value[index], `${name}[${index}]`);
  }
  return value as TrustedIssuerEnvEntry[];
}

/** What each member of an entry must be, for {@link isValidTrustedIssuerEntry}. */
const ENTRY_MEMBER_KIND: ReadonlyMap<string, 'string' | 'list' | 'number' | 'discovery' | 'boolean'> = new Map([
  ...ENTRY_STRINGS.map((member) => [member, 'string'] as const),
  ...ENTRY_LISTS.map((member) => [member, 'list'] as const),
  ...ENTRY_NUMBERS.map((member) => [member, 'number'] as const),
  ['discovery', 'discovery'],
  ['kidlessCompat', 'boolean'],
]);

const ISSUER_URL = /^https?:\/\/[^/?#]+(\/[^?#]*)?$/;

/**
 * True when {@link trustedIssuerEntry} accepts the entry: the same rules, checked in one walk over
 * the members the entry has. `false` says only that the full check must run to name the fault.
 * Exported for the test that holds the two to the same verdicts.
 */
export function isValidTrustedIssuerEntry(entry: unknown): boolean {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return false;
  const record = entry as Record<string, unknown>;
  let sources = 0;
  for (const member of Object.keys(record)) {
    const item = record[member];
    switch (ENTRY_MEMBER_KIND.get(member)) {
      case 'string':
        if (typeof item !== 'string' || item === '') return false;
        break;
      case 'list':
        if (!Array.isArray(item)) return false;
        for (const audience of item) if (typeof audience !== 'string' || audience === '') return false;
        break;
      case 'number':
        if (!Number.isInteger(item) || (item as number) < 0) return false;
        break;
      case 'discovery':
        if (item !== true) return false;
        break;
      case 'boolean':
        if (typeof item !== 'boolean') return false;
        break;
      default:
        return false;
    }
    // A member given as undefined cannot come out of JSON, but the full check ignores it.
    if (item !== undefined && (member === 'documentsBucket' || member === 'discovery' || member === 'jwksUrl')) sources += 1;
  }
  return (
    typeof record.issuer === 'string' &&
    ISSUER_URL.test(record.issuer) &&
    sources === 1 &&
    (record.jwksKey === undefined || record.documentsBucket !== undefined) &&
    (record.caBundle === undefined || record.documentsBucket === undefined) &&
    (record.denyListKey === undefined || record.privateBucket !== undefined)
  );
}

/**
 * The full check of one `TRUSTED_ISSUERS` entry: returns it when valid, else throws an error that
 * names the entry (`label`, and its issuer when it has one) and its first fault. A rule added here
 * must be added to {@link isValidTrustedIssuerEntry} too (test/unit/fleet-env.test.ts compares them).
 */
export function trustedIssuerEntry(entry: unknown, label: string): TrustedIssuerEnvEntry {
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
  if (!ISSUER_URL.test(record.issuer as string)) fail('issuer must be an absolute http(s) URL without query or fragment');
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

/**
 * A fleet entry's verifier policy: the entry's own members where it gives them, the global
 * variables' policy otherwise. An entry's own `allowedAudiences` bring their own default (all of
 * them unless it names `defaultAudiences`). Built member by member rather than by spreading:
 * a fleet's cold start builds one per issuer, before the JIT has warmed up.
 */
export function trustedIssuerPolicy(entry: TrustedIssuerEnvEntry, globals: Omit<VerifierPolicy, 'issuer'>): VerifierPolicy {
  const ownAudiences = entry.allowedAudiences;
  return {
    issuer: entry.issuer,
    allowedAudiences: ownAudiences ?? globals.allowedAudiences,
    defaultAudiences: entry.defaultAudiences ?? ownAudiences ?? globals.defaultAudiences,
    clockSkewSeconds: entry.clockSkewSeconds ?? globals.clockSkewSeconds,
    maxTokenLifetimeSeconds: entry.maxTokenLifetimeSeconds ?? globals.maxTokenLifetimeSeconds,
    maxTokenBytes: globals.maxTokenBytes,
    kidlessCompat: entry.kidlessCompat ?? globals.kidlessCompat,
  };
}
