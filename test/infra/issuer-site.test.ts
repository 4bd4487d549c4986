import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { CLOUDFRONT_DEFAULT_DOMAIN_WARNING_ID, IssuerSite, PRIVATE_BUCKET_LAYOUT } from '../../lib/constructs/issuer-site';
import type { ClusterOidcStack } from '../../lib/cluster-oidc-stack';
import { CONFIG_DEFAULTS } from '../../core/config-schema';
import { bareTestApp, CUSTOM_ISSUER, defaultDomainCluster, fullCluster, resourcesOf, synthCluster } from './support/synth';
import type { Json, SynthesizedCluster } from './support/synth';

const logicalId = (stack: ClusterOidcStack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const objectArn = (bucketId: string, key: string) => ({ 'Fn::Join': ['', [getAtt(bucketId, 'Arn'), `/${key}`]] });

function bucketPolicyStatements(template: Template, bucketId: string): Json[] {
  const policies = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy'))
    .filter((policy) => JSON.stringify((policy.Properties as Json).Bucket) === JSON.stringify({ Ref: bucketId }));
  expect(policies).toHaveLength(1);
  return ((policies[0].Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
}

let custom: SynthesizedCluster;
let defaultDomain: SynthesizedCluster;
beforeAll(() => {
  custom = synthCluster(fullCluster());
  defaultDomain = synthCluster(defaultDomainCluster());
});

describe('IssuerSite buckets', () => {
  test('three private buckets: all four Block Public Access settings, no ACLs, encryption, retained', () => {
    const buckets = resourcesOf(custom.template, 'AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.UpdateReplacePolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      });
      expect(JSON.stringify(bucket.Properties)).not.toMatch(/AccessControl|BucketOwnerPreferred|ObjectWriter/);
    }
  });

  test('documents and private buckets are versioned, expire old versions and log to the logs bucket', () => {
    const { stack, template } = custom;
    const logsId = logicalId(stack, stack.issuerSite.logsBucket);
    for (const [bucket, prefix] of [[stack.issuerSite.documentsBucket, 'documents-bucket/'], [stack.issuerSite.privateBucket, 'private-bucket/']] as const) {
      template.hasResource('AWS::S3::Bucket', {
        Properties: Match.objectLike({
          VersioningConfiguration: { Status: 'Enabled' },
          LifecycleConfiguration: { Rules: [Match.objectLike({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 90 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })] },
          LoggingConfiguration: { DestinationBucketName: { Ref: logsId }, LogFilePrefix: prefix },
        }),
      });
      expect(logicalId(stack, bucket)).toBeDefined();
    }
  });

  test.each(['documentsBucket', 'privateBucket', 'logsBucket'] as const)('%s denies plain HTTP and TLS below 1.2', (name) => {
    const { stack, template } = custom;
    const id = logicalId(stack, stack.issuerSite[name]);
    const statements = bucketPolicyStatements(template, id);
    const everything = [getAtt(id, 'Arn'), { 'Fn::Join': ['', [getAtt(id, 'Arn'), '/*']] }];
    expect(statements).toEqual(expect.arrayContaining([
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: everything, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: everything, Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } },
    ]));
  });
});

describe('IssuerSite CloudFront access to the documents', () => {
  test.each([['custom domain', () => custom], ['default domain', () => defaultDomain]])(
    'with a %s, only this distribution reads only the three document keys',
    (_, synthesized) => {
      const { stack, template } = synthesized();
      const documentsId = logicalId(stack, stack.issuerSite.documentsBucket);
      const distributionId = logicalId(stack, stack.issuerSite.distribution);
      const cloudFrontStatements = bucketPolicyStatements(template, documentsId).filter((s) => JSON.stringify(s.Principal).includes('cloudfront'));
      const prefix = stack === custom.stack ? 'cluster-a/' : '';
      expect(cloudFrontStatements).toEqual([{
        Sid: 'CloudFrontReadsOnlyTheDiscoveryDocuments',
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: [
          objectArn(documentsId, `${prefix}.well-known/jwks.json`),
          objectArn(documentsId, `${prefix}.well-known/openid-configuration`),
          objectArn(documentsId, `${prefix}openid/v1/jwks`),
        ],
        Condition: { StringEquals: { 'AWS:SourceArn': expect.objectContaining({ 'Fn::Join': ['', expect.arrayContaining([{ Ref: distributionId }])] }) } },
      }]);
      const sourceArn = JSON.stringify((cloudFrontStatements[0].Condition as Json).StringEquals);
      expect(sourceArn).toContain(':cloudfront::');
      expect(sourceArn).toContain(':distribution/');
    },
  );

  test('CloudFront has no grant at all on the private and logs buckets', () => {
    const { stack, template } = custom;
    for (const bucket of [stack.issuerSite.privateBucket, stack.issuerSite.logsBucket]) {
      const statements = bucketPolicyStatements(template, logicalId(stack, bucket));
      expect(JSON.stringify(statements)).not.toContain('cloudfront.amazonaws.com');
    }
  });

  test('the origin uses Origin Access Control (SigV4 always), never an OAI or a website endpoint', () => {
    const { stack, template } = custom;
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: { OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    });
    template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Origins: [{
          Id: Match.anyValue(),
          DomainName: getAtt(logicalId(stack, stack.issuerSite.documentsBucket), 'RegionalDomainName'),
          OriginAccessControlId: getAtt(logicalId(stack, stack.issuerSite.node.findChild('OriginAccessControl')), 'Id'),
          S3OriginConfig: { OriginAccessIdentity: '' },
        }],
      }),
    });
  });

  test('HTTPS only (no redirect), GET and HEAD only, documents cache and security headers', () => {
    const { stack, template } = custom;
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'https-only',
          AllowedMethods: ['GET', 'HEAD'],
          CachedMethods: ['GET', 'HEAD'],
          CachePolicyId: { Ref: logicalId(stack, stack.issuerSite.node.findChild('DocumentsCache')) },
          ResponseHeadersPolicyId: { Ref: logicalId(stack, stack.issuerSite.node.findChild('ResponseHeaders')) },
        }),
      }),
    });
  });

  test('the cache policy honours the documents\' Cache-Control (min 0) and caps it at one hour', () => {
    custom.template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        MinTTL: 0,
        DefaultTTL: 60,
        MaxTTL: 3600,
        ParametersInCacheKeyAndForwardedToOrigin: Match.objectLike({
          CookiesConfig: { CookieBehavior: 'none' },
          HeadersConfig: { HeaderBehavior: 'none' },
          QueryStringsConfig: { QueryStringBehavior: 'none' },
        }),
      }),
    });
  });

  test('the response-headers policy sets HSTS, nosniff, DENY framing, no referrer and a deny-all CSP', () => {
    custom.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: {
          StrictTransportSecurity: { AccessControlMaxAgeSec: 63072000, IncludeSubdomains: false, Override: true },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
          ContentSecurityPolicy: { ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'", Override: true },
        },
      }),
    });
  });
});

