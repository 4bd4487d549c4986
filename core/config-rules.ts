/**
 * The rules of the configuration that a schema cannot express: they read other sections of the
 * cluster, other entries of the file, key material, or the outside world (key files, through a
 * port). They run on entries whose shape `core/config-schema.ts` accepted, and report problems
 * with the same quality of message: the field path, the problem and the fix (the caller adds the
 * cluster and the value).
 *
 * Pure: no I/O of its own.
 */
import { buildJwks } from './documents';
import { parseKeyMaterial } from './keys';
import type { PublicJwk } from './keys';
import { jwkFingerprint } from './rotation';
import { PROVIDER_ARN, STS_AUDIENCE } from './config-schema';
import type { ClusterShape, FleetShape } from './config-schema';

/**
 * Room for `CONFIG_JWKS` plus `CLUSTER_CA_BUNDLE` in the sync Lambda's environment, which AWS
 * caps at 4 KiB in total; the other variables need the rest.
 */
export const LAMBDA_ENV_BUDGET_BYTES = 3072;

/** A problem found by a rule: where (relative to the cluster or fleet), what, and the fix. */
export interface RuleProblem {
  readonly path: readonly (string | number)[];
  readonly problem: string;
  readonly fix: string;
}

/** Ports for the parts of validation that need the outside world. */
export interface ValidateConfigOptions {
  /**
   * Reads a key file named by `keySources.configKeys[].file` (relative to the config file).
   * Throwing is fine: the message becomes part of the validation error.
   * @default - `file` entries are refused
   */
  readonly readKeyFile?: (path: string) => string;
}

/** What the rules make of one cluster or fleet. */
export interface RuleResult {
  readonly problems: RuleProblem[];
  /** Non-fatal findings, each starting with the entry's label. */
  readonly warnings: string[];
  /** The public keys of `keySources.configKeys`, parsed and deduplicated (clusters only). */
  readonly configKeys: PublicJwk[];
}

type Path = RuleProblem['path'];

/**
 * Runs every cross-field rule of one cluster.
 *
 * @param cluster the cluster as the schema parsed it
 * @param raw the cluster as written (to tell a given value from a default)
 * @param label how messages name the cluster, e.g. `cluster "prod"`
 */
export function checkClusterRules(cluster: ClusterShape, raw: Readonly<Record<string, unknown>>, label: string, options: ValidateConfigOptions): RuleResult {
  const problems = [
    ...providerProblems(cluster.existingOidcProviderArn, cluster.issuer, ['existingOidcProviderArn']),
    ...roleAudienceProblems(cluster),
    ...federationProblems(cluster),
    ...(cluster.verifyApi.allowSharedAudiences ? [] : audienceBoundary(cluster.verifyApi.audiences, { trusted: [cluster], externalUrls: [], fleet: false }, ['verifyApi', 'audiences'])),
  ];
  const warnings: string[] = [];
  if (cluster.existingOidcProviderArn !== undefined && raw.audiences !== undefined) {
    warnings.push(`${label}: audiences are not applied to the imported provider ${cluster.existingOidcProviderArn}; make sure its client IDs include ${JSON.stringify(cluster.audiences)}.`);
  }
  const keys = readConfigKeys(cluster, label, options);
  problems.push(...keys.problems);
  warnings.push(...keys.warnings);
  if (keys.problems.length === 0) problems.push(...envBudgetProblems(keys.configKeys, cluster.keySources.clusterJwks?.caBundlePem));
  const lifetime = cluster.verifyApi.maxTokenLifetimeSeconds;
  if (cluster.verifyApi.enabled) warnings.push(...lifetimeWarnings(label, 'verifyApi.maxTokenLifetimeSeconds', lifetime, cluster, ''));
  return { problems, warnings, configKeys: keys.configKeys };
}

// ----- the issuer across documents -----

/**
 * An imported IAM provider must be the provider of this very issuer (IAM compares the URL byte for
 * byte), and, for roles in another account, a provider of that account.
 */
