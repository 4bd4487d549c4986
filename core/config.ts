/**
 * Cluster configuration: the typed model of `config/clusters.json` and its validation.
 *
 * Validation collects every problem of every cluster and throws once, so an operator fixes the
 * whole file in one pass. Each message names the cluster, the field path, the bad value and the
 * fix. Key material is never echoed: key fields are described by their size only.
 *
 * Pure: no AWS SDK, no file or network I/O, no environment. Key files named in the config are
 * read through the `readKeyFile` port that the caller supplies.
 *
 * @see docs/configuration.md for every field, its default and its rules.
 */
import { buildJwks } from './documents';
import type { JwksDocument } from './documents';
import { parseKeyMaterial } from './keys';
import type { PublicJwk } from './keys';
import type { ServiceAccountSubject } from './trust-policy';
import { isDnsLabel } from './kube-names';

// ===== Defaults and limits =====

/** The audience AWS STS expects in web-identity tokens, the IAM provider's default client ID. */
export const STS_AUDIENCE = 'sts.amazonaws.com';
/** Prefix of every stack id: `OidcCluster-<name>`. */
export const STACK_ID_PREFIX = 'OidcCluster-';
/** IAM accepts at most this many client IDs on one OIDC provider. */
export const MAX_PROVIDER_AUDIENCES = 100;
/** IAM limits each client ID to this many characters. */
export const MAX_AUDIENCE_LENGTH = 255;
/** IAM limits the provider URL to this many characters. */
export const MAX_ISSUER_URL_LENGTH = 255;
/** Longest cluster name: it is part of stack, alarm and log-group names. */
export const MAX_CLUSTER_NAME_LENGTH = 40;
/**
 * Room for `CONFIG_JWKS` plus `CLUSTER_CA_BUNDLE` in the sync Lambda's environment, which AWS
 * caps at 4 KiB in total; the other variables need the rest.
 */
export const LAMBDA_ENV_BUDGET_BYTES = 3072;

/** Default values of every optional setting, as documented in docs/configuration.md. */
export const CONFIG_DEFAULTS = {
  audiences: [STS_AUDIENCE] as readonly string[],
  gracePeriodSeconds: 86400,
  kidlessCompat: false,
  scheduleMinutes: 5,
  cacheMaxAgeSeconds: 300,
  verifyApiEnabled: true,
  allowSharedAudiences: false,
  iamAuth: false,
  rateLimit: 50,
  burstLimit: 100,
  clockSkewSeconds: 60,
  maxTokenBytes: 16384,
  keysTtlSeconds: 60,
  unknownKidCooldownSeconds: 30,
  staleWindowSeconds: 900,
} as const;

// ===== Typed configuration =====

/** The issuer is the CloudFront distribution's own domain, known only once it is deployed. */
export interface CloudFrontDefaultIssuer {
  readonly kind: 'cloudFrontDefault';
}

/** The issuer is a custom domain served by CloudFront, with its DNS in Route 53. */
export interface CustomDomainIssuer {
  readonly kind: 'customDomain';
  /** The issuer URL, byte for byte as kube-apiserver's `--service-account-issuer`. */
  readonly url: string;
  /** The Route 53 hosted zone that holds the issuer's host name. */
  readonly hostedZoneId: string;
  /** The zone's domain name, without trailing dot. */
  readonly hostedZoneName: string;
  /** An ACM certificate in us-east-1 (CloudFront's region) covering the issuer's host. */
  readonly certificateArn: string;
}

/** Where the issuer lives. */
export type IssuerConfig = CloudFrontDefaultIssuer | CustomDomainIssuer;

/** Keys uploaded by operators under the private bucket's `keys/` prefix. */
export interface UploadKeySource {
  /** Whether the sync reads `keys/` (and an upload triggers a sync). */
  readonly enabled: boolean;
  /**
   * The only principals (IAM role, user or account root ARNs) allowed to write `keys/` and the
   * deny list `control/deny-list.json`. Whoever can write a key can mint tokens for every role.
   */
  readonly writerArns: readonly string[];
}

