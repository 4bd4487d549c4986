import { Annotations, Aws, CfnCondition, CfnResource, Duration, Fn, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { IDependable } from 'constructs';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { documentPaths } from '../../core/documents';
import { issuerHostPath } from '../../core/trust-policy';
import { acknowledgeNag } from '../private/nag';

/** The id of the synth warning for an issuer on the CloudFront default domain (`cdk synth` prints it; acknowledge it by this id). */
export const CLOUDFRONT_DEFAULT_DOMAIN_WARNING_ID = 'kube-oidc:issuer-cloudfront-default-domain';

/** Why an issuer on the distribution's own `*.cloudfront.net` domain deserves a warning at every synth. */
export const CLOUDFRONT_DEFAULT_DOMAIN_WARNING =
  'The issuer is the CloudFront default domain (https://dXXXX.cloudfront.net), which belongs to this distribution: ' +
  'if the distribution is ever replaced or deleted, the issuer changes, every token and IAM trust policy of the cluster ' +
  'stops working, and the old issuer can never be recreated. Strongly discouraged beyond trying things out: give the ' +
  'cluster an issuer on a domain you own ("issuer": {"url": ...} in the configuration; see docs/configuration.md#issuer).';

/**
 * Object keys of the private bucket, shared by the sync Lambda, the verifier, the CLI and the
 * bucket policy (docs/architecture.md, "Storage layout").
 */
export const PRIVATE_BUCKET_LAYOUT = {
  /** Uploaded public keys. */
  keyPrefix: 'keys/',
  /** Operator-written control objects. */
  controlPrefix: 'control/',
  /** The deny list (revoked kids, jtis, pod uids, service accounts). */
  denyListKey: 'control/deny-list.json',
  /** State written by the sync Lambda only. */
  statePrefix: 'state/',
  /** Rotation state (first and last seen per kid). */
  stateKey: 'state/rotation.json',
} as const;

/** A custom issuer domain: the recommended setup, since the issuer must never change. */
export interface IssuerCustomDomain {
  /** The issuer URL (`https://host[/path]`, no trailing slash), exactly as `--service-account-issuer`. */
  readonly issuerUrl: string;
  /** The hosted zone that receives the A/AAAA alias records of the issuer host. */
  readonly hostedZone: route53.IHostedZone;
  /** A certificate in us-east-1 covering the issuer host. */
  readonly certificate: acm.ICertificate;
}

/** Properties of {@link IssuerSite}. */
export interface IssuerSiteProps {
  /**
   * Serve the issuer on a custom domain.
   * @default - the distribution's own `*.cloudfront.net` domain, known only after deployment
   */
  readonly customDomain?: IssuerCustomDomain;
  /**
   * How long old object versions are kept, so that a bad publish can be rolled back.
   * @default Duration.days(90)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * How long access logs (S3 server access logs, CloudFront logs) are kept.
   * @default Duration.days(365)
   */
  readonly accessLogExpiration?: Duration;
}

/**
 * The public face of the issuer: a documents bucket holding nothing but the discovery document
 * and the JWKS, served by CloudFront through Origin Access Control; and a private bucket for
 * uploaded keys, rotation state and the deny list, which CloudFront cannot read.
 *
 * Every use of the issuer URL (documents, IAM provider, trust-policy condition keys, Lambda
 * environment, outputs) derives from {@link issuerUrl}, so they cannot differ.
 */
export class IssuerSite extends Construct {
  /** The issuer URL; a deploy-time token when the CloudFront default domain is used. */
  readonly issuerUrl: string;
  /** The issuer without `https://`, as IAM condition keys name it. */
  readonly issuerHostPath: string;
  /** The JWKS URL (`--service-account-jwks-uri`). */
  readonly jwksUri: string;
  /** Object key of the discovery document in the documents bucket. */
  readonly discoveryKey: string;
  /** Object key of the JWKS in the documents bucket. */
  readonly jwksKey: string;
  /** Holds only the two public documents. */
  readonly documentsBucket: s3.Bucket;
  /** Holds uploaded keys, rotation state and the deny list; never readable by CloudFront. */
  readonly privateBucket: s3.Bucket;
  /** Receives S3 server access logs and CloudFront access logs. */
  readonly logsBucket: s3.Bucket;
  /** The CloudFront distribution serving the documents. */
  readonly distribution: cloudfront.Distribution;
  /** ARN of the distribution, as OAC's `AWS:SourceArn` and IAM resources name it. */
  readonly distributionArn: string;
  /** Resources the issuer needs before IAM can reach it: the distribution and its DNS records. */
  readonly reachableVia: IDependable[];

  constructor(scope: Construct, id: string, props: IssuerSiteProps = {}) {
    super(scope, id);
    // Server access logs must be granted by bucket policy, never by ACL (the buckets enforce
    // BucketOwnerEnforced), whatever the app's feature flags say.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const custom = props.customDomain;
    const stack = Stack.of(this);
    if (!custom) Annotations.of(this).addWarningV2(CLOUDFRONT_DEFAULT_DOMAIN_WARNING_ID, CLOUDFRONT_DEFAULT_DOMAIN_WARNING);

    this.logsBucket = new s3.Bucket(this, 'LogsBucket', {
      ...privateBucketDefaults(),
      versioned: false,
      lifecycleRules: [{ id: 'ExpireLogs', expiration: props.accessLogExpiration ?? Duration.days(365) }],
    });

    const versionedDefaults = {
      ...privateBucketDefaults(),
      versioned: true,
      serverAccessLogsBucket: this.logsBucket,
      lifecycleRules: [{
        id: 'ExpireOldVersions',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
    };
    this.documentsBucket = new s3.Bucket(this, 'DocumentsBucket', { ...versionedDefaults, serverAccessLogsPrefix: 'documents-bucket/' });
    this.privateBucket = new s3.Bucket(this, 'PrivateBucket', { ...versionedDefaults, serverAccessLogsPrefix: 'private-bucket/' });

    const responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'ResponseHeaders', {
      comment: 'OIDC discovery documents: security headers',
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: false, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        contentSecurityPolicy: { contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'", override: true },
      },
      removeHeaders: ['Server'],
    });
    const cachePolicy = new cloudfront.CachePolicy(this, 'DocumentsCache', {
      comment: 'OIDC discovery documents: honour the origin Cache-Control (set by the JWKS sync), at most 1 hour',
      // minTtl 0 lets the documents' own max-age win; maxTtl caps a mistaken long max-age.
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(60),
      maxTtl: Duration.hours(1),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const originAccessControl = new cloudfront.S3OriginAccessControl(this, 'OriginAccessControl', {
      description: 'Issuer site: CloudFront reads the two discovery documents',
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    // The origin is bound to an imported view of the bucket so that CloudFront's automatic
    // `s3:GetObject` on `bucket/*` is not added: the statement below grants the two keys only.
    const documentsOrigin = s3.Bucket.fromBucketAttributes(this, 'DocumentsOrigin', {
      bucketArn: this.documentsBucket.bucketArn,
      bucketRegionalDomainName: this.documentsBucket.bucketRegionalDomainName,
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: custom ? `OIDC issuer ${custom.issuerUrl}` : 'OIDC issuer (CloudFront default domain)',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(documentsOrigin, { originAccessControl }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        cachePolicy,
        responseHeadersPolicy,
        compress: true,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      ...(custom ? {
        domainNames: [hostOf(custom.issuerUrl)],
        certificate: custom.certificate,
        minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
        sslSupportMethod: cloudfront.SSLMethod.SNI,
      } : {}),
    });
    Annotations.of(this.distribution).acknowledgeWarning('@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac',
      'The documents bucket policy is written by IssuerSite itself, limited to the two document keys.');
    if (!custom) {
      acknowledgeNag(this.distribution, 'AwsSolutions-CFR4',
        'The default *.cloudfront.net certificate cannot be pinned to TLS 1.2; configure issuer with a custom domain to get TLSv1.2_2021.');
    }
    acknowledgeNag(this.distribution, 'AwsSolutions-CFR1', 'Issuer documents must be reachable by AWS STS and verifiers from any location.');
    acknowledgeNag(this.distribution, 'AwsSolutions-CFR2',
      'Two small public, cacheable, read-only documents; a WAF web ACL would add cost without protecting anything writable.');
    acknowledgeNag(this.distribution, 'AwsSolutions-CFR3',
      'Access logging uses CloudFront standard logging v2 (CloudWatch Logs delivery to the logs bucket, no ACLs); the rule only recognises legacy logging, which needs bucket ACLs.');

    this.distributionArn = stack.formatArn({ service: 'cloudfront', region: '', resource: 'distribution', resourceName: this.distribution.distributionId });

    // One value for the issuer everywhere: the custom URL, or the distribution's own domain.
    this.issuerUrl = custom ? custom.issuerUrl : `https://${this.distribution.distributionDomainName}`;
    this.issuerHostPath = issuerHostPath(this.issuerUrl);
    const paths = documentPaths(this.issuerUrl);
    this.jwksUri = paths.jwksUri;
    this.discoveryKey = paths.discoveryKey;
    this.jwksKey = paths.jwksKey;

    this.documentsBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudFrontReadsOnlyTheDiscoveryDocuments',
      principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
      actions: ['s3:GetObject'],
      resources: [this.documentsBucket.arnForObjects(this.discoveryKey), this.documentsBucket.arnForObjects(this.jwksKey)],
      conditions: { StringEquals: { 'AWS:SourceArn': this.distributionArn } },
    }));

    this.reachableVia = [this.distribution];
    if (custom) {
      const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution));
      const recordName = hostOf(custom.issuerUrl);
      const a = new route53.ARecord(this, 'AliasRecord', { zone: custom.hostedZone, recordName, target });
      const aaaa = new route53.AaaaRecord(this, 'AliasRecordIpv6', { zone: custom.hostedZone, recordName, target });
      this.reachableVia.push(a, aaaa);
    }

    this.addCloudFrontAccessLogs();
    this.retainIssuer(!custom);
  }

  /**
   * CloudFront standard logging v2 into the logs bucket, without ACLs. CloudFront only accepts
   * v2 delivery sources in us-east-1, so the resources exist only when the stack is deployed there.
   */
  private addCloudFrontAccessLogs(): void {
    const stack = Stack.of(this);
    const region = stack.region;
    if (!Token.isUnresolved(region) && region !== 'us-east-1') {
      Annotations.of(this).addInfo(`CloudFront access logs need the stack in us-east-1 (this one is in ${region}); S3 server access logs are still written.`);
      return;
    }
    const condition = Token.isUnresolved(region)
      ? new CfnCondition(this, 'InUsEast1', { expression: Fn.conditionEquals(Aws.REGION, 'us-east-1') })
      : undefined;
    const name = (suffix: string) => `${Names.uniqueResourceName(this, { maxLength: 50, separator: '-' })}-${suffix}`;

    this.logsBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudFrontLogDeliveryWrite',
      principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [this.logsBucket.arnForObjects(`AWSLogs/${Aws.ACCOUNT_ID}/*`)],
      conditions: {
        StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:us-east-1:${Aws.ACCOUNT_ID}:delivery-source:*` },
      },
    }));
    this.logsBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudFrontLogDeliveryAclCheck',
      principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
      actions: ['s3:GetBucketAcl', 's3:ListBucket'],
      resources: [this.logsBucket.bucketArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:us-east-1:${Aws.ACCOUNT_ID}:delivery-source:*` },
      },
    }));

    const source = new logs.CfnDeliverySource(this, 'AccessLogSource', {
      name: name('cf-src'),
      logType: 'ACCESS_LOGS',
      resourceArn: this.distributionArn,
    });
    const destination = new logs.CfnDeliveryDestination(this, 'AccessLogDestination', {
      name: name('cf-dst'),
      destinationResourceArn: this.logsBucket.bucketArn,
      outputFormat: 'parquet',
    });
    const delivery = new logs.CfnDelivery(this, 'AccessLogDelivery', {
      deliverySourceName: source.ref,
      deliveryDestinationArn: destination.attrArn,
    });
    // Delivery checks its write access when created: the bucket policy must exist first.
    if (this.logsBucket.policy) delivery.node.addDependency(this.logsBucket.policy);
    for (const resource of [source, destination, delivery]) {
      if (condition) resource.cfnOptions.condition = condition;
    }
  }

  /**
   * Keeps what running clusters depend on when the stack is deleted: the buckets always; and, with
   * the CloudFront default domain (which can never be recreated), the distribution with the
   * policies it uses, so that already-issued tokens keep verifying until the operator migrates.
   */
  private retainIssuer(defaultDomain: boolean): void {
    for (const bucket of [this.documentsBucket, this.privateBucket, this.logsBucket]) bucket.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (!defaultDomain) return;
    this.distribution.applyRemovalPolicy(RemovalPolicy.RETAIN);
    for (const child of this.node.findAll()) {
      if (child instanceof CfnResource && ['AWS::CloudFront::OriginAccessControl', 'AWS::CloudFront::CachePolicy', 'AWS::CloudFront::ResponseHeadersPolicy'].includes(child.cfnResourceType)) {
        child.applyRemovalPolicy(RemovalPolicy.RETAIN);
      }
    }
    this.documentsBucket.policy?.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}

/** Protections shared by every bucket of the site. */
function privateBucketDefaults(): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/** The host part of an https URL without port or path. */
function hostOf(url: string): string {
  return url.replace(/^https:\/\//, '').replace(/[/:?#].*$/, '');
}
