/**
 * Cluster configuration: the types of `config/clusters.json` and `validateConfig`.
 *
 * The shape, descriptions and defaults are defined once, in `core/config-schema.ts`; the types
 * below are inferred from it. `validateConfig` checks the shape, then runs the rules of
 * `core/config-rules.ts` on every cluster whose shape is valid, and throws once with every
 * problem, so an operator fixes the whole file in one pass. Each message names the cluster, the
 * field path, the value as written and the fix. Key material is never echoed: key fields are
 * described by their size only.
 *
 * Pure: no AWS SDK, no file or network I/O, no environment. Key files named in the config are
 * read through the `readKeyFile` port that the caller supplies.
 *
 * @see docs/configuration.md for every field, its default and its rules.
 */
import { z } from 'zod';
import { buildJwks } from './documents';
import type { JwksDocument } from './documents';
import type { PublicJwk } from './keys';
import { checkClusterRules, checkFleetRules, duplicateNames } from './config-rules';
import type { RuleResult, ValidateConfigOptions } from './config-rules';
import { clusterSchema, configFileSchema, defaultMessage, fleetVerifierSchema } from './config-schema';
import type { ClusterShape, FleetShape } from './config-schema';

export {
  CONFIG_DEFAULTS, MAX_AUDIENCE_LENGTH, MAX_CLUSTER_NAME_LENGTH, MAX_PROVIDER_AUDIENCES, STS_AUDIENCE,
  configJsonSchema,
} from './config-schema';
export { MAX_ISSUER_URL_LENGTH } from './issuer-url';
export { LAMBDA_ENV_BUDGET_BYTES } from './config-rules';
export type { ValidateConfigOptions } from './config-rules';

/** Prefix of every stack id: `OidcCluster-<name>`. */
export const STACK_ID_PREFIX = 'OidcCluster-';
/** Prefix of every fleet verifier's stack id: `OidcFleet-<name>`. */
export const FLEET_STACK_ID_PREFIX = 'OidcFleet-';

// ===== Types, inferred from the schema =====

/** `T` with every property and array read-only, all the way down (a type only: nothing is frozen). */
type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** What validation adds to an entry of the file. */
interface Resolved {
  /** `OidcCluster-<name>` or `OidcFleet-<name>`. */
  stackId: string;
  /** Non-fatal findings (for example a private key given where a public one suffices). */
  warnings: string[];
}

/** One cluster, validated, with every default filled in. */
export type ClusterConfig = DeepReadonly<Omit<ClusterShape, 'keySources'> & Resolved & {
  keySources: Omit<ClusterShape['keySources'], 'configKeys'> & {
    /** Public keys given in the config, converted at synth time (private input keeps its public half only). */
    configKeys: PublicJwk[];
  };
}>;
/** The cluster's own JWKS endpoint. */
export type ClusterJwksSource = NonNullable<ClusterConfig['keySources']['clusterJwks']>;
/** One IAM role assumable by service accounts of the cluster (self-hosted IRSA). */
export type ServiceAccountRoleConfig = ClusterConfig['serviceAccountRoles'][number];
/** An AWS account that holds some of a cluster's roles, with its own IAM OIDC provider for the issuer. */
export type FederationAccountConfig = ClusterConfig['federationAccounts'][number];
/** Optional deployment environment of a stack. */
export type EnvConfig = NonNullable<ClusterConfig['env']>;
/** A Verify API trusting several issuers: clusters of the file (by name) and external issuers. */
export type FleetVerifierConfig = DeepReadonly<FleetShape & Resolved>;

/** The whole configuration file, validated. */
export interface ConfigFile {
  readonly clusters: ClusterConfig[];
  readonly fleetVerifiers: FleetVerifierConfig[];
}