describe('IssuerSite domains', () => {
  test('a custom domain gets the certificate, TLS 1.2 minimum, SNI, and A/AAAA aliases in its zone', () => {
    const { stack, template } = custom;
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['oidc.example.com'],
        ViewerCertificate: { AcmCertificateArn: CUSTOM_ISSUER.certificateArn, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      }),
    });
    const distributionId = logicalId(stack, stack.issuerSite.distribution);
    for (const type of ['A', 'AAAA']) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Type: type,
        Name: 'oidc.example.com.',
        HostedZoneId: CUSTOM_ISSUER.hostedZoneId,
        AliasTarget: { DNSName: getAtt(distributionId, 'DomainName'), HostedZoneId: Match.anyValue() },
      });
    }
  });

  test('the default domain has no aliases and no DNS records', () => {
    const distribution = Object.values(resourcesOf(defaultDomain.template, 'AWS::CloudFront::Distribution'))[0];
    expect(JSON.stringify(distribution)).not.toMatch(/Aliases|ViewerCertificate/);
    defaultDomain.template.resourceCountIs('AWS::Route53::RecordSet', 0);
  });

  test('the issuer derives from the distribution domain token when no custom domain is given', () => {
    const { stack } = defaultDomain;
    const distributionId = logicalId(stack, stack.issuerSite.distribution);
    expect(stack.resolve(stack.issuerSite.issuerUrl)).toEqual({ 'Fn::Join': ['', ['https://', getAtt(distributionId, 'DomainName')]] });
    expect(stack.resolve(stack.issuerSite.issuerHostPath)).toEqual(getAtt(distributionId, 'DomainName'));
    expect(stack.resolve(stack.issuerSite.jwksUri)).toEqual({ 'Fn::Join': ['', ['https://', getAtt(distributionId, 'DomainName'), '/openid/v1/jwks']] });
    expect([stack.issuerSite.discoveryKey, stack.issuerSite.jwksKey]).toEqual(['.well-known/openid-configuration', 'openid/v1/jwks']);
  });

  test('a custom issuer with a path prefixes the document keys with it', () => {
    const site = custom.stack.issuerSite;
    expect([site.issuerUrl, site.issuerHostPath, site.jwksUri]).toEqual([
      'https://oidc.example.com/cluster-a', 'oidc.example.com/cluster-a', 'https://oidc.example.com/cluster-a/openid/v1/jwks',
    ]);
    expect([site.discoveryKey, site.jwksKey]).toEqual(['cluster-a/.well-known/openid-configuration', 'cluster-a/openid/v1/jwks']);
  });
});

