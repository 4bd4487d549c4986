import { Annotations, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { App, StackProps } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ConfigValidationError, FLEET_STACK_ID_PREFIX } from '../core/config';
import type { ClusterConfig, EnvConfig, FleetVerifierConfig as ConfiguredFleetVerifier } from '../core/config';
import { Alarms } from './constructs/alarms';
import { OperationsDashboard } from './constructs/dashboard';
import { DEFAULT_METRICS_NAMESPACE } from './constructs/jwks-sync';
import { PRIVATE_BUCKET_LAYOUT } from './constructs/issuer-site';
import { VerifyApi } from './constructs/verify-api';
import type { RouteThrottles, TrustedIssuerPolicy, VerifyApiTrustedIssuer, VerifyPolicy } from './constructs/verify-api';

// ===== The configuration this stack is made from =====

/**
 * A fleet verifier's section of the configuration, as validated. Written against this small
 * local interface until the config schema (core/config.ts) grows its `fleetVerifiers` section;
 * {@link fleetVerifyStackProps} is the only reader.
 */
export interface FleetVerifierConfig {
  /** Names the stack (`OidcFleet-<name>`), its role, dashboard and metrics: a DNS label of at most 40 characters. */
  readonly name: string;
  /**
   * Where the fleet verifier is deployed. Trusted clusters with the same account and region are
   * read from their buckets; any other is read through its published issuer.
   * @default - environment-agnostic (then the trusted clusters must be too)
   */
  readonly env?: EnvConfig;
  /** Clusters of this configuration the verifier trusts, by name (or with a cross-account deny list bucket). */
  readonly trustClusters: readonly (string | FleetClusterTrust)[];
  /** Other Kubernetes issuers it trusts (EKS clusters included), keys through OIDC discovery. */
  readonly externalIssuers: readonly FleetExternalIssuer[];
  /** Audiences callers may ask about (every issuer, unless the issuer names its own). */
  readonly audiences: readonly string[];
  /** Audiences used when a request names none. @default - all of `audiences` */
  readonly defaultAudiences?: readonly string[];
  /** Per caller ARN, the audiences it may ask about; needs `iamAuth`. */
  readonly callerAudiences?: Readonly<Record<string, readonly string[]>>;
  /** Require SigV4 (IAM) signatures on every route. */
  readonly iamAuth: boolean;
  /** Stage throttle. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Per-route throttles. @default - every route uses `throttle` */
  readonly routeThrottles?: RouteThrottles;
  /** @default 60 */
  readonly clockSkewSeconds?: number;
  /** @default - no limit */
  readonly maxTokenLifetimeSeconds?: number;
  /** @default 16384 */
  readonly maxTokenBytes?: number;
  /** @default 60 */
  readonly keysTtlSeconds?: number;
  /** @default 30 */
  readonly unknownKidCooldownSeconds?: number;
  /** @default 900 */
  readonly staleWindowSeconds?: number;
  /** @default - no e-mail subscriptions */
  readonly alarms?: { readonly emails: readonly string[] };
}

/** A trusted cluster of this configuration, with what the fleet needs beyond its name. */
export interface FleetClusterTrust {
  /** The cluster's `name`. */
  readonly name: string;
  /**
   * The cluster's private bucket name (its stack's `PrivateBucketName` output), when the cluster
   * is in another account of the verifier's region: the verifier then reads its deny list, which
   * the cluster stack grants with `denyListReaderArns` (see {@link fleetDenyListReaders}).
   * @default - same account: its stack's bucket; another account: no deny list (synth warns)
   */
  readonly privateBucketName?: string;
  /** This cluster's own audiences. @default - the fleet's */
  readonly audiences?: readonly string[];
  /** @default - this cluster's `audiences` when given, else the fleet's default audiences */
  readonly defaultAudiences?: readonly string[];
}