/** Lambda placement in a VPC, for a cluster endpoint only reachable from there. */
export interface VpcPlacementConfig {
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** The cluster's own JWKS endpoint. */
export interface ClusterJwksSource {
  /** `https://APISERVER/openid/v1/jwks`. */
  readonly url: string;
  /** PEM CA bundle to trust for the endpoint (the cluster CA), instead of the public roots. */
  readonly caBundlePem?: string;
  /** Secrets Manager secret (full ARN) holding a bearer token for the endpoint. */
  readonly tokenSecretArn?: string;
  /** SSM parameter name holding a bearer token for the endpoint. */
  readonly tokenParameterName?: string;
  /** Run the sync Lambda in these subnets. */
  readonly vpc?: VpcPlacementConfig;
}

/** Every key source of a cluster; the published set is their union. */
export interface KeySourcesConfig {
  readonly upload: UploadKeySource;
  readonly clusterJwks?: ClusterJwksSource;
  /** Public keys given in the config, converted at synth time (private input keeps its public half only). */
  readonly configKeys: readonly PublicJwk[];
}

/** One IAM role assumable by service accounts of the cluster (self-hosted IRSA). */
export interface ServiceAccountRoleConfig extends ServiceAccountSubject {
  /** Stable id: names the role's construct and its stack output. Changing it replaces the role. */
  readonly id: string;
  readonly match: 'exact' | 'namespace' | 'namePrefix';
  /** The `aud` the pod's token must carry; one of the provider's audiences. */
  readonly audience: string;
  readonly managedPolicyArns: readonly string[];
  /** IAM policy statements (JSON, as in a policy document) attached inline. */
  readonly inlinePolicyStatements: readonly Readonly<Record<string, unknown>>[];
}

/** Rotation policy of the published key set. */
export interface RotationConfig {
  /** How long a key stays published after its sources stopped listing it. */
  readonly gracePeriodSeconds: number;
  /** Also publish every key with `kid: ""` (tokens from clusters before Kubernetes 1.16). */
  readonly kidlessCompat: boolean;
}

/** Schedule and caching of the published documents. */
export interface SyncConfig {
  readonly scheduleMinutes: number;
  /** `Cache-Control: max-age` of both documents. */
  readonly cacheMaxAgeSeconds: number;
}

/** API Gateway stage throttling. */
export interface ThrottleConfig {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** The token Verify API. */
export interface VerifyApiConfig {
  readonly enabled: boolean;
  /** Audiences callers may ask about. */
  readonly audiences: readonly string[];
  /** Audiences used when a request names none. */
  readonly defaultAudiences: readonly string[];
  readonly allowSharedAudiences: boolean;
  /** Require SigV4 (IAM) authorization from callers. */
  readonly iamAuth: boolean;
  /** Per caller (IAM ARN), the audiences it may ask about. Requires `iamAuth`. */
  readonly callerAudiences?: Readonly<Record<string, readonly string[]>>;
  readonly throttle: ThrottleConfig;
  readonly clockSkewSeconds: number;
  readonly maxTokenLifetimeSeconds?: number;
  readonly maxTokenBytes: number;
  readonly keysTtlSeconds: number;
  readonly unknownKidCooldownSeconds: number;
  readonly staleWindowSeconds: number;
}

/** Where alarms go. */
export interface AlarmsConfig {
  readonly emails: readonly string[];
}

/** Optional deployment environment of a cluster's stack. */
export interface EnvConfig {
  readonly account?: string;
  readonly region?: string;
}

/** One cluster, validated, with every default filled in. */
export interface ClusterConfig {
  /** DNS-safe name. */
  readonly name: string;
  /** `OidcCluster-<name>`. */
  readonly stackId: string;
  readonly env?: EnvConfig;
  readonly issuer: IssuerConfig;
  /** The IAM provider's client IDs. */
  readonly audiences: readonly string[];
  readonly existingOidcProviderArn?: string;
  /**
   * Audiences kube-apiserver accepts (`--api-audiences`): never valid Verify API audiences.
   * Defaults to the issuer URL; with the CloudFront default domain that URL is unknown at synth
   * time, so the default is empty and any `https://*.cloudfront.net` audience is refused instead.
   */
  readonly apiServerAudiences: readonly string[];
  readonly keySources: KeySourcesConfig;
  readonly serviceAccountRoles: readonly ServiceAccountRoleConfig[];
  readonly rotation: RotationConfig;
  readonly sync: SyncConfig;
  readonly verifyApi: VerifyApiConfig;
  readonly alarms: AlarmsConfig;
  /** Non-fatal findings (for example a private key given where a public one suffices). */
  readonly warnings: readonly string[];
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

/**
 * Validates the raw configuration (parsed JSON) and returns the clusters with defaults applied.
 *
 * @throws ConfigValidationError listing every problem at once
 */
export function validateConfig(raw: unknown, options: ValidateConfigOptions = {}): ClusterConfig[] {
  const problems: string[] = [];
  const root = new Reader(problems, 'config', '', raw);
  if (!root.isObject()) {
    root.fail('must be a JSON object with a "clusters" array', 'write {"clusters": [{"name": "...", ...}]}');
    throw new ConfigValidationError(problems);
  }
  root.allowOnly(['clusters', '$schema']);
  const clustersReader = root.child('clusters');
  const clusterValues = clustersReader.array();
  if (clusterValues && clusterValues.length === 0) {
    clustersReader.fail('is empty', 'declare at least one cluster');
  }
  const clusters: ClusterConfig[] = [];
  const nameOf = (value: unknown): string | undefined => (isObject(value) && typeof value.name === 'string' && value.name !== '' ? value.name : undefined);
  const names = (clusterValues ?? []).map(nameOf);
  (clusterValues ?? []).forEach((value, index) => {
    const name = names[index];
    const ambiguous = names.filter((n) => n === name).length > 1;
    const label = name === undefined ? `clusters[${index}]` : ambiguous ? `cluster ${JSON.stringify(name)} (clusters[${index}])` : `cluster ${JSON.stringify(name)}`;
    const cluster = validateCluster(new Reader(problems, label, '', value), options);
    if (cluster) clusters.push(cluster);
  });
  checkDuplicateClusters(clusterValues ?? [], problems);
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return clusters;
}

const CLUSTER_FIELDS = [
  'name', 'env', 'issuer', 'audiences', 'existingOidcProviderArn', 'apiServerAudiences', 'keySources',
  'serviceAccountRoles', 'rotation', 'sync', 'verifyApi', 'alarms',
];

function validateCluster(r: Reader, options: ValidateConfigOptions): ClusterConfig | undefined {
  if (!r.isObject()) {
    r.fail('must be an object', 'write each cluster as {"name": "...", "keySources": {...}, ...}');
    return undefined;
  }
  const before = r.problems.length;
  r.allowOnly(CLUSTER_FIELDS);
  const warnings: string[] = [];

  const name = r.child('name').string({ required: true, fix: 'give the cluster a DNS-safe name such as "prod-eu"' }) ?? '';
  if (name !== '') checkClusterName(r.child('name'), name);

  const env = readEnv(r.child('env'));
  const issuer = readIssuer(r.child('issuer'));
  const issuerUrl = issuer?.kind === 'customDomain' ? issuer.url : undefined;

  const audiencesReader = r.child('audiences');
  const audiences = audiencesReader.stringArray({ fallback: CONFIG_DEFAULTS.audiences }) ?? [...CONFIG_DEFAULTS.audiences];
  checkProviderAudiences(audiencesReader, audiences);

  const existingOidcProviderArn = readExistingProvider(r.child('existingOidcProviderArn'), issuer);
  if (existingOidcProviderArn !== undefined && r.has('audiences')) {
    warnings.push(`${r.label}: audiences are not applied to the imported provider ${existingOidcProviderArn}; make sure its client IDs include ${JSON.stringify(audiences)}.`);
  }

  const apiAudReader = r.child('apiServerAudiences');
  const apiServerAudiences = apiAudReader.stringArray({ fallback: issuerUrl !== undefined ? [issuerUrl] : [] }) ?? [];
  apiServerAudiences.forEach((aud, i) => {
    if (aud === '') apiAudReader.index(i).fail('is empty', 'remove it or give the audience kube-apiserver accepts (--api-audiences)');
  });

  const keySources = readKeySources(r.child('keySources'), options, warnings);
  const rotation = readRotation(r.child('rotation'));
  const sync = readSync(r.child('sync'));
  const serviceAccountRoles = readRoles(r.child('serviceAccountRoles'), audiences);
  const verifyApi = readVerifyApi(r.child('verifyApi'), { audiences, apiServerAudiences, issuer });
  const alarms = readAlarms(r.child('alarms'));

  if (verifyApi?.enabled && verifyApi.maxTokenLifetimeSeconds !== undefined && rotation && verifyApi.maxTokenLifetimeSeconds > rotation.gracePeriodSeconds) {
    warnings.push(
      `${r.label}: verifyApi.maxTokenLifetimeSeconds (${verifyApi.maxTokenLifetimeSeconds}) exceeds rotation.gracePeriodSeconds (${rotation.gracePeriodSeconds}): `
      + 'tokens signed by a rotated-out key stop verifying before they expire; raise the grace period to cover the longest token lifetime.',
    );
  }
  if (keySources) checkEnvBudget(r, keySources);

  if (r.problems.length > before || !issuer || !keySources || !rotation || !sync || !verifyApi || !alarms || !serviceAccountRoles) return undefined;
  return {
    name,
    stackId: stackIdFor(name),
    ...(env ? { env } : {}),
    issuer,
    audiences,
    ...(existingOidcProviderArn !== undefined ? { existingOidcProviderArn } : {}),
    apiServerAudiences,
    keySources,
    serviceAccountRoles,
    rotation,
    sync,
    verifyApi,
    alarms,
    warnings,
  };
}

// ----- name, env -----

function checkClusterName(r: Reader, name: string): void {
  if (name.length > MAX_CLUSTER_NAME_LENGTH) {
    r.fail(`is longer than ${MAX_CLUSTER_NAME_LENGTH} characters`, 'use a shorter name: it becomes part of the stack name OidcCluster-<name>');
  } else if (!isDnsLabel(name)) {
    r.fail('is not DNS-safe', 'use lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. "prod-eu")');
  }
}

function readEnv(r: Reader): EnvConfig | undefined {
  if (!r.present()) return undefined;
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"account": "123456789012", "region": "eu-west-1"} or remove env for an environment-agnostic stack');
    return undefined;
  }
  r.allowOnly(['account', 'region']);
  const account = r.child('account').string();
  if (account !== undefined && !/^\d{12}$/.test(account)) r.child('account').fail('is not a 12-digit AWS account id', 'give the account id, e.g. "123456789012"');
  const region = r.child('region').string();
  if (region !== undefined && !AWS_REGION.test(region)) r.child('region').fail('is not an AWS region name', 'give a region such as "eu-west-1"');
  return { ...(account !== undefined ? { account } : {}), ...(region !== undefined ? { region } : {}) };
}

const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

// ----- issuer -----

function readIssuer(r: Reader): IssuerConfig | undefined {
  if (!r.present()) return { kind: 'cloudFrontDefault' };
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"url": "https://oidc.example.com", "hostedZoneId": "Z...", "hostedZoneName": "example.com", "certificateArn": "arn:aws:acm:us-east-1:..."}, or remove issuer to use the CloudFront default domain');
    return undefined;
  }
  r.allowOnly(['url', 'hostedZoneId', 'hostedZoneName', 'certificateArn']);
  const urlReader = r.child('url');
  const url = urlReader.string({ required: true, fix: 'give the issuer URL, e.g. "https://oidc.example.com"' });
  const host = url !== undefined ? checkIssuerUrl(urlReader, url) : undefined;

  const zoneIdReader = r.child('hostedZoneId');
  const hostedZoneId = zoneIdReader.string({ required: true, fix: 'give the Route 53 hosted zone id that holds the issuer host, e.g. "Z0123456789ABCDEFGHIJ"' });
  if (hostedZoneId !== undefined && !/^Z[A-Z0-9]{1,32}$/.test(hostedZoneId)) {
    zoneIdReader.fail('is not a Route 53 hosted zone id', 'copy the zone id (Z followed by letters and digits, without "/hostedzone/")');
  }
  const zoneNameReader = r.child('hostedZoneName');
  const zoneNameRaw = zoneNameReader.string({ required: true, fix: 'give the hosted zone\'s domain name, e.g. "example.com"' });
  const hostedZoneName = zoneNameRaw?.replace(/\.$/, '').toLowerCase();
  if (hostedZoneName !== undefined && host !== undefined && host !== hostedZoneName && !host.endsWith(`.${hostedZoneName}`)) {
    zoneNameReader.fail(`does not contain the issuer host ${JSON.stringify(host)}`, 'give the hosted zone that the issuer host belongs to');
  }

  const certReader = r.child('certificateArn');
  const certificateArn = certReader.string({ required: true, fix: 'give the ARN of an ACM certificate in us-east-1 that covers the issuer host' });
  if (certificateArn !== undefined) {
    const match = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f-]+$/.exec(certificateArn);
    if (!match) certReader.fail('is not an ACM certificate ARN', 'copy the ARN from ACM: arn:aws:acm:us-east-1:ACCOUNT:certificate/ID');
    else if (match[1] !== 'us-east-1') {
      certReader.fail(`is in ${match[1]}, but CloudFront only uses certificates from us-east-1`, 'request or import the certificate in us-east-1 and give that ARN');
    }
  }
  if (url === undefined || host === undefined || hostedZoneId === undefined || hostedZoneName === undefined || certificateArn === undefined) return undefined;
  return { kind: 'customDomain', url, hostedZoneId, hostedZoneName, certificateArn };
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Checks the issuer URL shape; returns its host when the URL is usable. */
function checkIssuerUrl(r: Reader, url: string): string | undefined {
  const before = r.problems.length;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!scheme) {
    r.fail('is not an absolute URL', 'give the issuer as https://HOST[/PATH], e.g. "https://oidc.example.com"');
    return undefined;
  }
  if (scheme[1] !== 'https') r.fail('does not use https', 'serve the issuer over https (https://...): IAM and STS only accept https issuers');
  if (url.length > MAX_ISSUER_URL_LENGTH) r.fail(`is longer than ${MAX_ISSUER_URL_LENGTH} characters (IAM's limit)`, 'use a shorter host or path');
  if (url.includes('?')) r.fail('has a query string', 'remove everything from "?": an issuer has no query');
  if (url.includes('#')) r.fail('has a fragment', 'remove everything from "#": an issuer has no fragment');
  const rest = url.slice(scheme[0].length).replace(/[?#].*$/, '');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (authority.includes('@')) r.fail('has user information', 'remove "user@" from the URL');
  const hostPort = authority.replace(/^.*@/, '');
  if (hostPort.includes(':')) r.fail('has a port', 'remove the port: IAM refuses provider URLs with a port, and CloudFront serves 443');
  const host = hostPort.replace(/:.*$/, '');
  if (host !== host.toLowerCase()) {
    r.fail('has uppercase letters in its host', `write the host in lowercase (${JSON.stringify(host.toLowerCase())}): the issuer is compared byte for byte`);
  } else if (!DNS_NAME.test(host)) {
    r.fail('does not have a valid DNS host name', 'use a fully qualified host name such as oidc.example.com (no IP address)');
  }
  if (path.endsWith('/')) {
    r.fail('ends with a slash', `remove the trailing slash (${JSON.stringify(url.replace(/\/+$/, ''))}): IAM condition keys and token "iss" must match byte for byte`);
  } else if (path !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(path)) {
    r.fail('has an unsupported path', 'use path segments of letters, digits, ".", "_", "~" and "-" only (e.g. https://oidc.example.com/cluster-a)');
  }
  return r.problems.length === before ? host : undefined;
}

// ----- provider -----

function checkProviderAudiences(r: Reader, audiences: readonly string[]): void {
  if (audiences.length === 0) r.fail('is empty', `list at least one client ID (usually ${JSON.stringify(STS_AUDIENCE)})`);
  if (audiences.length > MAX_PROVIDER_AUDIENCES) r.fail(`has ${audiences.length} entries, more than IAM's ${MAX_PROVIDER_AUDIENCES}`, 'keep at most 100 client IDs');
  const seen = new Set<string>();
  audiences.forEach((aud, i) => {
    const item = r.index(i);
    if (aud === '') item.fail('is empty', 'remove it');
    else if (aud.length > MAX_AUDIENCE_LENGTH) item.fail(`is longer than ${MAX_AUDIENCE_LENGTH} characters`, 'use a shorter client ID');
    else if (/^sts\.amazon\.com$/i.test(aud) || (/^sts\.amazonaws\.com$/i.test(aud) && aud !== STS_AUDIENCE)) {
      item.fail(`is not ${JSON.stringify(STS_AUDIENCE)}`, `write ${JSON.stringify(STS_AUDIENCE)} exactly: STS refuses any other spelling with "Incorrect token audience"`);
    }
    if (seen.has(aud)) item.fail('is listed twice', 'remove the duplicate');
    seen.add(aud);
  });
}

function readExistingProvider(r: Reader, issuer: IssuerConfig | undefined): string | undefined {
  const arn = r.string();
  if (arn === undefined) return undefined;
  const match = /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/(.+)$/.exec(arn);
  if (!match) {
    r.fail('is not an IAM OIDC provider ARN', 'give arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH], as `aws iam list-open-id-connect-providers` shows');
    return undefined;
  }
  if (issuer?.kind === 'customDomain') {
    const expected = issuer.url.replace(/^https:\/\//, '');
    if (match[1] !== expected) {
      r.fail(`is for ${JSON.stringify(match[1])}, not the issuer ${JSON.stringify(expected)}`, 'import the provider registered for this issuer URL, or remove existingOidcProviderArn to create one');
    }
  } else if (issuer?.kind === 'cloudFrontDefault' && !/^[a-z0-9]+\.cloudfront\.net$/.test(match[1])) {
    r.fail('is not for a CloudFront default domain, which is the issuer when issuer is omitted', 'configure issuer with the custom domain of that provider, or remove existingOidcProviderArn');
  }
  return arn;
}

// ----- key sources -----

function readKeySources(r: Reader, options: ValidateConfigOptions, warnings: string[]): KeySourcesConfig | undefined {
  if (!r.present()) {
    r.fail('is missing', 'configure at least one key source: keySources.configKeys (public keys in the config), keySources.upload or keySources.clusterJwks');
    return undefined;
  }
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"configKeys": [{"file": "keys/sa.pub"}]} or another source');
    return undefined;
  }
  const before = r.problems.length;
  r.allowOnly(['upload', 'clusterJwks', 'configKeys']);
  const upload = readUpload(r.child('upload'));
  const clusterJwks = readClusterJwks(r.child('clusterJwks'));
  const configKeys = readConfigKeys(r.child('configKeys'), options, warnings);
  if (r.problems.length > before || !upload || !configKeys) return undefined;
  if (!upload.enabled && !clusterJwks && configKeys.length === 0) {
    r.fail('has no enabled source', 'configure keySources.configKeys, enable keySources.upload, or set keySources.clusterJwks');
    return undefined;
  }
  return { upload, ...(clusterJwks ? { clusterJwks } : {}), configKeys };
}