describe('IssuerSite issuer stability', () => {
  test('the distribution, its policies and the documents bucket policy are retained with the default domain', () => {
    const { template } = defaultDomain;
    for (const type of ['AWS::CloudFront::Distribution', 'AWS::CloudFront::OriginAccessControl', 'AWS::CloudFront::CachePolicy', 'AWS::CloudFront::ResponseHeadersPolicy']) {
      for (const resource of Object.values(resourcesOf(template, type))) expect(resource.DeletionPolicy).toBe('Retain');
    }
    const { stack } = defaultDomain;
    const documentsPolicy = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy'))
      .find((p) => JSON.stringify((p.Properties as Json).Bucket) === JSON.stringify({ Ref: logicalId(stack, stack.issuerSite.documentsBucket) }));
    expect(documentsPolicy?.DeletionPolicy).toBe('Retain');
  });

  test('later config changes keep the logical ids of the distribution and buckets (no replacement)', () => {
    const changed = defaultDomainCluster();
    changed.audiences = ['sts.amazonaws.com', 'extra.example.com'];
    changed.serviceAccountRoles = [];
    changed.sync = { scheduleMinutes: 15, cacheMaxAgeSeconds: 60 };
    changed.verifyApi = { enabled: false };
    changed.keySources = { upload: { enabled: true, writerArns: ['arn:aws:iam::123456789012:role/Other'] } };
    const after = synthCluster(changed);
    const ids = (s: SynthesizedCluster) => Object.keys(resourcesOf(s.template, 'AWS::CloudFront::Distribution'))
      .concat(Object.keys(resourcesOf(s.template, 'AWS::S3::Bucket')), Object.keys(resourcesOf(s.template, 'AWS::IAM::OIDCProvider'))).sort();
    expect(ids(after)).toEqual(ids(defaultDomain));
    expect(ids(after)).toHaveLength(5);
  });
});

describe('IssuerSite access logs without ACLs', () => {
  test('CloudFront standard logging v2 delivers to the logs bucket, with no legacy (ACL) logging', () => {
    const { stack, template } = custom;
    const logsId = logicalId(stack, stack.issuerSite.logsBucket);
    template.hasResourceProperties('AWS::Logs::DeliverySource', {
      LogType: 'ACCESS_LOGS',
      ResourceArn: { 'Fn::Join': ['', ['arn:aws:cloudfront::123456789012:distribution/', { Ref: logicalId(stack, stack.issuerSite.distribution) }]] },
    });
    template.hasResourceProperties('AWS::Logs::DeliveryDestination', { DestinationResourceArn: getAtt(logsId, 'Arn') });
    template.resourceCountIs('AWS::Logs::Delivery', 1);
    const distribution = Object.values(resourcesOf(template, 'AWS::CloudFront::Distribution'))[0];
    expect(JSON.stringify(distribution)).not.toContain('"Logging"');
    expect(bucketPolicyStatements(template, logsId)).toEqual(expect.arrayContaining([
      expect.objectContaining({ Sid: 'CloudFrontLogDeliveryWrite', Principal: { Service: 'delivery.logs.amazonaws.com' }, Action: 's3:PutObject' }),
    ]));
  });

  test('in an environment-agnostic stack the log delivery exists only when deployed in us-east-1', () => {
    const { template } = defaultDomain;
    const conditions = Object.entries(template.toJSON().Conditions as Record<string, Json>);
    expect(conditions).toHaveLength(1);
    const [conditionId, condition] = conditions[0];
    expect(condition).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
    for (const type of ['AWS::Logs::DeliverySource', 'AWS::Logs::DeliveryDestination', 'AWS::Logs::Delivery']) {
      for (const resource of Object.values(resourcesOf(template, type))) expect(resource.Condition).toBe(conditionId);
    }
  });

  test('a stack pinned to another region has no CloudFront log delivery', () => {
    const elsewhere = fullCluster();
    elsewhere.env = { account: '123456789012', region: 'eu-west-1' };
    const { template } = synthCluster(elsewhere);
    template.resourceCountIs('AWS::Logs::DeliverySource', 0);
  });
});

test('the private bucket layout matches docs/architecture.md', () => {
  expect(PRIVATE_BUCKET_LAYOUT).toEqual({
    keyPrefix: 'keys/',
    controlPrefix: 'control/',
    denyListKey: 'control/deny-list.json',
    statePrefix: 'state/',
    stateKey: 'state/rotation.json',
  });
});