/** An issuer that is not a cluster of this configuration (for example EKS). */
export interface FleetExternalIssuer {
  /** The issuer exactly as in its tokens' `iss`: `https://oidc.eks.REGION.amazonaws.com/id/ID`. */
  readonly issuer: string;
  /** A name given in answers, as a cluster name is; unique among the fleet's clusters and issuers. */
  readonly name?: string;
  /** A JWKS URL given by hand. @default - OIDC discovery at the issuer */
  readonly jwksUrl?: string;
  /** PEM CA bundle for discovery or `jwksUrl`. @default - the public roots */
  readonly caBundlePem?: string;
  /** This issuer's own audiences. @default - the fleet's */
  readonly audiences?: readonly string[];
  readonly defaultAudiences?: readonly string[];
}

// ===== The stack =====

/** What the fleet needs of a cluster stack in its own account and region: {@link IssuerSite} has it. */
export interface ClusterIssuerSite {
  readonly issuerUrl: string;
  readonly documentsBucket: s3.IBucket;
  readonly jwksKey: string;
  readonly privateBucket: s3.IBucket;
}

/** A bucket: a construct (a cross-stack reference in the same account and region) or a bucket name. */
export type BucketRef = s3.IBucket | string;

/** One issuer the fleet verifier trusts. */
export type FleetTrustedIssuer =
  /**
   * A cluster of this project in the verifier's account and region: the published JWKS object
   * and the deny list are read from its buckets.
   */
  | {
    readonly kind: 'bucket';
    readonly cluster: string;
    /** The issuer (a deploy-time value with the CloudFront default domain). */
    readonly issuer: string;
    readonly documentsBucket: BucketRef;
    readonly jwksKey: string;
    /** @default - no deny list (synth warns) */
    readonly privateBucket?: BucketRef;
    readonly policy?: TrustedIssuerPolicy;
  }
  /** Any issuer whose keys come through OIDC discovery (a cluster elsewhere, EKS), or a JWKS URL when given. */
  | {
    readonly kind: 'discovery';
    /** `https://...`, byte for byte as in the tokens. */
    readonly issuer: string;
    /** Its name in answers. @default - the issuer only */
    readonly cluster?: string;
    /** @default - discovery at the issuer */
    readonly jwksUrl?: string;
    readonly caBundlePem?: string;
    /**
     * A deny list in a bucket of the verifier's region (another account's bucket must grant this
     * verifier's role; see {@link FleetVerifyStack.verifierRoleArn}).
     * @default - no deny list
     */
    readonly denyListBucket?: BucketRef;
    /**
     * A cluster of this project (which keeps a deny list): synth warns when `denyListBucket` is
     * not given, since its revocations are then not seen here.
     * @default false
     */
    readonly projectCluster?: boolean;
    readonly policy?: TrustedIssuerPolicy;
  };

/** Properties of {@link FleetVerifyStack}. */
export interface FleetVerifyStackProps extends StackProps {
  /** The fleet's name: the stack is `OidcFleet-<name>`; role `kube-oidc-fleet-<name>`. */
  readonly name: string;
  /** The issuers it trusts; a token of any other issuer is refused (`unknown_issuer`) without a fetch. */
  readonly trustedIssuers: readonly FleetTrustedIssuer[];
  /** The verifier's policy: every issuer's unless the issuer has its own. */
  readonly policy: VerifyPolicy;
  /** Require SigV4 (IAM) signatures on every route. @default false */
  readonly iamAuth?: boolean;
  /** Stage throttle. @default - 50 requests per second, bursts of 100 */
  readonly throttle?: apigwv2.ThrottleSettings;
  /** Per-route throttles. @default - every route uses `throttle` */
  readonly routeThrottles?: RouteThrottles;
  /** E-mail subscriptions of the alarm topic. @default - none */
  readonly alarmEmails?: readonly string[];
}

/** The physical name of a fleet verifier's role, which other accounts' bucket policies name. */
export function fleetVerifierRoleName(fleetName: string): string {
  return `kube-oidc-fleet-${fleetName}`;
}

/** The stack id of a fleet verifier: `OidcFleet-<name>`, as the configuration names it. */
export function fleetStackIdFor(fleetName: string): string {
  return `${FLEET_STACK_ID_PREFIX}${fleetName}`;
}