const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(root|role\/[\w+=,.@/-]+|user\/[\w+=,.@/-]+)$/;

function readUpload(r: Reader): UploadKeySource | undefined {
  if (!r.present()) return { enabled: false, writerArns: [] };
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"enabled": true, "writerArns": ["arn:aws:iam::123456789012:role/KeyPublisher"]}');
    return undefined;
  }
  r.allowOnly(['enabled', 'writerArns']);
  const enabled = r.child('enabled').boolean(true);
  const writersReader = r.child('writerArns');
  const writerArns = writersReader.stringArray({ fallback: [] }) ?? [];
  writerArns.forEach((arn, i) => {
    if (arn.includes('*')) writersReader.index(i).fail('contains a wildcard', 'name each writer by its exact role or user ARN: whoever can write a key can mint tokens for every role');
    else if (!IAM_PRINCIPAL_ARN.test(arn)) writersReader.index(i).fail('is not an IAM role, user or account-root ARN', 'give e.g. "arn:aws:iam::123456789012:role/KeyPublisher"');
  });
  if (enabled && writerArns.length === 0) {
    writersReader.fail('is empty while uploads are enabled', 'name the principals allowed to upload keys (nobody else can), or set upload.enabled to false');
  }
  return { enabled, writerArns };
}

function readClusterJwks(r: Reader): ClusterJwksSource | undefined {
  if (!r.present()) return undefined;
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"url": "https://APISERVER:6443/openid/v1/jwks"}');
    return undefined;
  }
  r.allowOnly(['url', 'caBundlePem', 'tokenSecretArn', 'tokenParameterName', 'vpc']);
  const urlReader = r.child('url');
  const url = urlReader.string({ required: true, fix: 'give the cluster endpoint, e.g. "https://api.cluster.example.com:6443/openid/v1/jwks"' });
  if (url !== undefined) {
    if (!url.startsWith('https://')) urlReader.fail('does not use https', 'use the API server\'s https URL (the token and keys must not travel in clear)');
    else if (/[?#]/.test(url)) urlReader.fail('has a query or fragment', 'remove everything from "?" or "#"');
    else if (/^https:\/\/[^/]*@/.test(url)) urlReader.fail('has user information', 'remove "user@": give a bearer token with tokenSecretArn or tokenParameterName');
    else if (!/^https:\/\/[^/:]+(:\d{1,5})?(\/[^\s]*)?$/.test(url)) urlReader.fail('is not a valid URL', 'give e.g. "https://10.0.0.10:6443/openid/v1/jwks"');
  }
  const caReader = r.child('caBundlePem');
  const caBundlePem = caReader.string();
  if (caBundlePem !== undefined && !/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(caBundlePem)) {
    caReader.fail('holds no PEM certificate', 'paste the cluster CA (e.g. the certificate-authority-data of a kubeconfig, base64-decoded)');
  }
  const secretReader = r.child('tokenSecretArn');
  const tokenSecretArn = secretReader.string();
  if (tokenSecretArn !== undefined && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/.test(tokenSecretArn)) {
    secretReader.fail('is not a complete Secrets Manager secret ARN', 'copy the full ARN, including the 6-character suffix Secrets Manager appends to the name');
  }
  const paramReader = r.child('tokenParameterName');
  const tokenParameterName = paramReader.string();
  // SSM names are either flat ("token") or a path that starts with "/" ("/kube-oidc/token").
  if (tokenParameterName !== undefined && !/^(?:[\w.-]+|(?:\/[\w.-]+)+)$/.test(tokenParameterName)) {
    paramReader.fail('is not an SSM parameter name', 'give the name (not the ARN): a flat name, or a path starting with "/", e.g. "/kube-oidc/prod/discovery-token"');
  }
  if (tokenSecretArn !== undefined && tokenParameterName !== undefined) {
    paramReader.fail('is set together with tokenSecretArn', 'keep one token source: tokenSecretArn or tokenParameterName');
  }
  const vpc = readVpc(r.child('vpc'));
  if (url === undefined) return undefined;
  return {
    url,
    ...(caBundlePem !== undefined ? { caBundlePem } : {}),
    ...(tokenSecretArn !== undefined ? { tokenSecretArn } : {}),
    ...(tokenParameterName !== undefined ? { tokenParameterName } : {}),
    ...(vpc ? { vpc } : {}),
  };
}

function readVpc(r: Reader): VpcPlacementConfig | undefined {
  if (!r.present()) return undefined;
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"vpcId": "vpc-...", "subnetIds": ["subnet-..."], "securityGroupIds": ["sg-..."]}');
    return undefined;
  }
  r.allowOnly(['vpcId', 'subnetIds', 'securityGroupIds']);
  const vpcId = r.child('vpcId').string({ required: true, fix: 'give the VPC id, e.g. "vpc-0123456789abcdef0"' });
  if (vpcId !== undefined && !/^vpc-[0-9a-f]{8,17}$/.test(vpcId)) r.child('vpcId').fail('is not a VPC id', 'give e.g. "vpc-0123456789abcdef0"');
  const ids = (field: string, prefix: string, example: string): readonly string[] => {
    const reader = r.child(field);
    const values = reader.stringArray({ required: true, fix: `list at least one id, e.g. ["${example}"]` }) ?? [];
    if (reader.present() && values.length === 0) reader.fail('is empty', `list at least one id, e.g. ["${example}"]`);
    values.forEach((id, i) => {
      if (!new RegExp(`^${prefix}-[0-9a-f]{8,17}$`).test(id)) reader.index(i).fail(`is not a ${prefix} id`, `give e.g. "${example}"`);
    });
    return values;
  };
  const subnetIds = ids('subnetIds', 'subnet', 'subnet-0123456789abcdef0');
  const securityGroupIds = ids('securityGroupIds', 'sg', 'sg-0123456789abcdef0');
  if (vpcId === undefined) return undefined;
  return { vpcId, subnetIds, securityGroupIds };
}

