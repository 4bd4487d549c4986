import { Annotations, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { App, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { configJwks } from '../core/config';
import { roleArnOutputKey } from '../core/stack-outputs';
import type { ClusterConfig, ClusterJwksSource } from '../core/config';
import { Alarms } from './constructs/alarms';
import { Federation, serviceAccountRolePropsFromConfig } from './constructs/federation';
import { IssuerSite, PRIVATE_BUCKET_LAYOUT } from './constructs/issuer-site';
import type { IssuerCustomDomain } from './constructs/issuer-site';
import { OperationsDashboard } from './constructs/dashboard';
import { DEFAULT_METRICS_NAMESPACE, JwksSync } from './constructs/jwks-sync';
import type { ClusterJwksEndpoint } from './constructs/jwks-sync';
import { VerifyApi } from './constructs/verify-api';

/** Properties of {@link ClusterOidcStack}. */
export interface ClusterOidcStackProps extends StackProps {
  /** The validated configuration of the cluster (core/config.ts `validateConfig`). */
  readonly cluster: ClusterConfig;
  /**
   * Ids of the cluster's `serviceAccountRoles` that live in other accounts
   * ({@link FederationAccountStack}): they are not created in this stack.
   * @default - every role is created here
   */
  readonly rolesInOtherAccounts?: readonly string[];
  /**
   * Fleet verifier roles of other accounts that may read this cluster's deny list
   * (`s3:GetObject` on `control/deny-list.json` of the private bucket, nothing else): exact role
   * ARNs, such as a fleet stack's `VerifierRoleArn` output (`arn:aws:iam::ACCOUNT:role/kube-oidc-fleet-NAME`).
   * The grant names the role's account as principal and the exact role by `aws:PrincipalArn`, so it
   * can be deployed before the role exists and survives the role being recreated.
   * @default - no reader outside this account
   */
  readonly denyListReaderArns?: readonly string[];
}

/**
 * Everything one Kubernetes cluster needs for an OIDC identity on AWS, composed from the
 * constructs: issuer site, IAM federation with service-account roles, JWKS sync, Verify API and
 * alarm topic. Deploy one cluster with `npx cdk deploy OidcCluster-<name>`.
 */
export class ClusterOidcStack extends Stack {
  /** The alarm topic. */
  readonly alarms: Alarms;
  /** Buckets, distribution and the issuer URL. */
  readonly issuerSite: IssuerSite;
  /** The IAM OIDC provider and the service-account roles. */
  readonly federation: Federation;
  /** The JWKS sync. */
  readonly jwksSync: JwksSync;
  /** The Verify API, unless disabled. */
  readonly verifyApi?: VerifyApi;
  /** The cluster's CloudWatch dashboard (sync and Verify API). */
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: ClusterOidcStackProps) {
    const { cluster, rolesInOtherAccounts, denyListReaderArns, ...stackProps } = props;
    super(scope, id, {
      description: `OIDC issuer, IAM federation, JWKS sync and Verify API of Kubernetes cluster ${cluster.name}`,
      ...(cluster.env ? { env: cluster.env } : {}),
      ...stackProps,
    });
    for (const warning of cluster.warnings) Annotations.of(this).addWarningV2('kube-oidc:config', warning);

    this.alarms = new Alarms(this, 'Alarms', { emails: cluster.alarms.emails, displayName: `Kube OIDC ${cluster.name}` });
    this.issuerSite = new IssuerSite(this, 'IssuerSite', {
      ...(cluster.issuer.kind === 'customDomain' ? { customDomain: this.customDomain(cluster) } : {}),
      documentWriterArns: cluster.issuerSite.documentWriterArns,
      errorCachingTtlSeconds: cluster.issuerSite.errorCachingTtlSeconds,
    });
    const site = this.issuerSite;

    this.federation = new Federation(this, 'Federation', {
      issuerUrl: site.issuerUrl,
      clientIds: cluster.audiences,
      ...(cluster.existingOidcProviderArn ? { existingProviderArn: cluster.existingOidcProviderArn } : {}),
      issuerReachableVia: site.reachableVia,
      serviceAccountRoles: cluster.serviceAccountRoles
        .filter((role) => !(rolesInOtherAccounts ?? []).includes(role.id))
        .map((role) => serviceAccountRolePropsFromConfig(this, role)),
    });

    // One namespace per cluster: the sync's metrics carry no dimensions.
    const metricsNamespace = `${DEFAULT_METRICS_NAMESPACE}/${cluster.name}`;
    const keySources = cluster.keySources;
    this.jwksSync = new JwksSync(this, 'JwksSync', {
      issuerUrl: site.issuerUrl,
      documentsBucket: site.documentsBucket,
      documentKeys: { discoveryKey: site.discoveryKey, jwksKey: site.jwksKey, jwksAliasKey: site.jwksAliasKey },
      privateBucket: site.privateBucket,
      distributionId: site.distribution.distributionId,
      distributionArn: site.distributionArn,
      alarmTopic: this.alarms.topic,
      uploadsEnabled: keySources.upload.enabled,
      writerArns: keySources.upload.writerArns,
      configJwks: configJwks(cluster),
      ...(keySources.clusterJwks ? { clusterJwks: this.clusterEndpoint(keySources.clusterJwks) } : {}),
      schedule: Duration.minutes(cluster.sync.scheduleMinutes),
      cacheMaxAge: Duration.seconds(cluster.sync.cacheMaxAgeSeconds),
      gracePeriod: Duration.seconds(cluster.rotation.gracePeriodSeconds),
      kidlessCompat: cluster.rotation.kidlessCompat,
      metricsNamespace,
    });
    site.allowDocumentWriter(this.jwksSync.role);

    if (denyListReaderArns && denyListReaderArns.length > 0) this.grantDenyListReads(cluster.name, denyListReaderArns);

    const verify = cluster.verifyApi;
    if (verify.enabled) {
      this.verifyApi = new VerifyApi(this, 'VerifyApi', {
        issuerUrl: site.issuerUrl,
        documentsBucket: site.documentsBucket,
        jwksKey: site.jwksKey,
        privateBucket: site.privateBucket,
        clusterName: cluster.name,
        iamAuth: verify.iamAuth,
        throttle: verify.throttle,
        ...(verify.routeThrottles ? { routeThrottles: verify.routeThrottles } : {}),
        alarmTopic: this.alarms.topic,
        metricsNamespace,
        policy: {
          audiences: verify.audiences,
          defaultAudiences: verify.defaultAudiences,
          ...(verify.callerAudiences ? { callerAudiences: verify.callerAudiences } : {}),
          clockSkew: Duration.seconds(verify.clockSkewSeconds),
          ...(verify.maxTokenLifetimeSeconds !== undefined ? { maxTokenLifetime: Duration.seconds(verify.maxTokenLifetimeSeconds) } : {}),
          maxTokenBytes: verify.maxTokenBytes,
          kidlessCompat: cluster.rotation.kidlessCompat,
          keysTtl: Duration.seconds(verify.keysTtlSeconds),
          unknownKidCooldown: Duration.seconds(verify.unknownKidCooldownSeconds),
          staleWindow: Duration.seconds(verify.staleWindowSeconds),
        },
      });
    }

    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      dashboardName: `kube-oidc-${cluster.name}`,
      metricsNamespace,
      syncFunction: this.jwksSync.function,
      ...(this.verifyApi ? { verifyFunction: this.verifyApi.function } : {}),
    });

    this.addOutputs(cluster);
  }

  /** Lets fleet verifiers of other accounts read the deny list, and nothing else of the private bucket. */
  private grantDenyListReads(clusterName: string, readerArns: readonly string[]): void {
    const bad = readerArns.filter((arn) => !ROLE_ARN.test(arn));
    if (bad.length > 0) {
      throw new Error(`cluster ${clusterName}: denyListReaderArns ${JSON.stringify(bad)} are not IAM role ARNs; give exact role ARNs, e.g. "arn:aws:iam::210987654321:role/kube-oidc-fleet-prod"`);
    }
    const bucket = this.issuerSite.privateBucket;
    const accounts = [...new Set(readerArns.map((arn) => arn.split(':')[4]))];
    bucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'FleetVerifiersReadTheDenyList',
      principals: accounts.map((account) => new iam.AccountPrincipal(account)),
      actions: ['s3:GetObject'],
      resources: [bucket.arnForObjects(PRIVATE_BUCKET_LAYOUT.denyListKey)],
      conditions: { ArnEquals: { 'aws:PrincipalArn': [...readerArns] } },
    }));
  }

  private customDomain(cluster: ClusterConfig): IssuerCustomDomain {
    if (cluster.issuer.kind !== 'customDomain') throw new Error('unreachable: not a custom domain');
    const issuer = cluster.issuer;
    return {
      issuerUrl: issuer.url,
      hostedZone: route53.HostedZone.fromHostedZoneAttributes(this, 'IssuerZone', { hostedZoneId: issuer.hostedZoneId, zoneName: issuer.hostedZoneName }),
      certificate: acm.Certificate.fromCertificateArn(this, 'IssuerCertificate', issuer.certificateArn),
    };
  }

  private clusterEndpoint(source: ClusterJwksSource): ClusterJwksEndpoint {
    const vpc = source.vpc;
    return {
      url: source.url,
      ...(source.caBundlePem ? { caBundlePem: source.caBundlePem } : {}),
      ...(source.tokenSecretArn ? { tokenSecret: secretsmanager.Secret.fromSecretCompleteArn(this, 'ClusterTokenSecret', source.tokenSecretArn) } : {}),
      ...(source.tokenParameterName
        ? { tokenParameter: ssm.StringParameter.fromSecureStringParameterAttributes(this, 'ClusterTokenParameter', { parameterName: source.tokenParameterName }) }
        : {}),
      ...(vpc ? {
        vpcPlacement: {
          // Attributes only, no lookup: `cdk synth` needs no credentials.
          vpc: ec2.Vpc.fromVpcAttributes(this, 'SyncVpc', { vpcId: vpc.vpcId, availabilityZones: vpc.subnetIds.map((_, i) => `subnet-${i}-az`) }),
          subnets: vpc.subnetIds.map((subnetId) => {
            const subnet = ec2.Subnet.fromSubnetId(this, `SyncSubnet-${subnetId}`, subnetId);
            Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'Only the subnet id is used, to place the sync Lambda.');
            return subnet;
          }),
          securityGroups: vpc.securityGroupIds.map((sgId) => ec2.SecurityGroup.fromSecurityGroupId(this, `SyncSecurityGroup-${sgId}`, sgId, { mutable: false })),
        },
      } : {}),
    };
  }

  private addOutputs(cluster: ClusterConfig): void {
    const site = this.issuerSite;
    new CfnOutput(this, 'IssuerUrl', { value: site.issuerUrl, description: 'The OIDC issuer: kube-apiserver --service-account-issuer and every token\'s iss' });
    new CfnOutput(this, 'JwksUri', { value: site.jwksUri, description: 'The published JWKS: kube-apiserver --service-account-jwks-uri' });
    new CfnOutput(this, 'KubeApiserverFlags', {
      value: `--service-account-issuer=${site.issuerUrl} --service-account-jwks-uri=${site.jwksUri}`,
      description: 'Add these flags to kube-apiserver (keep the existing --service-account-key-file and --service-account-signing-key-file)',
    });
    new CfnOutput(this, 'OidcProviderArn', { value: this.federation.provider.oidcProviderArn, description: 'The IAM OIDC identity provider of the issuer' });
    for (const role of cluster.serviceAccountRoles) {
      const construct = this.federation.roles.get(role.id);
      if (!construct) continue;
      new CfnOutput(this, roleArnOutputKey(role.id), {
        value: construct.roleArn,
        description: `AWS_ROLE_ARN for ${role.match === 'namespace' ? `namespace ${role.namespace}` : `${role.namespace}/${role.serviceAccount ?? ''}`} (token audience ${role.audience})`,
      });
    }
    if (this.verifyApi) new CfnOutput(this, 'VerifyApiUrl', { value: this.verifyApi.url, description: 'Base URL of the token Verify API' });
    new CfnOutput(this, 'DocumentsBucketName', { value: site.documentsBucket.bucketName, description: 'Bucket holding the two published documents' });
    new CfnOutput(this, 'PrivateBucketName', { value: site.privateBucket.bucketName, description: 'Bucket holding keys/, control/deny-list.json and state/' });
    new CfnOutput(this, 'DistributionId', { value: site.distribution.distributionId, description: 'CloudFront distribution serving the issuer' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'SNS topic of alarms and key announcements' });
  }
}

/**
 * Adds one {@link ClusterOidcStack} per cluster to the app, each named `OidcCluster-<name>`.
 * A cluster with roles in other accounts (`federationAccounts`) needs its federation stacks too:
 * use `addConfigStacks` (or `addClusterAndFederationStacks`), which this refuses to stand in for,
 * so that those roles are never created in the wrong account.
 */
export function addClusterStacks(app: App, clusters: readonly ClusterConfig[], denyListReaders: ReadonlyMap<string, readonly string[]> = new Map()): ClusterOidcStack[] {
  const federated = clusters.filter((cluster) => cluster.federationAccounts.length > 0).map((cluster) => cluster.name);
  if (federated.length > 0) {
    throw new Error(`Clusters ${JSON.stringify(federated)} have roles in other accounts (federationAccounts): add them with addConfigStacks (or addClusterAndFederationStacks), which creates those accounts' stacks too.`);
  }
  return clusters.map((cluster) => {
    const readers = denyListReaders.get(cluster.name);
    return new ClusterOidcStack(app, cluster.stackId, { cluster, ...(readers && readers.length > 0 ? { denyListReaderArns: readers } : {}) });
  });
}

/** An IAM role ARN (any partition, optional path). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