/**
 * This module's {@link FleetVerifierConfig} from a validated `fleetVerifiers` entry of the
 * configuration file (core/config.ts). A `clusters` entry is a name, or `{name, privateBucketName}`
 * for a cluster in another account of the fleet's region whose deny list the fleet reads (the
 * cluster stack grants it, see {@link fleetDenyListReaders}); a cluster in another account given
 * by name alone is read without its deny list (synth warns). A cluster or external issuer with
 * its own `audiences` uses them instead of the fleet's for its tokens.
 */
export function fleetVerifierFromConfig(fleet: ConfiguredFleetVerifier): FleetVerifierConfig {
  return {
    name: fleet.name,
    ...(fleet.env ? { env: fleet.env } : {}),
    trustClusters: fleet.clusters,
    externalIssuers: fleet.externalIssuers.map((external) => ({
      issuer: external.url,
      ...(external.name !== undefined ? { name: external.name } : {}),
      ...(external.jwksUrl !== undefined ? { jwksUrl: external.jwksUrl } : {}),
      ...(external.caBundlePem !== undefined ? { caBundlePem: external.caBundlePem } : {}),
      ...(external.audiences !== undefined ? { audiences: external.audiences } : {}),
      ...(external.defaultAudiences !== undefined ? { defaultAudiences: external.defaultAudiences } : {}),
    })),
    audiences: fleet.audiences ?? [],
    ...(fleet.defaultAudiences ? { defaultAudiences: fleet.defaultAudiences } : {}),
    ...(fleet.callerAudiences ? { callerAudiences: fleet.callerAudiences } : {}),
    iamAuth: fleet.iamAuth,
    throttle: fleet.throttle,
    ...(fleet.routeThrottles ? { routeThrottles: fleet.routeThrottles } : {}),
    clockSkewSeconds: fleet.clockSkewSeconds,
    ...(fleet.maxTokenLifetimeSeconds !== undefined ? { maxTokenLifetimeSeconds: fleet.maxTokenLifetimeSeconds } : {}),
    maxTokenBytes: fleet.maxTokenBytes,
    keysTtlSeconds: fleet.keysTtlSeconds,
    unknownKidCooldownSeconds: fleet.unknownKidCooldownSeconds,
    staleWindowSeconds: fleet.staleWindowSeconds,
    alarms: { emails: fleet.alarms.emails },
  };
}

/**
 * One Verify API for many issuers: this project's clusters and other Kubernetes issuers (EKS
 * included), with the routes, IAM authorization option, alarm and dashboard of a cluster's own
 * Verify API. The verifier's role reads exactly the configured JWKS and deny-list objects.
 * Deploy with `npx cdk deploy OidcFleet-<name>`.
 */
export class FleetVerifyStack extends Stack {
  /** The alarm topic (the verifier's error alarm). */
  readonly alarms: Alarms;
  /** The Verify API. */
  readonly verifyApi: VerifyApi;
  /** The fleet's dashboard (Verify API widgets). */
  readonly dashboard: OperationsDashboard;
  /** ARN of the verifier's role, fixed by its name so that other accounts' bucket policies can name it. */
  readonly verifierRoleArn: string;