function readConfigKeys(r: Reader, options: ValidateConfigOptions, warnings: string[]): PublicJwk[] | undefined {
  const entries = r.present() ? r.array() : [];
  if (!entries) return undefined;
  const keys: PublicJwk[] = [];
  const byKid = new Map<string, { jwk: PublicJwk; where: string }>();
  entries.forEach((_, i) => {
    const item = r.index(i);
    if (!item.isObject()) {
      item.fail('must be an object', 'write {"file": "keys/sa.pub"}, {"pem": "-----BEGIN PUBLIC KEY-----..."} or {"jwk": {...}}');
      return;
    }
    item.allowOnly(['file', 'pem', 'jwk']);
    const forms = ['file', 'pem', 'jwk'].filter((f) => item.has(f));
    if (forms.length !== 1) {
      item.fail(forms.length === 0 ? 'names no key' : `has ${forms.join(' and ')} together`, 'give exactly one of "file", "pem" or "jwk" per entry');
      return;
    }
    const material = readKeyMaterial(item, forms[0], options);
    if (!material) return;
    const fieldPath = `${item.path}.${forms[0]}`;
    const result = parseKeyMaterial(material.text, material.label);
    for (const problem of result.problems) {
      const part = problem.source === fieldPath ? '' : ` (${problem.source})`;
      item.child(forms[0]).fail(`was refused: ${problem.reason}${part}`, 'give a PEM public key, certificate, JWK or JWKS of an RSA (2048 bits or more) or EC P-256/P-384/P-521 key');
    }
    if (result.keys.length === 0 && result.problems.length === 0) item.child(forms[0]).fail('holds no key', 'give at least one public key');
    for (const key of result.keys) {
      if (key.fromPrivateKey) {
        const origin = material.label === fieldPath ? fieldPath : `${fieldPath} (${material.label})`;
        warnings.push(`${r.label}: ${origin} holds a private key: only its public key is used. Keep private keys out of the config (\`openssl pkey -in sa.key -pubout\` gives the public key).`);
      }
      const earlier = byKid.get(key.jwk.kid);
      if (earlier && !sameKey(earlier.jwk, key.jwk)) {
        item.child(forms[0]).fail(`has kid ${JSON.stringify(key.jwk.kid)} already used by a different key in ${earlier.where}`, 'give each key a distinct kid (or drop the kid to use kube\'s SHA-256 key id)');
        continue;
      }
      if (!earlier) {
        byKid.set(key.jwk.kid, { jwk: key.jwk, where: item.path });
        keys.push(key.jwk);
      }
    }
  });
  return keys;
}

