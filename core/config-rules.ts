/**
 * The rules of the configuration that a schema cannot express: they read other sections of the
 * cluster, key material, or the outside world (key files, through a port). They run on a cluster
 * whose shape `core/config-schema.ts` accepted, and report problems with the same quality of
 * message: the field path, the problem and the fix (the caller adds the cluster and the value).
 *
 * Pure: no I/O of its own.
 */
import { buildJwks } from './documents';
import { parseKeyMaterial } from './keys';
import type { PublicJwk } from './keys';
import { STS_AUDIENCE } from './config-schema';
import type { ClusterShape } from './config-schema';

/**
 * Room for `CONFIG_JWKS` plus `CLUSTER_CA_BUNDLE` in the sync Lambda's environment, which AWS
 * caps at 4 KiB in total; the other variables need the rest.
 */
export const LAMBDA_ENV_BUDGET_BYTES = 3072;

/** A problem found by a rule: where (relative to the cluster), what, and the fix. */
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

/** What the rules make of one cluster. */
export interface RuleResult {
  readonly problems: RuleProblem[];
  /** Non-fatal findings, each starting with the cluster's label. */
  readonly warnings: string[];
  /** The public keys of `keySources.configKeys`, parsed and deduplicated. */
  readonly configKeys: PublicJwk[];
}

/**
 * Runs every cross-field rule of one cluster.
 *
 * @param cluster the cluster as the schema parsed it
 * @param raw the cluster as written (to tell a given value from a default)
 * @param label how messages name the cluster, e.g. `cluster "prod"`
 */
export function checkClusterRules(cluster: ClusterShape, raw: Readonly<Record<string, unknown>>, label: string, options: ValidateConfigOptions): RuleResult {
  const problems: RuleProblem[] = [];
  const warnings: string[] = [];
  problems.push(...checkImportedProvider(cluster));
  if (cluster.existingOidcProviderArn !== undefined && raw.audiences !== undefined) {
    warnings.push(`${label}: audiences are not applied to the imported provider ${cluster.existingOidcProviderArn}; make sure its client IDs include ${JSON.stringify(cluster.audiences)}.`);
  }
  problems.push(...checkRoleAudiences(cluster));
  if (!cluster.verifyApi.allowSharedAudiences) problems.push(...checkAudienceBoundary(cluster));
  const keys = readConfigKeys(cluster, label, options);
  problems.push(...keys.problems);
  warnings.push(...keys.warnings);
  if (keys.problems.length === 0) problems.push(...checkEnvBudget(keys.configKeys, cluster.keySources.clusterJwks?.caBundlePem));
  warnings.push(...lifetimeWarnings(cluster, label));
  return { problems, warnings, configKeys: keys.configKeys };
}

// ----- the issuer across documents -----