  constructor(scope: Construct, id: string, props: FleetVerifyStackProps) {
    const { name, trustedIssuers, policy, iamAuth, throttle, routeThrottles, alarmEmails, ...stackProps } = props;
    super(scope, id, { description: `Fleet Verify API ${name}: Kubernetes service-account tokens of ${trustedIssuers.length} trusted issuer(s)`, ...stackProps });
    const metricsNamespace = `${DEFAULT_METRICS_NAMESPACE}/fleet/${name}`;
    this.alarms = new Alarms(this, 'Alarms', { ...(alarmEmails ? { emails: alarmEmails } : {}), displayName: `Kube OIDC fleet ${name}` });

    const bucket = (ref: BucketRef, constructId: string): s3.IBucket => (typeof ref === 'string' ? s3.Bucket.fromBucketName(this, constructId, ref) : ref);
    const issuers = trustedIssuers.map((trusted, index): VerifyApiTrustedIssuer => {
      if (trusted.kind === 'bucket') {
        if (!trusted.privateBucket) this.warnNoDenyList(trusted.cluster);
        return {
          issuer: trusted.issuer,
          cluster: trusted.cluster,
          keys: { kind: 'documentsBucket', bucket: bucket(trusted.documentsBucket, `DocumentsBucket${index}`), jwksKey: trusted.jwksKey },
          ...(trusted.privateBucket ? { denyList: { bucket: bucket(trusted.privateBucket, `PrivateBucket${index}`), key: PRIVATE_BUCKET_LAYOUT.denyListKey } } : {}),
          ...(trusted.policy ? { policy: trusted.policy } : {}),
        };
      }
      if (trusted.projectCluster && !trusted.denyListBucket) this.warnNoDenyList(trusted.cluster ?? trusted.issuer);
      const caBundle = trusted.caBundlePem !== undefined ? { caBundlePem: trusted.caBundlePem } : {};
      return {
        issuer: trusted.issuer,
        ...(trusted.cluster !== undefined ? { cluster: trusted.cluster } : {}),
        keys: trusted.jwksUrl !== undefined ? { kind: 'jwksUrl', url: trusted.jwksUrl, ...caBundle } : { kind: 'discovery', ...caBundle },
        ...(trusted.denyListBucket ? { denyList: { bucket: bucket(trusted.denyListBucket, `DenyListBucket${index}`), key: PRIVATE_BUCKET_LAYOUT.denyListKey } } : {}),
        ...(trusted.policy ? { policy: trusted.policy } : {}),
      };
    });

    const roleName = fleetVerifierRoleName(name);
    this.verifyApi = new VerifyApi(this, 'VerifyApi', {
      trustedIssuers: issuers,
      policy,
      roleName,
      ...(iamAuth !== undefined ? { iamAuth } : {}),
      ...(throttle ? { throttle } : {}),
      ...(routeThrottles ? { routeThrottles } : {}),
      alarmTopic: this.alarms.topic,
      metricsNamespace,
    });
    this.verifierRoleArn = this.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: roleName });

    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      dashboardName: `kube-oidc-fleet-${name}`,
      metricsNamespace,
      verifyFunction: this.verifyApi.function,
    });

    new CfnOutput(this, 'VerifyApiUrl', { value: this.verifyApi.url, description: 'Base URL of the fleet Verify API' });
    new CfnOutput(this, 'VerifierRoleArn', { value: this.verifyApi.role.roleArn, description: 'The fleet verifier\'s role: what a cluster in another account grants its deny list to (denyListReaderArns)' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'SNS topic of the fleet verifier\'s alarms' });
  }

  private warnNoDenyList(cluster: string): void {
    Annotations.of(this).addWarningV2(`kube-oidc:fleet-no-deny-list-${cluster}`,
      `The fleet verifier reads no deny list for cluster ${cluster}: tokens it revokes keep verifying here until they expire. For a cluster in another account of this region, list it in the fleet's clusters as {"name": "${cluster}", "privateBucketName": "<its PrivateBucketName output>"}; a cluster in another region needs a fleet verifier in its region to have its deny list read.`);
  }
}

// ===== From the configuration to the stack =====

/** Where a trusted cluster is, seen from the fleet verifier. */
type Placement = 'same' | 'otherAccount' | 'otherRegion';

function placementOf(fleetEnv: EnvConfig | undefined, clusterEnv: EnvConfig | undefined): Placement | undefined {
  const known = (env: EnvConfig | undefined) => env?.account !== undefined && env.region !== undefined;
  if (!known(fleetEnv) && !known(clusterEnv)) return fleetEnv === undefined && clusterEnv === undefined ? 'same' : undefined;
  if (!known(fleetEnv) || !known(clusterEnv)) return undefined;
  if (fleetEnv!.region !== clusterEnv!.region) return 'otherRegion';
  return fleetEnv!.account === clusterEnv!.account ? 'same' : 'otherAccount';
}