describe('IssuerSite documents bucket and error caching (issue 12 §3, §5)', () => {
  const siteTemplate = (props: ConstructorParameters<typeof IssuerSite>[2] = {}, writer?: string) => {
    const stack = new Stack(bareTestApp(), 'Bare', { env: { account: '123456789012', region: 'us-east-1' } });
    const site = new IssuerSite(stack, 'Site', props);
    if (writer) site.allowDocumentWriter(writer);
    return { stack, site, template: Template.fromStack(stack) };
  };
  const denyOf = (template: Template, stack: Stack, site: IssuerSite) => bucketPolicyStatements(template, stack.getLogicalId(site.documentsBucket.node.defaultChild as CfnElement))
    .find((statement) => statement.Sid === 'OnlyTheSyncWritesTheDocuments');

  test('break-glass documentWriterArns and registered writers are the only exceptions to the write deny', () => {
    const breakGlass = 'arn:aws:iam::123456789012:role/BreakGlass';
    const sync = 'arn:aws:iam::123456789012:role/Sync';
    const { stack, site, template } = siteTemplate({ documentWriterArns: [breakGlass] }, sync);
    expect(denyOf(template, stack, site)).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: expect.arrayContaining(['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectAcl']),
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [breakGlass, sync] } },
    });
  });

  test('with no writer at all, nobody is exempt (the placeholder cannot be a role name)', () => {
    const { stack, site, template } = siteTemplate();
    const exempt = JSON.stringify((denyOf(template, stack, site)?.Condition as Json).ArnNotEquals);
    expect(exempt).toContain(':role/kube-oidc-no-document-writer-registered');
    expect(/:role\/([^"]+)/.exec(exempt)![1].length).toBeGreaterThan(64);
  });

  test('CloudFront caches no origin error by default: every cached 4xx/5xx code has an error caching TTL of 0', () => {
    const errorResponses = (template: Template) => (Object.values(resourcesOf(template, 'AWS::CloudFront::Distribution'))[0].Properties as { DistributionConfig: { CustomErrorResponses: Json[] } })
      .DistributionConfig.CustomErrorResponses;
    const codes = [400, 403, 404, 405, 414, 500, 501, 502, 503, 504];
    expect(errorResponses(siteTemplate().template)).toEqual(codes.map((ErrorCode) => ({ ErrorCode, ErrorCachingMinTTL: 0 })));
    expect(errorResponses(siteTemplate({ errorCachingTtlSeconds: 5 }).template)).toEqual(codes.map((ErrorCode) => ({ ErrorCode, ErrorCachingMinTTL: 5 })));
    for (const bad of [-1, 1.5, 31_536_001]) expect(() => siteTemplate({ errorCachingTtlSeconds: bad })).toThrow(/errorCachingTtlSeconds/);
  });

  test('the cluster stacks take it, and the break-glass writers, from the configuration', () => {
    const ttl = CONFIG_DEFAULTS.errorCachingTtlSeconds;
    for (const { template } of [custom, defaultDomain]) {
      template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({ CustomErrorResponses: Match.arrayWith([{ ErrorCode: 403, ErrorCachingMinTTL: ttl }, { ErrorCode: 404, ErrorCachingMinTTL: ttl }]) }),
      });
    }
    const breakGlass = 'arn:aws:iam::123456789012:role/BreakGlass';
    const { stack, template } = synthCluster({ ...fullCluster(), issuerSite: { documentWriterArns: [breakGlass], errorCachingTtlSeconds: 30 } });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ CustomErrorResponses: Match.arrayWith([{ ErrorCode: 503, ErrorCachingMinTTL: 30 }]) }),
    });
    const deny = bucketPolicyStatements(template, logicalId(stack, stack.issuerSite.documentsBucket)).find((statement) => statement.Sid === 'OnlyTheSyncWritesTheDocuments');
    expect(deny?.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': [breakGlass, { 'Fn::GetAtt': [logicalId(stack, stack.jwksSync.role), 'Arn'] }] } });
  });
});

describe('CloudFront default domain warning', () => {
  test('synth warns when the issuer is the CloudFront default domain, and names the fix', () => {
    const annotations = Annotations.fromStack(defaultDomain.stack);
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('The issuer is the CloudFront default domain'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].id).toBe(`/${defaultDomain.stack.stackName}/IssuerSite`);
    expect(String(warnings[0].entry.data)).toContain(`[ack: ${CLOUDFRONT_DEFAULT_DOMAIN_WARNING_ID}]`);
    expect(String(warnings[0].entry.data)).toContain('if the distribution is ever replaced or deleted, the issuer changes');
    expect(String(warnings[0].entry.data)).toContain('"issuer": {"url": ...}');
  });

  test('no such warning with a custom domain', () => {
    expect(Annotations.fromStack(custom.stack).findWarning('*', Match.stringLikeRegexp('CloudFront default domain'))).toHaveLength(0);
  });
});