/** Thrown by `validateConfig` with every problem found. */
export class ConfigValidationError extends Error {
  /** One line per problem: cluster, field path, bad value, fix. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid cluster configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
    this.problems = problems;
  }
}

/** The stack id of a cluster. */
export function stackIdFor(clusterName: string): string {
  return `${STACK_ID_PREFIX}${clusterName}`;
}

/** The JWKS of the keys given in a cluster's config, as the sync Lambda receives it in `CONFIG_JWKS`. */
export function configJwks(cluster: Pick<ClusterConfig, 'keySources'>): JwksDocument {
  return buildJwks(cluster.keySources.configKeys);
}

// ===== Validation =====

type Path = readonly PropertyKey[];

/**
 * Validates the raw configuration (parsed JSON) and returns the clusters with defaults applied.
 *
 * @throws ConfigValidationError listing every problem at once
 */
export function validateConfig(raw: unknown, options: ValidateConfigOptions = {}): ClusterConfig[] {
  return validateConfigFile(raw, options).clusters;
}

/**
 * Validates the raw configuration (parsed JSON): its clusters and fleet verifiers, with defaults
 * applied and every cross-reference checked.
 *
 * @throws ConfigValidationError listing every problem at once
 */
export function validateConfigFile(raw: unknown, options: ValidateConfigOptions = {}): ConfigFile {
  const parsed = configFileSchema.safeParse(raw, { error: defaultMessage });
  const rawClusters = listAt(raw, 'clusters');
  const rawFleets = listAt(raw, 'fleetVerifiers');
  const labels = { clusters: entryLabels(rawClusters, 'cluster', 'clusters'), fleetVerifiers: entryLabels(rawFleets, 'fleet', 'fleetVerifiers') };
  // Problems are listed per entry, in file order: its shape first, then its rules.
  const byEntry = new Map<string, string[]>();
  const add = (key: string, line: string): void => { byEntry.set(key, [...(byEntry.get(key) ?? []), line]); };
  const shapeFailed = new Set<string>();
  for (const issue of parsed.error?.issues ?? []) {
    const entry = entryOf(issue.path);
    if (entry) shapeFailed.add(entry.key);
    const label = entry ? labels[entry.list][entry.index] : 'config';
    for (const text of issueLines(issue, raw, label)) add(entry?.key ?? 'config', text);
  }

  /** Runs `check` on each entry of a list whose shape is valid (parsed alone when another entry is not). */
  function checkEach<S>(list: EntryList, schema: z.ZodType<S>, check: (shape: S, rawEntry: unknown, label: string) => RuleResult) {
    return listAt(raw, list).flatMap((rawEntry, index) => {
      const key = `${list}.${index}`;
      const shape = shapeFailed.has(key) ? undefined
        : parsed.success ? parsed.data[list][index] as S : schema.safeParse(rawEntry, { error: defaultMessage }).data;
      if (shape === undefined) return [];
      const label = labels[list][index];
      const result = check(shape, rawEntry, label);
      for (const { path, problem, fix } of result.problems) add(key, line(label, [list, index, ...path], raw, `${problem}. Fix: ${fix}`));
      return [{ shape, result }];
    });
  }

  const shapes = new Map<string, ClusterShape>();
  const clusters = checkEach('clusters', clusterSchema, (shape, rawCluster, label) => {
    shapes.set(shape.name, shape);
    return checkClusterRules(shape, rawCluster as Record<string, unknown>, label, options);
  }).map(({ shape: { keySources, ...rest }, result }) => ({
    ...rest, stackId: stackIdFor(rest.name), keySources: { ...keySources, configKeys: result.configKeys }, warnings: result.warnings,
  }));
  const clusterNames = rawClusters.flatMap((c) => (isObject(c) && typeof c.name === 'string' ? [c.name] : []));
  const fleetVerifiers = checkEach('fleetVerifiers', fleetVerifierSchema, (shape, _raw, label) => checkFleetRules(shape, { clusterNames, clusters: shapes }, label))
    .map(({ shape, result }) => ({ ...shape, stackId: `${FLEET_STACK_ID_PREFIX}${shape.name}`, warnings: result.warnings }));

  const problems = [
    ...(byEntry.get('config') ?? []),
    ...rawClusters.flatMap((_, index) => byEntry.get(`clusters.${index}`) ?? []),
    ...duplicateNames(rawClusters, 'cluster', 'clusters', 'OidcCluster-<name>'),
    ...rawFleets.flatMap((_, index) => byEntry.get(`fleetVerifiers.${index}`) ?? []),
    ...duplicateNames(rawFleets, 'fleet', 'fleetVerifiers', 'OidcFleet-<name>'),
  ];
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return { clusters, fleetVerifiers };
}

type EntryList = 'clusters' | 'fleetVerifiers';

/** The cluster or fleet an issue path lies in. */
function entryOf(path: Path): { list: EntryList; index: number; key: string } | undefined {
  if ((path[0] === 'clusters' || path[0] === 'fleetVerifiers') && typeof path[1] === 'number') {
    return { list: path[0], index: path[1], key: `${path[0]}.${path[1]}` };
  }
  return undefined;
}

function listAt(raw: unknown, key: string): unknown[] {
  return isObject(raw) && Array.isArray(raw[key]) ? raw[key] : [];
}

/** How messages name each entry: by name, by index when it has none, by both when the name is not unique. */
function entryLabels(values: readonly unknown[], kind: string, list: string): string[] {
  const names = values.map((value) => (isObject(value) && typeof value.name === 'string' && value.name !== '' ? value.name : undefined));
  return names.map((name, index) => {
    if (name === undefined) return `${list}[${index}]`;
    return names.filter((n) => n === name).length > 1 ? `${kind} ${JSON.stringify(name)} (${list}[${index}])` : `${kind} ${JSON.stringify(name)}`;
  });
}

/** The lines of one schema issue; an unknown-fields issue becomes one line per field. */
function issueLines(issue: z.core.$ZodIssue, raw: unknown, label: string): string[] {
  if (issue.code === 'unrecognized_keys') {
    const messages = issue.message.split('\n');
    return issue.keys.map((key, i) => line(label, [...issue.path, key], raw, messages[i] ?? issue.message));
  }
  return [line(label, issue.path, raw, issue.message)];
}

/** `<cluster>, <path> = <value as written>: <problem>. Fix: <fix>.` */
function line(label: string, fullPath: Path, raw: unknown, message: string): string {
  const path = entryOf(fullPath) ? fullPath.slice(2) : fullPath;
  if (path.length === 0) return `${label}: ${message}.`;
  const text = z.core.toDotPath([...path] as (string | number)[]);
  return `${label}, ${text} = ${describe(text, valueAt(raw, fullPath))}: ${message}.`;
}

function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const key of path) {
    if (typeof key === 'number' ? !Array.isArray(value) : !isObject(value)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The value as shown in a message; key material and certificates at most by their size. */
function describe(path: string, value: unknown): string {
  if (value === undefined) return '(missing)';
  if (/(^|\.)(pem|caBundlePem)$/.test(path) && typeof value === 'string') return `(${value.length} characters, not shown)`;
  const text = JSON.stringify(value) ?? String(value);
  if (/\.jwk$/.test(path) || text.includes('-----BEGIN') || /"(d|p|q|dp|dq|qi|k)":/.test(text)) return '(not shown)';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