const FLEET_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const HTTPS_URL = /^https:\/\/[^/?#\s]+(\/[^?#\s]*)?$/;

/**
 * The props of a fleet's stack from the validated configuration: pure (no constructs are made;
 * same-account clusters are referred to through `sites`, their stacks' issuer sites, which CDK
 * turns into cross-stack references). Every problem is reported at once, naming the fleet, the
 * field, the value and the fix.
 *
 * - A trusted cluster in the fleet's account and region (or both environment-agnostic): keys and
 *   deny list from its buckets.
 * - Elsewhere: keys through OIDC discovery at its issuer, which must then be a custom domain (a
 *   CloudFront default domain is only known after the cluster's deployment); its deny list only
 *   in the same region, from `privateBucketName`.
 * - External issuers: discovery, or `jwksUrl` when configured.
 */
export function fleetVerifyStackProps(
  fleet: FleetVerifierConfig,
  clusters: readonly ClusterConfig[],
  sites: ReadonlyMap<string, ClusterIssuerSite>,
): FleetVerifyStackProps {
  const problems: string[] = [];
  const where = `fleet verifier ${JSON.stringify(fleet.name)}`;
  const problem = (field: string, value: unknown, what: string, fix: string) => problems.push(`${where}: ${field} = ${JSON.stringify(value)} ${what}; ${fix}`);
  if (!FLEET_NAME.test(fleet.name)) problem('name', fleet.name, 'is not a DNS label of at most 40 characters', 'use lowercase letters, digits and hyphens, e.g. "fleet-prod"');
  if (fleet.audiences.length === 0) problem('audiences', fleet.audiences, 'lists no audience', 'list the audiences callers may verify, e.g. ["verify.example.com"]');
  for (const aud of fleet.defaultAudiences ?? []) if (!fleet.audiences.includes(aud)) problem('defaultAudiences', aud, 'is not in audiences', 'default audiences must be a subset of audiences');
  if (fleet.callerAudiences && !fleet.iamAuth) problem('callerAudiences', fleet.callerAudiences, 'needs iamAuth', 'set iamAuth to true, or remove callerAudiences');
  if (fleet.trustClusters.length + fleet.externalIssuers.length === 0) problem('trustClusters', [], 'and externalIssuers trust nobody', 'name at least one cluster or external issuer');

  const names = new Set<string>();
  const trusted: FleetTrustedIssuer[] = [];
  fleet.trustClusters.forEach((entry, index) => {
    const trust: FleetClusterTrust = typeof entry === 'string' ? { name: entry } : entry;
    const field = `trustClusters[${index}]`;
    const cluster = clusters.find((c) => c.name === trust.name);
    if (!cluster) {
      problem(field, trust.name, 'is not a cluster of this configuration', `use one of ${JSON.stringify(clusters.map((c) => c.name))}, or list it under externalIssuers`);
      return;
    }
    if (names.has(trust.name)) problem(field, trust.name, 'is listed twice', 'list each cluster once');
    names.add(trust.name);
    const policy = issuerPolicy(trust, cluster.rotation.kidlessCompat, fleet, (f, v, what, fix) => problem(`${field}.${f}`, v, what, fix));
    const placement = placementOf(fleet.env, cluster.env);
    if (placement === undefined) {
      problem(field, trust.name, `cannot be placed: the fleet's env is ${JSON.stringify(fleet.env ?? null)} and the cluster's ${JSON.stringify(cluster.env ?? null)}`,
        'give both an env with account and region, or leave both environment-agnostic');
      return;
    }
    if (placement === 'same') {
      const site = sites.get(cluster.name);
      if (!site) throw new Error(`fleetVerifyStackProps: no issuer site given for cluster ${cluster.name} (pass its ClusterOidcStack's issuerSite)`);
      if (trust.privateBucketName !== undefined) problem(`${field}.privateBucketName`, trust.privateBucketName, 'is not needed: the cluster is in the fleet\'s account and region', 'remove it (its stack\'s bucket is used)');
      trusted.push({ kind: 'bucket', cluster: cluster.name, issuer: site.issuerUrl, documentsBucket: site.documentsBucket, jwksKey: site.jwksKey, privateBucket: site.privateBucket, policy });
      return;
    }
    if (cluster.issuer.kind !== 'customDomain') {
      problem(field, trust.name, `is in another ${placement === 'otherAccount' ? 'account' : 'region'} and its issuer is the CloudFront default domain, known only after its deployment`,
        'give the cluster an issuer custom domain, or list its deployed issuer URL under externalIssuers');
      return;
    }
    if (placement === 'otherRegion' && trust.privateBucketName !== undefined) {
      problem(`${field}.privateBucketName`, trust.privateBucketName, 'is in another region than the fleet verifier, which reads buckets of its own region only', 'remove it, or deploy the fleet verifier in the cluster\'s region');
    }
    trusted.push({
      kind: 'discovery',
      issuer: cluster.issuer.url,
      cluster: cluster.name,
      projectCluster: true,
      ...(placement === 'otherAccount' && trust.privateBucketName !== undefined ? { denyListBucket: trust.privateBucketName } : {}),
      policy,
    });
  });

  fleet.externalIssuers.forEach((external, index) => {
    const field = `externalIssuers[${index}]`;
    if (!HTTPS_URL.test(external.issuer) || external.issuer.endsWith('/')) problem(`${field}.issuer`, external.issuer, 'is not an https URL without a trailing slash', 'write it exactly as its tokens\' iss, e.g. "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"');
    if (external.jwksUrl !== undefined && !HTTPS_URL.test(external.jwksUrl)) problem(`${field}.jwksUrl`, external.jwksUrl, 'is not an https URL', 'give the JWKS URL over https, or remove it to use discovery');
    const clash = clusters.find((c) => c.issuer.kind === 'customDomain' && c.issuer.url === external.issuer);
    if (clash) problem(`${field}.issuer`, external.issuer, `is the issuer of cluster ${clash.name}`, `list "${clash.name}" under trustClusters instead`);
    if (trusted.some((t) => t.issuer === external.issuer)) problem(`${field}.issuer`, external.issuer, 'is trusted twice', 'list each issuer once');
    if (external.name !== undefined) {
      if (names.has(external.name)) problem(`${field}.name`, external.name, 'is already a name of this fleet', 'give each cluster and issuer a unique name');
      names.add(external.name);
    }
    const policy = issuerPolicy(external, undefined, fleet, (f, v, what, fix) => problem(`${field}.${f}`, v, what, fix));
    trusted.push({
      kind: 'discovery',
      issuer: external.issuer,
      ...(external.name !== undefined ? { cluster: external.name } : {}),
      ...(external.jwksUrl !== undefined ? { jwksUrl: external.jwksUrl } : {}),
      ...(external.caBundlePem !== undefined ? { caBundlePem: external.caBundlePem } : {}),
      ...(policy ? { policy } : {}),
    });
  });

  if (problems.length > 0) throw new ConfigValidationError(problems);
  const env = fleet.env?.account !== undefined || fleet.env?.region !== undefined ? { env: { ...fleet.env } } : {};
  return {
    ...env,
    name: fleet.name,
    trustedIssuers: trusted,
    policy: {
      audiences: fleet.audiences,
      ...(fleet.defaultAudiences ? { defaultAudiences: fleet.defaultAudiences } : {}),
      ...(fleet.callerAudiences ? { callerAudiences: fleet.callerAudiences } : {}),
      ...(fleet.clockSkewSeconds !== undefined ? { clockSkew: Duration.seconds(fleet.clockSkewSeconds) } : {}),
      ...(fleet.maxTokenLifetimeSeconds !== undefined ? { maxTokenLifetime: Duration.seconds(fleet.maxTokenLifetimeSeconds) } : {}),
      ...(fleet.maxTokenBytes !== undefined ? { maxTokenBytes: fleet.maxTokenBytes } : {}),
      ...(fleet.keysTtlSeconds !== undefined ? { keysTtl: Duration.seconds(fleet.keysTtlSeconds) } : {}),
      ...(fleet.unknownKidCooldownSeconds !== undefined ? { unknownKidCooldown: Duration.seconds(fleet.unknownKidCooldownSeconds) } : {}),
      ...(fleet.staleWindowSeconds !== undefined ? { staleWindow: Duration.seconds(fleet.staleWindowSeconds) } : {}),
    },
    iamAuth: fleet.iamAuth,
    throttle: fleet.throttle,
    ...(fleet.routeThrottles ? { routeThrottles: fleet.routeThrottles } : {}),
    ...(fleet.alarms ? { alarmEmails: fleet.alarms.emails } : {}),
  };
}

/** An issuer's own audiences (checked against nothing but themselves) and its kid-less setting. */
function issuerPolicy(
  own: { readonly audiences?: readonly string[]; readonly defaultAudiences?: readonly string[] },
  kidlessCompat: boolean | undefined,
  fleet: FleetVerifierConfig,
  problem: (field: string, value: unknown, what: string, fix: string) => void,
): TrustedIssuerPolicy | undefined {
  if (own.audiences !== undefined && own.audiences.length === 0) problem('audiences', own.audiences, 'is empty', 'remove it (the fleet\'s audiences apply) or list some');
  const allowed = own.audiences ?? fleet.audiences;
  for (const aud of own.defaultAudiences ?? []) if (!allowed.includes(aud)) problem('defaultAudiences', aud, 'is not among this issuer\'s audiences', 'default audiences must be a subset of its audiences');
  const policy: TrustedIssuerPolicy = {
    ...(own.audiences ? { audiences: own.audiences } : {}),
    ...(own.defaultAudiences ? { defaultAudiences: own.defaultAudiences } : {}),
    // Only a deviation from the fleet's default is written, to keep TRUSTED_ISSUERS short.
    ...(kidlessCompat ? { kidlessCompat } : {}),
  };
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/**
 * Per cluster, the fleet verifier roles that may read its deny list from another account: the
 * cluster stack's `denyListReaderArns`. Pure: from the configuration alone (the role's name is
 * fixed, {@link fleetVerifierRoleName}). Only clusters a fleet reads from another account of the
 * same region, with `privateBucketName` given, appear.
 */
export function fleetDenyListReaders(fleets: readonly FleetVerifierConfig[], clusters: readonly ClusterConfig[]): Map<string, string[]> {
  const readers = new Map<string, string[]>();
  for (const fleet of fleets) {
    for (const entry of fleet.trustClusters) {
      if (typeof entry === 'string' || entry.privateBucketName === undefined) continue;
      const cluster = clusters.find((c) => c.name === entry.name);
      if (!cluster || placementOf(fleet.env, cluster.env) !== 'otherAccount') continue;
      const arn = `arn:aws:iam::${fleet.env!.account!}:role/${fleetVerifierRoleName(fleet.name)}`;
      readers.set(cluster.name, [...(readers.get(cluster.name) ?? []), arn]);
    }
  }
  return readers;
}

/**
 * Adds one {@link FleetVerifyStack} per fleet (`OidcFleet-<name>`), after the cluster
 * stacks it refers to (`clusterSites`: each cluster's issuer site, by cluster name).
 */
export function addFleetVerifyStacks(
  app: App,
  fleets: readonly FleetVerifierConfig[],
  clusters: readonly ClusterConfig[],
  clusterSites: ReadonlyMap<string, ClusterIssuerSite>,
): FleetVerifyStack[] {
  const seen = new Set<string>();
  const duplicates = fleets.filter((fleet) => (seen.has(fleet.name) ? true : (seen.add(fleet.name), false)));
  if (duplicates.length > 0) {
    throw new ConfigValidationError(duplicates.map((fleet) => `fleet verifier ${JSON.stringify(fleet.name)}: name is used twice; fleet names name a stack and an IAM role, so give each fleet its own`));
  }
  const props = fleets.map((fleet) => fleetVerifyStackProps(fleet, clusters, clusterSites));
  return props.map((p) => new FleetVerifyStack(app, fleetStackIdFor(p.name), p));
}