function readKeyMaterial(item: Reader, form: string, options: ValidateConfigOptions): { text: string; label: string } | undefined {
  const field = item.child(form);
  if (form === 'jwk') {
    if (!field.isObject()) {
      field.fail('must be a JWK or JWKS object', 'paste the JSON object itself, not a string');
      return undefined;
    }
    return { text: JSON.stringify(field.value), label: `${item.path}.jwk` };
  }
  if (form === 'pem') {
    const pem = field.string();
    return pem === undefined ? undefined : { text: pem, label: `${item.path}.pem` };
  }
  const file = field.string();
  if (file === undefined) return undefined;
  if (file === '') {
    field.fail('is empty', 'give the key file path, relative to the config file');
    return undefined;
  }
  if (!options.readKeyFile) {
    field.fail('cannot be read here (no file reader)', 'inline the key with "pem" or "jwk"');
    return undefined;
  }
  try {
    return { text: options.readKeyFile(file), label: `file ${file}` };
  } catch (err) {
    field.fail(`cannot be read: ${errorMessage(err)}`, 'check the path (relative to the config file) and permissions');
    return undefined;
  }
}

function sameKey(a: PublicJwk, b: PublicJwk): boolean {
  return a.kty === b.kty && a.n === b.n && a.e === b.e && a.crv === b.crv && a.x === b.x && a.y === b.y;
}

function checkEnvBudget(r: Reader, keySources: KeySourcesConfig): void {
  const jwksBytes = Buffer.byteLength(JSON.stringify(buildJwks(keySources.configKeys)), 'utf8');
  const caBytes = Buffer.byteLength(keySources.clusterJwks?.caBundlePem ?? '', 'utf8');
  if (jwksBytes + caBytes > LAMBDA_ENV_BUDGET_BYTES) {
    r.child('keySources').fail(
      `needs ${jwksBytes + caBytes} bytes of Lambda environment for configKeys and caBundlePem, more than the ${LAMBDA_ENV_BUDGET_BYTES} available (Lambda allows 4 KiB in all)`,
      'give fewer configKeys and upload the others to keys/ (keySources.upload), or shorten the CA bundle to the one issuing CA',
    );
  }
}

// ----- roles -----

const ROLE_ID = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const SA_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SA_PREFIX = /^[a-z0-9][-a-z0-9.]{0,252}$/;
const MANAGED_POLICY_ARN = /^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]+$/;
const STATEMENT_FIELDS = ['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'];

function readRoles(r: Reader, providerAudiences: readonly string[]): ServiceAccountRoleConfig[] | undefined {
  const entries = r.present() ? r.array() : [];
  if (!entries) return undefined;
  const roles: ServiceAccountRoleConfig[] = [];
  const ids = new Map<string, number>();
  const before = r.problems.length;
  entries.forEach((_, i) => {
    const role = readRole(r.index(i), providerAudiences);
    if (!role) return;
    const key = role.id.replace(/-/g, '');
    const first = ids.get(key);
    if (first !== undefined) {
      r.index(i).child('id').fail(`duplicates serviceAccountRoles[${first}].id (ids are compared without hyphens because they name stack outputs)`, 'give every role a distinct id');
      return;
    }
    ids.set(key, i);
    roles.push(role);
  });
  return r.problems.length > before ? undefined : roles;
}