function providerProblems(arn: string | undefined, issuer: ClusterShape['issuer'], path: Path, account?: string): RuleProblem[] {
  const match = arn === undefined ? null : PROVIDER_ARN.exec(arn);
  if (!match) return [];
  const [, providerAccount, providerUrl] = match;
  if (account !== undefined && providerAccount !== account) {
    return [{ path, problem: `is in account ${providerAccount}, not ${account}`, fix: 'give the provider registered in the account of this entry: a role trusts only a provider of its own account' }];
  }
  if (issuer.kind === 'cloudFrontDefault') {
    return /^[a-z0-9]+\.cloudfront\.net$/.test(providerUrl) ? [] : [{
      path, problem: 'is not for a CloudFront default domain, which is the issuer when issuer is omitted', fix: 'configure issuer with the custom domain of that provider, or remove existingOidcProviderArn',
    }];
  }
  const expected = issuer.url.replace(/^https:\/\//, '');
  return providerUrl === expected ? [] : [{
    path, problem: `is for ${JSON.stringify(providerUrl)}, not the issuer ${JSON.stringify(expected)}`, fix: 'import the provider registered for this issuer URL, or remove existingOidcProviderArn to create one',
  }];
}

/**
 * Roles in other accounts: each entry names roles of this cluster, lies outside the cluster's own
 * account, and imports only a provider of that account for this very issuer.
 */
function federationProblems(cluster: ClusterShape): RuleProblem[] {
  if (cluster.federationAccounts.length === 0) return [];
  if (cluster.issuer.kind !== 'customDomain') {
    return [{
      path: ['federationAccounts'],
      problem: 'needs a custom-domain issuer: the stacks in other accounts register the issuer URL, which the CloudFront default domain only gives after deployment',
      fix: 'configure issuer with a custom domain, or keep the roles in the cluster\'s own account',
    }];
  }
  const ids = cluster.serviceAccountRoles.map((role) => role.id);
  return cluster.federationAccounts.flatMap((entry, i) => [
    ...(cluster.env?.account === entry.account ? [{
      path: ['federationAccounts', i, 'account'], problem: 'is the cluster\'s own account (env.account)', fix: 'remove the entry: roles not listed in federationAccounts are created in the cluster\'s own stack',
    }] : []),
    ...entry.roleIds.flatMap((id, j) => (ids.includes(id) ? [] : [{
      path: ['federationAccounts', i, 'roleIds', j], problem: 'is not the id of one of the cluster\'s serviceAccountRoles', fix: `use one of ${JSON.stringify(ids)}, or add the role to serviceAccountRoles`,
    }])),
    ...providerProblems(entry.existingOidcProviderArn, cluster.issuer, ['federationAccounts', i, 'existingOidcProviderArn'], entry.account),
  ]);
}

// ----- audiences -----

/** Each role's audience must be a client ID of the provider: IAM refuses tokens for others. */
function roleAudienceProblems(cluster: ClusterShape): RuleProblem[] {
  return cluster.serviceAccountRoles.flatMap((role, i) => (cluster.audiences.includes(role.audience) ? [] : [{
    path: ['serviceAccountRoles', i, 'audience'],
    problem: `is not one of the provider's audiences ${JSON.stringify(cluster.audiences)}`,
    fix: 'add it to the cluster\'s "audiences" (IAM refuses tokens for unregistered client IDs) or use one of them',
  }]));
}

/** The issuers a verifier trusts, for the audience boundary. */
interface BoundaryScope {
  readonly trusted: readonly ClusterShape[];
  readonly externalUrls: readonly string[];
  /** A fleet verifier: messages name the cluster concerned. */
  readonly fleet: boolean;
}

/**
 * The audience boundary: a verifier's audience must not be one that AWS or the Kubernetes API
 * accepts from a trusted issuer, or a service trusting the verifier could be handed tokens meant
 * for them. `path` is where the audiences are.
 */
function audienceBoundary(audiences: readonly string[], { trusted, externalUrls, fleet }: BoundaryScope, path: Path): RuleProblem[] {
  const of = (cluster: ClusterShape) => (fleet ? ` of cluster ${JSON.stringify(cluster.name)}` : '');
  const fix = `use an audience dedicated to the Verify API in the pods' projected tokens (e.g. "verify.example.com"), or set ${fleet ? '' : 'verifyApi.'}allowSharedAudiences to true to accept the risk`;
  return audiences.flatMap((aud, i): RuleProblem[] => {
    const owner = trusted.find((cluster) => cluster.audiences.includes(aud));
    const apiOwner = trusted.find((cluster) => cluster.apiServerAudiences.includes(aud));
    let problem: string | undefined;
    if (aud === STS_AUDIENCE) problem = 'is the AWS STS audience: a service accepting it can be handed any token meant for AWS';
    else if (owner) problem = `is a client ID of the IAM provider${of(owner)}: a service accepting it can be handed any token meant for AWS`;
    else if (apiOwner) problem = `is an API-server audience${of(apiOwner)}: a service accepting it can be handed tokens meant for the Kubernetes API`;
    else if (externalUrls.includes(aud)) problem = 'is an external issuer\'s URL, kube-apiserver\'s default API audience';
    else if (trusted.some((cluster) => cluster.issuer.kind === 'cloudFrontDefault') && /^https:\/\/[a-z0-9]+\.cloudfront\.net(\/.*)?$/.test(aud)) {
      problem = `looks like ${fleet ? 'a' : 'the'} CloudFront issuer URL, kube-apiserver's default API audience`;
    }
    return problem === undefined ? [] : [{ path: [...path, i], problem, fix }];
  });
}

// ----- key material -----

const KEY_FIX = 'give a PEM public key, certificate, JWK or JWKS of an RSA (2048 bits or more) or EC P-256/P-384/P-521 key';

/** Parses every `configKeys` entry into public JWKs; a kid is bound to one key material for good (as the sync binds it). */
function readConfigKeys(cluster: ClusterShape, label: string, options: ValidateConfigOptions): RuleResult {
  const problems: RuleProblem[] = [];
  const warnings: string[] = [];
  const configKeys: PublicJwk[] = [];
  const byKid = new Map<string, { jwk: PublicJwk; where: string }>();
  cluster.keySources.configKeys.forEach((entry, i) => {
    const where = `keySources.configKeys[${i}]`;
    const form = entry.file !== undefined ? 'file' : entry.pem !== undefined ? 'pem' : 'jwk';
    const path = ['keySources', 'configKeys', i, form];
    const fieldPath = `${where}.${form}`;
    let text: string;
    let source = fieldPath;
    if (entry.file !== undefined) {
      if (!options.readKeyFile) {
        problems.push({ path, problem: 'cannot be read here (no file reader)', fix: 'inline the key with "pem" or "jwk"' });
        return;
      }
      try {
        text = options.readKeyFile(entry.file);
      } catch (err) {
        problems.push({ path, problem: `cannot be read: ${errorMessage(err)}`, fix: 'check the path (relative to the config file) and permissions' });
        return;
      }
      source = `file ${entry.file}`;
    } else {
      text = entry.pem ?? JSON.stringify(entry.jwk);
    }
    const result = parseKeyMaterial(text, source);
    for (const problem of result.problems) {
      const part = problem.source === fieldPath ? '' : ` (${problem.source})`;
      problems.push({ path, problem: `was refused: ${problem.reason}${part}`, fix: KEY_FIX });
    }
    if (result.keys.length === 0 && result.problems.length === 0) problems.push({ path, problem: 'holds no key', fix: 'give at least one public key' });
    for (const key of result.keys) {
      if (key.fromPrivateKey) {
        const origin = source === fieldPath ? fieldPath : `${fieldPath} (${source})`;
        warnings.push(`${label}: ${origin} holds a private key: only its public key is used. Keep private keys out of the config (\`openssl pkey -in sa.key -pubout\` gives the public key).`);
      }
      const earlier = byKid.get(key.jwk.kid);
      if (earlier && jwkFingerprint(earlier.jwk) !== jwkFingerprint(key.jwk)) {
        problems.push({ path, problem: `has kid ${JSON.stringify(key.jwk.kid)} already used by a different key in ${earlier.where}`, fix: 'give each key a distinct kid (or drop the kid to use kube\'s SHA-256 key id)' });
      } else if (!earlier) {
        byKid.set(key.jwk.kid, { jwk: key.jwk, where });
        configKeys.push(key.jwk);
      }
    }
  });
  return { problems, warnings, configKeys };
}

/** The config keys and the CA bundle travel in the sync Lambda's environment, which AWS caps at 4 KiB. */
function envBudgetProblems(configKeys: readonly PublicJwk[], caBundlePem: string | undefined): RuleProblem[] {
  const bytes = Buffer.byteLength(JSON.stringify(buildJwks(configKeys)), 'utf8') + Buffer.byteLength(caBundlePem ?? '', 'utf8');
  return bytes <= LAMBDA_ENV_BUDGET_BYTES ? [] : [{
    path: ['keySources'],
    problem: `needs ${bytes} bytes of Lambda environment for configKeys and caBundlePem, more than the ${LAMBDA_ENV_BUDGET_BYTES} available (Lambda allows 4 KiB in all)`,
    fix: 'give fewer configKeys and upload the others to keys/ (keySources.upload), or shorten the CA bundle to the one issuing CA',
  }];
}

/** A token lifetime beyond a cluster's grace period lets its tokens outlive their published key. */
function lifetimeWarnings(label: string, field: string, lifetime: number | undefined, cluster: ClusterShape, ofCluster: string): string[] {
  const grace = cluster.rotation.gracePeriodSeconds;
  return lifetime === undefined || lifetime <= grace ? [] : [`${label}: ${field} (${lifetime}) exceeds rotation.gracePeriodSeconds (${grace})${ofCluster}: `
    + 'tokens signed by a rotated-out key stop verifying before they expire; raise the grace period to cover the longest token lifetime.'];
}

// ----- fleet verifiers -----

/** What the fleet rules know of the clusters of the file. */
export interface FleetContext {
  /** Every cluster name written in the file, valid or not. */
  readonly clusterNames: readonly string[];
  /** The clusters whose shape is valid, by name. */
  readonly clusters: ReadonlyMap<string, ClusterShape>;
}

/**
 * The rules of one fleet verifier that read the clusters it trusts: each named cluster exists,
 * an external issuer is not one of them again, issuer keys are reachable, and the audience
 * boundary holds for every trusted issuer.
 */
export function checkFleetRules(fleet: FleetShape, context: FleetContext, label: string): RuleResult {
  const problems: RuleProblem[] = [];
  const warnings: string[] = [];
  const trusted: ClusterShape[] = [];
  fleet.clusters.forEach(({ name, privateBucketName }, i) => {
    if (!context.clusterNames.includes(name)) {
      problems.push({ path: ['clusters', i], problem: 'names no cluster of this file', fix: `use one of ${JSON.stringify(context.clusterNames)}, or trust an issuer of elsewhere with externalIssuers` });
      return;
    }
    const cluster = context.clusters.get(name);
    if (!cluster) return;
    trusted.push(cluster);
    const otherAccount = fleet.env?.account !== undefined && cluster.env?.account !== undefined && fleet.env.account !== cluster.env.account;
    if (otherAccount && cluster.issuer.kind === 'cloudFrontDefault') {
      problems.push({
        path: ['clusters', i],
        problem: `is in account ${cluster.env?.account ?? ''} with the CloudFront default domain, whose issuer URL is unknown until deployment`,
        fix: 'give the cluster a custom-domain issuer, or deploy the fleet in the cluster\'s account (it then reads the documents bucket)',
      });
    }
    const path = ['clusters', i, 'privateBucketName'];
    if (privateBucketName !== undefined && !otherAccount) {
      problems.push({ path, problem: 'is only for a cluster in another account than the fleet verifier (both accounts must be given in env)', fix: `write the cluster as "${name}": in the fleet's account its stack's bucket is read` });
    } else if (privateBucketName !== undefined && (fleet.env?.region === undefined || fleet.env.region !== cluster.env?.region)) {
      problems.push({
        path,
        problem: `is in region ${cluster.env?.region ?? '(none)'}, not the fleet verifier's region ${fleet.env?.region ?? '(none)'}: a verifier reads buckets of its own region only`,
        fix: `write the cluster as "${name}" (no deny list), or deploy a fleet verifier in the cluster's region`,
      });
    }
    warnings.push(...lifetimeWarnings(label, 'maxTokenLifetimeSeconds', fleet.maxTokenLifetimeSeconds, cluster, ` of cluster ${JSON.stringify(name)}`));
  });
  fleet.externalIssuers.forEach((issuer, i) => {
    const same = trusted.find((cluster) => cluster.issuer.kind === 'customDomain' && cluster.issuer.url === issuer.url);
    if (same) problems.push({ path: ['externalIssuers', i, 'url'], problem: `is the issuer of cluster ${JSON.stringify(same.name)}, already in clusters`, fix: 'remove the external issuer: the cluster is trusted by name' });
    if (issuer.name !== undefined && context.clusterNames.includes(issuer.name)) {
      problems.push({ path: ['externalIssuers', i, 'name'], problem: 'is the name of a cluster of this file', fix: 'give the external issuer another name: answers name the cluster a token comes from' });
    }
  });
  if (!fleet.allowSharedAudiences) {
    const scope = { trusted, externalUrls: fleet.externalIssuers.map((issuer) => issuer.url), fleet: true };
    problems.push(...audienceBoundary(fleet.audiences, scope, ['audiences']));
    fleet.clusters.forEach((entry, i) => problems.push(...audienceBoundary(entry.audiences ?? [], scope, ['clusters', i, 'audiences'])));
    fleet.externalIssuers.forEach((issuer, i) => problems.push(...audienceBoundary(issuer.audiences ?? [], scope, ['externalIssuers', i, 'audiences'])));
  }
  return { problems, warnings, configKeys: [] };
}

// ----- across entries -----

/**
 * Names are unique in a list of the file (`clusters`, `fleetVerifiers`): each becomes a stack.
 * Read from the raw entries, so that an entry with other problems still counts.
 */
export function duplicateNames(values: readonly unknown[], kind: string, list: string, stack: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    const name = typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(`${kind} ${JSON.stringify(name)}, ${list}[${i}].name = ${JSON.stringify(name)}: duplicates ${list}[${first}].name. Fix: give every ${kind} a distinct name (each becomes stack ${stack}).`);
    } else {
      seen.set(name, i);
    }
  });
  return problems;
}

/** The message of anything thrown (errors from another realm fail `instanceof Error`). */
function errorMessage(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : String(err);
}
