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
import type { z } from 'zod';
import { buildJwks } from './documents';
import type { JwksDocument } from './documents';
import type { PublicJwk } from './keys';
import { checkClusterRules, duplicateClusterNames } from './config-rules';
import type { RuleProblem, ValidateConfigOptions } from './config-rules';
import { clusterSchema, configFileSchema } from './config-schema';
import type { ClusterShape } from './config-schema';

export {
  CONFIG_DEFAULTS, MAX_AUDIENCE_LENGTH, MAX_CLUSTER_NAME_LENGTH, MAX_ISSUER_URL_LENGTH, MAX_PROVIDER_AUDIENCES, STS_AUDIENCE,
  configJsonSchema, issuerUrlProblems,
} from './config-schema';
export { LAMBDA_ENV_BUDGET_BYTES } from './config-rules';
export type { ValidateConfigOptions } from './config-rules';

/** Prefix of every stack id: `OidcCluster-<name>`. */
export const STACK_ID_PREFIX = 'OidcCluster-';

// ===== Types, inferred from the schema =====

/** `T` with every property and array read-only, all the way down (a type only: nothing is frozen). */
export type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

type ResolvedCluster = Omit<ClusterShape, 'keySources'> & {
  /** `OidcCluster-<name>`. */
  stackId: string;
  keySources: Omit<ClusterShape['keySources'], 'configKeys'>;
  /** Non-fatal findings (for example a private key given where a public one suffices). */
  warnings: string[];
};

/** One cluster, validated, with every default filled in. */
export type ClusterConfig = DeepReadonly<ResolvedCluster> & {
  readonly keySources: KeySourcesConfig;
};
/** Where the issuer lives: a custom domain, or the CloudFront distribution's own domain. */
export type IssuerConfig = DeepReadonly<ClusterShape['issuer']>;
/** The issuer is the CloudFront distribution's own domain, known only once it is deployed. */
export type CloudFrontDefaultIssuer = Extract<IssuerConfig, { kind: 'cloudFrontDefault' }>;
/** The issuer is a custom domain served by CloudFront, with its DNS in Route 53. */
export type CustomDomainIssuer = Extract<IssuerConfig, { kind: 'customDomain' }>;
/** Every key source of a cluster; the published set is their union. */
export type KeySourcesConfig = DeepReadonly<Omit<ClusterShape['keySources'], 'configKeys'>> & {
  /** Public keys given in the config, converted at synth time (private input keeps its public half only). */
  readonly configKeys: readonly PublicJwk[];
};
/** Keys uploaded by operators under the private bucket's `keys/` prefix. */
export type UploadKeySource = DeepReadonly<ClusterShape['keySources']['upload']>;
/** The cluster's own JWKS endpoint. */
export type ClusterJwksSource = DeepReadonly<NonNullable<ClusterShape['keySources']['clusterJwks']>>;
/** Lambda placement in a VPC, for a cluster endpoint only reachable from there. */
export type VpcPlacementConfig = NonNullable<ClusterJwksSource['vpc']>;
/** One IAM role assumable by service accounts of the cluster (self-hosted IRSA). */
export type ServiceAccountRoleConfig = DeepReadonly<ClusterShape['serviceAccountRoles'][number]>;
/** Rotation policy of the published key set. */
export type RotationConfig = DeepReadonly<ClusterShape['rotation']>;
/** Schedule and caching of the published documents. */
export type SyncConfig = DeepReadonly<ClusterShape['sync']>;
/** The issuer site: who else may write the documents, and how long CloudFront caches errors. */
export type IssuerSiteConfig = DeepReadonly<ClusterShape['issuerSite']>;
/** The token Verify API. */
export type VerifyApiConfig = DeepReadonly<ClusterShape['verifyApi']>;
/** API Gateway throttling of a stage or a route. */
export type ThrottleConfig = VerifyApiConfig['throttle'];
/** Per-route throttles of the Verify API. */
export type RouteThrottlesConfig = NonNullable<VerifyApiConfig['routeThrottles']>;
/** Where alarms go. */
export type AlarmsConfig = DeepReadonly<ClusterShape['alarms']>;
/** Optional deployment environment of a cluster's stack. */
export type EnvConfig = NonNullable<DeepReadonly<ClusterShape['env']>>;

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
  const parsed = configFileSchema.safeParse(raw);
  const rawClusters = isObject(raw) && Array.isArray(raw.clusters) ? raw.clusters : [];
  const labels = clusterLabels(rawClusters);
  const labelOf = (path: Path): string => (path[0] === 'clusters' && typeof path[1] === 'number' ? labels[path[1]] : 'config');
  // Problems are listed per cluster, in file order: its shape first, then its rules.
  const byCluster = new Map<string, string[]>();
  const add = (key: string, line: string): void => { byCluster.set(key, [...(byCluster.get(key) ?? []), line]); };
  const shapeFailed = new Set<number>();
  for (const issue of parsed.error?.issues ?? []) {
    const cluster = issue.path[0] === 'clusters' && typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
    if (cluster !== undefined) shapeFailed.add(cluster);
    for (const line of issueLines(issue, raw, labelOf(issue.path))) add(String(cluster ?? 'config'), line);
  }

  const clusters: ClusterConfig[] = [];
  rawClusters.forEach((rawCluster, index) => {
    if (shapeFailed.has(index)) return;
    const shape = parsed.success ? parsed.data.clusters[index] : clusterSchema.safeParse(rawCluster).data;
    if (!shape) return;
    const label = labels[index];
    const result = checkClusterRules(shape, rawCluster as Record<string, unknown>, label, options);
    for (const problem of result.problems) add(String(index), ruleLine(problem, raw, ['clusters', index], label));
    const { keySources, ...rest } = shape;
    clusters.push({ ...rest, stackId: stackIdFor(shape.name), keySources: { ...keySources, configKeys: result.configKeys }, warnings: result.warnings });
  });

  const problems = [
    ...(byCluster.get('config') ?? []),
    ...rawClusters.flatMap((_, index) => byCluster.get(String(index)) ?? []),
    ...duplicateClusterNames(rawClusters),
  ];
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return clusters;
}

/** How messages name each cluster: by name, by index when it has none, by both when the name is not unique. */
function clusterLabels(values: readonly unknown[]): string[] {
  const names = values.map((value) => (isObject(value) && typeof value.name === 'string' && value.name !== '' ? value.name : undefined));
  return names.map((name, index) => {
    if (name === undefined) return `clusters[${index}]`;
    return names.filter((n) => n === name).length > 1 ? `cluster ${JSON.stringify(name)} (clusters[${index}])` : `cluster ${JSON.stringify(name)}`;
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

function ruleLine(problem: RuleProblem, raw: unknown, clusterPath: Path, label: string): string {
  return line(label, [...clusterPath, ...problem.path], raw, `${problem.problem}. Fix: ${problem.fix}`);
}

/** `<cluster>, <path> = <value as written>: <problem>. Fix: <fix>.` */
function line(label: string, fullPath: Path, raw: unknown, message: string): string {
  const path = fullPath[0] === 'clusters' && typeof fullPath[1] === 'number' ? fullPath.slice(2) : fullPath;
  if (path.length === 0) return `${label}: ${message}.`;
  const text = pathText(path);
  return `${label}, ${text} = ${describe(text, valueAt(raw, fullPath))}: ${message}.`;
}

function pathText(path: Path): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    const name = String(key);
    if (text === '') return name;
    return /^[A-Za-z_$][\w$]*$/.test(name) ? `${text}.${name}` : `${text}[${JSON.stringify(name)}]`;
  }, '');
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