function readRole(r: Reader, providerAudiences: readonly string[]): ServiceAccountRoleConfig | undefined {
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"id": "payments-api", "namespace": "payments", "serviceAccount": "api", "managedPolicyArns": [...]}');
    return undefined;
  }
  const before = r.problems.length;
  r.allowOnly(['id', 'namespace', 'serviceAccount', 'match', 'audience', 'managedPolicyArns', 'inlinePolicyStatements']);
  const id = r.child('id').string({ required: true, fix: 'give the role a stable id such as "payments-api"' });
  if (id !== undefined && !ROLE_ID.test(id)) {
    r.child('id').fail('is not a valid role id', 'use up to 64 letters, digits and hyphens, starting with a letter');
  }
  const matchReader = r.child('match');
  const matchValue = matchReader.string() ?? 'exact';
  if (!['exact', 'namespace', 'namePrefix'].includes(matchValue)) {
    matchReader.fail('is not "exact", "namespace" or "namePrefix"', 'use "exact" (one service account), "namespace" (all of a namespace) or "namePrefix"');
  }
  const match = matchValue as ServiceAccountRoleConfig['match'];

  const nsReader = r.child('namespace');
  const namespace = nsReader.string({ required: true, fix: 'give the Kubernetes namespace of the service account' });
  if (namespace !== undefined) {
    if (/[*?]/.test(namespace)) nsReader.fail('contains a wildcard', 'name one namespace: wildcards across namespaces are not allowed (use match "namespace" for every service account of one namespace)');
    else if (!isDnsLabel(namespace)) nsReader.fail('is not a Kubernetes namespace name', 'use a DNS label: lowercase letters, digits and hyphens, at most 63 characters');
  }
  const saReader = r.child('serviceAccount');
  const serviceAccount = saReader.string();
  if (match === 'namespace') {
    if (serviceAccount !== undefined) saReader.fail('is set with match "namespace", which trusts every service account of the namespace', 'remove serviceAccount, or use match "exact"');
  } else if (serviceAccount === undefined) {
    saReader.fail('is missing', match === 'exact'
      ? 'name the service account, or set match to "namespace" to trust all of the namespace'
      : 'give the name prefix the service accounts share, e.g. "runner-"');
  } else if (/[*?]/.test(serviceAccount)) {
    saReader.fail('contains a wildcard', 'give the exact name; for several service accounts set match to "namePrefix" (name prefix) or "namespace" (whole namespace)');
  } else if (match === 'exact' && !SA_NAME.test(serviceAccount)) {
    saReader.fail('is not a Kubernetes service account name', 'use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit');
  } else if (match === 'namePrefix' && !SA_PREFIX.test(serviceAccount)) {
    saReader.fail('is not a service account name prefix', 'use lowercase letters, digits, "-" and ".", starting with a letter or digit');
  }

  const audReader = r.child('audience');
  const audience = audReader.string() ?? providerAudiences[0] ?? STS_AUDIENCE;
  if (!providerAudiences.includes(audience)) {
    audReader.fail(`is not one of the provider's audiences ${JSON.stringify(providerAudiences)}`, 'add it to the cluster\'s "audiences" (IAM refuses tokens for unregistered client IDs) or use one of them');
  }

  const mpReader = r.child('managedPolicyArns');
  const managedPolicyArns = mpReader.stringArray({ fallback: [] }) ?? [];
  managedPolicyArns.forEach((arn, i) => {
    if (!MANAGED_POLICY_ARN.test(arn)) mpReader.index(i).fail('is not an IAM managed policy ARN', 'give e.g. "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" or "arn:aws:iam::123456789012:policy/MyPolicy"');
  });
  if (managedPolicyArns.length > 20) mpReader.fail('has more than 20 policies (IAM\'s limit per role)', 'merge policies');

  const statements = readStatements(r.child('inlinePolicyStatements'));
  if (r.problems.length > before || id === undefined || namespace === undefined || !statements) return undefined;
  return {
    id,
    namespace,
    ...(serviceAccount !== undefined ? { serviceAccount } : {}),
    match,
    audience,
    managedPolicyArns,
    inlinePolicyStatements: statements,
  };
}

function readStatements(r: Reader): Record<string, unknown>[] | undefined {
  const entries = r.present() ? r.array() : [];
  if (!entries) return undefined;
  const statements: Record<string, unknown>[] = [];
  entries.forEach((value, i) => {
    const item = r.index(i);
    if (!item.isObject()) {
      item.fail('must be an IAM policy statement object', 'write {"Effect": "Allow", "Action": [...], "Resource": [...]}');
      return;
    }
    if (item.has('Principal') || item.has('NotPrincipal')) {
      item.fail('has a Principal', 'remove Principal: the statement is attached to the role itself');
    }
    item.allowOnly([...STATEMENT_FIELDS, 'Principal', 'NotPrincipal']);
    const effect = item.child('Effect').string({ required: true, fix: 'set "Effect": "Allow" or "Deny"' });
    if (effect !== undefined && effect !== 'Allow' && effect !== 'Deny') item.child('Effect').fail('is not "Allow" or "Deny"', 'set "Effect": "Allow" or "Deny"');
    checkStatementList(item, 'Action', 'NotAction', 'e.g. "Action": ["s3:GetObject"]');
    checkStatementList(item, 'Resource', 'NotResource', 'e.g. "Resource": ["arn:aws:s3:::my-bucket/*"]');
    if (item.has('Condition') && !item.child('Condition').isObject()) item.child('Condition').fail('must be an object', 'write {"StringEquals": {...}}');
    statements.push(value as Record<string, unknown>);
  });
  return statements;
}

function checkStatementList(item: Reader, field: string, negated: string, example: string): void {
  const present = [field, negated].filter((f) => item.has(f));
  if (present.length !== 1) {
    item.fail(present.length === 0 ? `has no ${field}` : `has both ${field} and ${negated}`, `give exactly one of ${field} or ${negated}, ${example}`);
    return;
  }
  const list = item.child(present[0]);
  const value = list.value;
  const ok = (typeof value === 'string' && value !== '') || (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== ''));
  if (!ok) list.fail('must be a non-empty string or array of strings', example);
}

// ----- rotation, sync -----

function readRotation(r: Reader): RotationConfig | undefined {
  if (!r.objectOrAbsent('write {"gracePeriodSeconds": 86400, "kidlessCompat": false}')) return undefined;
  r.allowOnly(['gracePeriodSeconds', 'kidlessCompat']);
  const gracePeriodSeconds = r.child('gracePeriodSeconds').integer({
    fallback: CONFIG_DEFAULTS.gracePeriodSeconds, min: 3600, max: 31622400,
    fix: 'give seconds between 3600 (1 h, the default token lifetime) and 31622400 (366 days); it must cover the longest token lifetime the cluster issues',
  });
  const kidlessCompat = r.child('kidlessCompat').boolean(CONFIG_DEFAULTS.kidlessCompat);
  return gracePeriodSeconds === undefined ? undefined : { gracePeriodSeconds, kidlessCompat };
}

function readSync(r: Reader): SyncConfig | undefined {
  if (!r.objectOrAbsent('write {"scheduleMinutes": 5, "cacheMaxAgeSeconds": 300}')) return undefined;
  r.allowOnly(['scheduleMinutes', 'cacheMaxAgeSeconds']);
  const scheduleMinutes = r.child('scheduleMinutes').integer({
    fallback: CONFIG_DEFAULTS.scheduleMinutes, min: 1, max: 60, fix: 'give whole minutes between 1 and 60',
  });
  const cacheReader = r.child('cacheMaxAgeSeconds');
  let cacheMaxAgeSeconds = cacheReader.integer({ fallback: CONFIG_DEFAULTS.cacheMaxAgeSeconds, min: 0, fix: 'give whole seconds between 0 and 3600 (default 300)' });
  if (cacheMaxAgeSeconds !== undefined && cacheMaxAgeSeconds > 3600) {
    cacheReader.fail(
      'is more than 3600 seconds: verifiers and CloudFront would keep serving an old JWKS that long and refuse tokens signed by a new key',
      'use at most 3600 (default 300)',
    );
    cacheMaxAgeSeconds = undefined;
  }
  if (scheduleMinutes === undefined || cacheMaxAgeSeconds === undefined) return undefined;
  return { scheduleMinutes, cacheMaxAgeSeconds };
}

// ----- verify API -----

interface AudienceContext {
  readonly audiences: readonly string[];
  readonly apiServerAudiences: readonly string[];
  readonly issuer: IssuerConfig | undefined;
}