/** An imported IAM provider must be the provider of this very issuer (IAM compares the URL byte for byte). */
export function checkImportedProvider(cluster: Pick<ClusterShape, 'existingOidcProviderArn' | 'issuer'>): RuleProblem[] {
  const arn = cluster.existingOidcProviderArn;
  if (arn === undefined) return [];
  const providerUrl = arn.replace(/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\//, '');
  const path = ['existingOidcProviderArn'];
  if (cluster.issuer.kind === 'customDomain') {
    const expected = cluster.issuer.url.replace(/^https:\/\//, '');
    if (providerUrl !== expected) {
      return [{ path, problem: `is for ${JSON.stringify(providerUrl)}, not the issuer ${JSON.stringify(expected)}`, fix: 'import the provider registered for this issuer URL, or remove existingOidcProviderArn to create one' }];
    }
  } else if (!/^[a-z0-9]+\.cloudfront\.net$/.test(providerUrl)) {
    return [{ path, problem: 'is not for a CloudFront default domain, which is the issuer when issuer is omitted', fix: 'configure issuer with the custom domain of that provider, or remove existingOidcProviderArn' }];
  }
  return [];
}

// ----- audiences -----

/** Each role's audience must be a client ID of the provider: IAM refuses tokens for others. */
export function checkRoleAudiences(cluster: Pick<ClusterShape, 'audiences' | 'serviceAccountRoles'>): RuleProblem[] {
  return cluster.serviceAccountRoles.flatMap((role, i) => (cluster.audiences.includes(role.audience) ? [] : [{
    path: ['serviceAccountRoles', i, 'audience'],
    problem: `is not one of the provider's audiences ${JSON.stringify(cluster.audiences)}`,
    fix: 'add it to the cluster\'s "audiences" (IAM refuses tokens for unregistered client IDs) or use one of them',
  }]));
}

const SHARED_FIX = 'use an audience dedicated to the Verify API in the pod\'s projected token (e.g. "verify.example.com"), or set verifyApi.allowSharedAudiences to true to accept the risk';

/**
 * The audience boundary: a Verify API audience must not be one that AWS or the Kubernetes API
 * accepts, or a service trusting the Verify API could be handed tokens meant for them.
 */
export function checkAudienceBoundary(cluster: Pick<ClusterShape, 'audiences' | 'apiServerAudiences' | 'issuer' | 'verifyApi'>): RuleProblem[] {
  const problems: RuleProblem[] = [];
  cluster.verifyApi.audiences.forEach((aud, i) => {
    const path = ['verifyApi', 'audiences', i];
    if (aud === STS_AUDIENCE) {
      problems.push({ path, problem: 'is the AWS STS audience: a service accepting it can be handed any token meant for AWS', fix: SHARED_FIX });
    } else if (cluster.audiences.includes(aud)) {
      problems.push({ path, problem: 'is a client ID of the IAM provider: a service accepting it can be handed any token meant for AWS', fix: SHARED_FIX });
    } else if (cluster.apiServerAudiences.includes(aud)) {
      problems.push({ path, problem: 'is an API-server audience: a service accepting it can be handed tokens meant for the Kubernetes API', fix: SHARED_FIX });
    } else if (cluster.issuer.kind === 'cloudFrontDefault' && /^https:\/\/[a-z0-9]+\.cloudfront\.net(\/.*)?$/.test(aud)) {
      problems.push({ path, problem: 'looks like the CloudFront issuer URL, kube-apiserver\'s default API audience', fix: SHARED_FIX });
    }
  });
  return problems;
}

// ----- key material -----

const KEY_FIX = 'give a PEM public key, certificate, JWK or JWKS of an RSA (2048 bits or more) or EC P-256/P-384/P-521 key';

/** Parses every `configKeys` entry into public JWKs; a kid is bound to one key material for good. */
export function readConfigKeys(cluster: Pick<ClusterShape, 'keySources'>, label: string, options: ValidateConfigOptions): RuleResult {
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
      if (earlier && !sameKey(earlier.jwk, key.jwk)) {
        problems.push({ path, problem: `has kid ${JSON.stringify(key.jwk.kid)} already used by a different key in ${earlier.where}`, fix: 'give each key a distinct kid (or drop the kid to use kube\'s SHA-256 key id)' });
      } else if (!earlier) {
        byKid.set(key.jwk.kid, { jwk: key.jwk, where });
        configKeys.push(key.jwk);
      }
    }
  });
  return { problems, warnings, configKeys };
}

function sameKey(a: PublicJwk, b: PublicJwk): boolean {
  return a.kty === b.kty && a.n === b.n && a.e === b.e && a.crv === b.crv && a.x === b.x && a.y === b.y;
}

/** The config keys and the CA bundle travel in the sync Lambda's environment, which AWS caps at 4 KiB. */
export function checkEnvBudget(configKeys: readonly PublicJwk[], caBundlePem: string | undefined): RuleProblem[] {
  const jwksBytes = Buffer.byteLength(JSON.stringify(buildJwks(configKeys)), 'utf8');
  const caBytes = Buffer.byteLength(caBundlePem ?? '', 'utf8');
  if (jwksBytes + caBytes <= LAMBDA_ENV_BUDGET_BYTES) return [];
  return [{
    path: ['keySources'],
    problem: `needs ${jwksBytes + caBytes} bytes of Lambda environment for configKeys and caBundlePem, more than the ${LAMBDA_ENV_BUDGET_BYTES} available (Lambda allows 4 KiB in all)`,
    fix: 'give fewer configKeys and upload the others to keys/ (keySources.upload), or shorten the CA bundle to the one issuing CA',
  }];
}

// ----- warnings -----

/** A Verify API token lifetime beyond the grace period lets tokens outlive their published key. */
export function lifetimeWarnings(cluster: Pick<ClusterShape, 'verifyApi' | 'rotation'>, label: string): string[] {
  const lifetime = cluster.verifyApi.maxTokenLifetimeSeconds;
  const grace = cluster.rotation.gracePeriodSeconds;
  if (!cluster.verifyApi.enabled || lifetime === undefined || lifetime <= grace) return [];
  return [
    `${label}: verifyApi.maxTokenLifetimeSeconds (${lifetime}) exceeds rotation.gracePeriodSeconds (${grace}): `
    + 'tokens signed by a rotated-out key stop verifying before they expire; raise the grace period to cover the longest token lifetime.',
  ];
}

// ----- across clusters -----

/** Cluster names are unique in the file: each becomes the stack `OidcCluster-<name>`. */
export function duplicateClusterNames(values: readonly unknown[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    const name = typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(`cluster ${JSON.stringify(name)}, clusters[${i}].name = ${JSON.stringify(name)}: duplicates clusters[${first}].name. Fix: give every cluster a distinct name (each becomes stack OidcCluster-<name>).`);
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