function readVerifyApi(r: Reader, ctx: AudienceContext): VerifyApiConfig | undefined {
  if (!r.objectOrAbsent('write {"enabled": true, "audiences": ["verify.example.com"]}')) return undefined;
  const before = r.problems.length;
  r.allowOnly([
    'enabled', 'audiences', 'defaultAudiences', 'allowSharedAudiences', 'iamAuth', 'callerAudiences', 'throttle', 'clockSkewSeconds',
    'maxTokenLifetimeSeconds', 'maxTokenBytes', 'keysTtlSeconds', 'unknownKidCooldownSeconds', 'staleWindowSeconds',
  ]);
  const enabled = r.child('enabled').boolean(CONFIG_DEFAULTS.verifyApiEnabled);
  const allowSharedAudiences = r.child('allowSharedAudiences').boolean(CONFIG_DEFAULTS.allowSharedAudiences);
  const iamAuth = r.child('iamAuth').boolean(CONFIG_DEFAULTS.iamAuth);

  const audReader = r.child('audiences');
  const audiences = audReader.stringArray({ fallback: [] }) ?? [];
  if (enabled && audiences.length === 0) {
    audReader.fail('lists no audience while the Verify API is enabled', 'list the audiences callers may verify (e.g. ["verify.prod.example.com"]), or set verifyApi.enabled to false');
  }
  const seen = new Set<string>();
  audiences.forEach((aud, i) => {
    const item = audReader.index(i);
    if (aud === '') item.fail('is empty', 'remove it');
    if (seen.has(aud)) item.fail('is listed twice', 'remove the duplicate');
    seen.add(aud);
    if (!allowSharedAudiences) checkSharedAudience(item, aud, ctx);
  });

  const defReader = r.child('defaultAudiences');
  const defaultAudiences = defReader.stringArray({ fallback: audiences }) ?? [];
  defaultAudiences.forEach((aud, i) => {
    if (!audiences.includes(aud)) defReader.index(i).fail('is not in verifyApi.audiences', 'default audiences must be a subset of verifyApi.audiences');
  });
  if (defReader.present() && defaultAudiences.length === 0) defReader.fail('is empty', 'remove defaultAudiences (all audiences become the default) or list some');

  const callerAudiences = readCallerAudiences(r.child('callerAudiences'), audiences, iamAuth);

  const throttleReader = r.child('throttle');
  let throttle: ThrottleConfig | undefined;
  if (throttleReader.objectOrAbsent('write {"rateLimit": 50, "burstLimit": 100}')) {
    throttleReader.allowOnly(['rateLimit', 'burstLimit']);
    const rateLimit = throttleReader.child('rateLimit').number({ fallback: CONFIG_DEFAULTS.rateLimit, min: 1, max: 10000, fix: 'give requests per second between 1 and 10000' });
    const burstLimit = throttleReader.child('burstLimit').integer({ fallback: CONFIG_DEFAULTS.burstLimit, min: 1, max: 5000, fix: 'give a whole number of requests between 1 and 5000' });
    if (rateLimit !== undefined && burstLimit !== undefined) throttle = { rateLimit, burstLimit };
  }

  const clockSkewSeconds = r.child('clockSkewSeconds').integer({ fallback: CONFIG_DEFAULTS.clockSkewSeconds, min: 0, max: 300, fix: 'give whole seconds between 0 and 300' });
  const maxTokenLifetimeSeconds = r.child('maxTokenLifetimeSeconds').integer({
    min: 600, max: 31622400, fix: 'give whole seconds between 600 (kube\'s minimum token lifetime) and 31622400 (366 days), or remove it',
  });
  const maxTokenBytes = r.child('maxTokenBytes').integer({ fallback: CONFIG_DEFAULTS.maxTokenBytes, min: 1024, max: 65536, fix: 'give bytes between 1024 and 65536' });
  const keysTtlSeconds = r.child('keysTtlSeconds').integer({ fallback: CONFIG_DEFAULTS.keysTtlSeconds, min: 1, max: 3600, fix: 'give whole seconds between 1 and 3600' });
  const unknownKidCooldownSeconds = r.child('unknownKidCooldownSeconds').integer({
    fallback: CONFIG_DEFAULTS.unknownKidCooldownSeconds, min: 30, max: 3600,
    fix: 'give whole seconds between 30 and 3600: a shorter cooldown lets a flood of random kids cause a key fetch per request',
  });
  const staleReader = r.child('staleWindowSeconds');
  const staleWindowSeconds = staleReader.integer({ fallback: CONFIG_DEFAULTS.staleWindowSeconds, min: 60, max: 86400, fix: 'give whole seconds between 60 and 86400' });
  if (staleWindowSeconds !== undefined && keysTtlSeconds !== undefined && staleWindowSeconds < keysTtlSeconds) {
    staleReader.fail(`is shorter than keysTtlSeconds (${keysTtlSeconds})`, 'make the stale window at least as long as the key cache TTL');
  }

  if (r.problems.length > before || !throttle || clockSkewSeconds === undefined || maxTokenBytes === undefined || keysTtlSeconds === undefined
    || unknownKidCooldownSeconds === undefined || staleWindowSeconds === undefined) return undefined;
  return {
    enabled,
    audiences,
    defaultAudiences,
    allowSharedAudiences,
    iamAuth,
    ...(callerAudiences ? { callerAudiences } : {}),
    throttle,
    clockSkewSeconds,
    ...(maxTokenLifetimeSeconds !== undefined ? { maxTokenLifetimeSeconds } : {}),
    maxTokenBytes,
    keysTtlSeconds,
    unknownKidCooldownSeconds,
    staleWindowSeconds,
  };
}

const SHARED_FIX = 'use an audience dedicated to the Verify API in the pod\'s projected token (e.g. "verify.example.com"), or set verifyApi.allowSharedAudiences to true to accept the risk';

function checkSharedAudience(item: Reader, aud: string, ctx: AudienceContext): void {
  if (aud === STS_AUDIENCE) {
    item.fail('is the AWS STS audience: a service accepting it can be handed any token meant for AWS', SHARED_FIX);
  } else if (ctx.audiences.includes(aud)) {
    item.fail('is a client ID of the IAM provider: a service accepting it can be handed any token meant for AWS', SHARED_FIX);
  } else if (ctx.apiServerAudiences.includes(aud)) {
    item.fail('is an API-server audience: a service accepting it can be handed tokens meant for the Kubernetes API', SHARED_FIX);
  } else if (ctx.issuer?.kind === 'cloudFrontDefault' && /^https:\/\/[a-z0-9]+\.cloudfront\.net(\/.*)?$/.test(aud)) {
    item.fail('looks like the CloudFront issuer URL, kube-apiserver\'s default API audience', SHARED_FIX);
  }
}

function readCallerAudiences(r: Reader, audiences: readonly string[], iamAuth: boolean): Record<string, string[]> | undefined {
  if (!r.present()) return undefined;
  if (!r.isObject()) {
    r.fail('must be an object', 'write {"arn:aws:iam::123456789012:role/Billing": ["billing.example.com"]}');
    return undefined;
  }
  if (!iamAuth) r.fail('needs verifyApi.iamAuth: without IAM authorization the caller is unknown', 'set verifyApi.iamAuth to true, or remove callerAudiences');
  const result: Record<string, string[]> = {};
  for (const [arn, value] of Object.entries(r.value as Record<string, unknown>)) {
    const entry = r.child(arn);
    if (!IAM_PRINCIPAL_ARN.test(arn) || arn.endsWith(':root')) {
      entry.fail('is not keyed by an IAM role or user ARN', 'key each entry by the caller\'s role or user ARN, e.g. "arn:aws:iam::123456789012:role/Billing"');
      continue;
    }
    if (/:role\/.+\//.test(arn)) {
      // A caller's session ARN (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION) carries no role path.
      entry.fail('is a role ARN with a path, which assumed-role sessions do not carry', 'key the entry by arn:aws:iam::ACCOUNT:role/NAME, without the path');
      continue;
    }
    const list = entry.stringArray({ required: true, fix: 'list the audiences this caller may ask about' }) ?? [];
    if (Array.isArray(value) && list.length === 0) entry.fail('is empty', 'list at least one audience, or remove the caller');
    list.forEach((aud, i) => {
      if (!audiences.includes(aud)) entry.index(i).fail('is not in verifyApi.audiences', 'add it to verifyApi.audiences or remove it here');
    });
    result[arn] = list;
  }
  return result;
}

// ----- alarms -----

function readAlarms(r: Reader): AlarmsConfig | undefined {
  if (!r.objectOrAbsent('write {"emails": ["oncall@example.com"]}')) return undefined;
  r.allowOnly(['emails']);
  const reader = r.child('emails');
  const emails = reader.stringArray({ fallback: [] }) ?? [];
  emails.forEach((email, i) => {
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) reader.index(i).fail('is not an e-mail address', 'give e.g. "oncall@example.com"');
  });
  return { emails };
}

// ----- cross-cluster -----

function checkDuplicateClusters(values: readonly unknown[], problems: string[]): void {
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    if (!isObject(value) || typeof value.name !== 'string') return;
    const first = seen.get(value.name);
    if (first !== undefined) {
      problems.push(`cluster ${JSON.stringify(value.name)}, clusters[${i}].name = ${JSON.stringify(value.name)}: duplicates clusters[${first}].name. Fix: give every cluster a distinct name (each becomes stack OidcCluster-<name>).`);
    } else {
      seen.set(value.name, i);
    }
  });
}

// ===== Reader: typed access that records problems with cluster, path and value =====

interface StringOptions {
  readonly required?: boolean;
  readonly fix?: string;
}

interface NumberOptions {
  readonly fallback?: number;
  readonly min?: number;
  readonly max?: number;
  readonly fix: string;
}

class Reader {
  constructor(
    readonly problems: string[],
    readonly label: string,
    readonly path: string,
    readonly value: unknown,
  ) {}

  /** Records a problem: `<cluster>, <path> = <value>: <problem>. Fix: <fix>.` */
  fail(problem: string, fix: string): void {
    const where = this.path === '' ? this.label : `${this.label}, ${this.path} = ${this.describe()}`;
    this.problems.push(`${where}: ${problem}. Fix: ${fix}.`);
  }

  child(key: string): Reader {
    const value = isObject(this.value) ? this.value[key] : undefined;
    const path = this.path === '' ? key : /^[A-Za-z_$][\w$]*$/.test(key) ? `${this.path}.${key}` : `${this.path}[${JSON.stringify(key)}]`;
    return new Reader(this.problems, this.label, path, value);
  }

  index(i: number): Reader {
    const value = Array.isArray(this.value) ? this.value[i] : undefined;
    return new Reader(this.problems, this.label, `${this.path}[${i}]`, value);
  }

  present(): boolean {
    return this.value !== undefined;
  }

  has(key: string): boolean {
    return isObject(this.value) && this.value[key] !== undefined;
  }

  isObject(): this is Reader & { value: Record<string, unknown> } {
    return isObject(this.value);
  }

  /** True when the value is an object or absent; records a problem otherwise. */
  objectOrAbsent(example: string): boolean {
    if (!this.present() || this.isObject()) return true;
    this.fail('must be an object', example);
    return false;
  }

  allowOnly(known: readonly string[]): void {
    if (!isObject(this.value)) return;
    for (const key of Object.keys(this.value)) {
      if (key === '$comment' || known.includes(key)) continue;
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || k.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(k.toLowerCase()));
      this.child(key).fail('is not a known field', near ? `did you mean ${JSON.stringify(near)}?` : `remove it (known fields: ${known.join(', ')})`);
    }
  }

  string(options: StringOptions = {}): string | undefined {
    if (this.value === undefined) {
      if (options.required) this.fail('is missing', options.fix ?? 'set it');
      return undefined;
    }
    if (typeof this.value !== 'string') {
      this.fail('must be a string', options.fix ?? 'write it as a JSON string');
      return undefined;
    }
    return this.value;
  }

  boolean(fallback: boolean): boolean {
    if (this.value === undefined) return fallback;
    if (typeof this.value !== 'boolean') {
      this.fail('must be true or false', `write true or false without quotes (default ${fallback})`);
      return fallback;
    }
    return this.value;
  }

  number(options: NumberOptions): number | undefined {
    if (this.value === undefined) return options.fallback;
    if (typeof this.value !== 'number' || !Number.isFinite(this.value)) {
      this.fail('must be a number', options.fix);
      return undefined;
    }
    if ((options.min !== undefined && this.value < options.min) || (options.max !== undefined && this.value > options.max)) {
      this.fail(`is out of range${rangeText(options)}`, options.fix);
      return undefined;
    }
    return this.value;
  }

  integer(options: NumberOptions): number | undefined {
    if (this.value !== undefined && (typeof this.value !== 'number' || !Number.isInteger(this.value))) {
      this.fail('must be a whole number', options.fix);
      return undefined;
    }
    return this.number(options);
  }

  array(): unknown[] | undefined {
    if (this.value === undefined) {
      this.fail('is missing', 'give a JSON array');
      return undefined;
    }
    if (!Array.isArray(this.value)) {
      this.fail('must be an array', 'write it as a JSON array [...]');
      return undefined;
    }
    return this.value;
  }

  stringArray(options: { fallback?: readonly string[]; required?: boolean; fix?: string }): string[] | undefined {
    if (this.value === undefined) {
      if (options.required) this.fail('is missing', options.fix ?? 'give a JSON array of strings');
      return options.fallback ? [...options.fallback] : undefined;
    }
    if (!Array.isArray(this.value) || !this.value.every((v) => typeof v === 'string')) {
      this.fail('must be an array of strings', options.fix ?? 'write it as ["...", "..."]');
      return undefined;
    }
    return [...this.value] as string[];
  }

  private describe(): string {
    if (this.value === undefined) return '(missing)';
    // Key material and certificates are described by size at most: never echo a possibly private key.
    if (/(^|\.)(pem|caBundlePem)$/.test(this.path) && typeof this.value === 'string') return `(${this.value.length} characters, not shown)`;
    const text = JSON.stringify(this.value) ?? String(this.value);
    if (/\.jwk$/.test(this.path) || text.includes('-----BEGIN') || /"(d|p|q|dp|dq|qi|k)":/.test(text)) return '(not shown)';
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  }
}

function rangeText(options: NumberOptions): string {
  if (options.min !== undefined && options.max !== undefined) return ` (${options.min} to ${options.max})`;
  if (options.min !== undefined) return ` (at least ${options.min})`;
  return options.max !== undefined ? ` (at most ${options.max})` : '';
}

/** The message of anything thrown (errors from another realm fail `instanceof Error`). */
function errorMessage(err: unknown): string {
  return isObject(err) && typeof err.message === 'string' ? err.message : String(err);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
