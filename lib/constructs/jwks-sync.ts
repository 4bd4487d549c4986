import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { documentPaths } from '../../core/documents';
import type { JwksDocument } from '../../core/documents';
import { SYNC_METRICS } from '../../core/metrics';
import { acknowledgeNag } from '../private/nag';
import { ProjectFunction } from '../private/node-function';
import { PRIVATE_BUCKET_LAYOUT } from './issuer-site';

/** Default CloudWatch namespace of the sync's EMF metrics (the handler's fallback too). */
export const DEFAULT_METRICS_NAMESPACE = 'KubeOidc';

/** The EMF metrics the sync handler emits, without dimensions (shared with the handler). */
export { SYNC_METRICS };

/** The cluster's own JWKS endpoint as a key source. */
export interface ClusterJwksEndpoint {
  /** `https://APISERVER/openid/v1/jwks`. */
  readonly url: string;
  /**
   * PEM CA bundle to trust for the endpoint.
   * @default - the public roots bundled with Node.js
   */
  readonly caBundlePem?: string;
  /**
   * Secret holding a bearer token for the endpoint; the sync may read only this secret.
   * @default - no token (or tokenParameter)
   */
  readonly tokenSecret?: secretsmanager.ISecret;
  /**
   * SecureString parameter holding a bearer token; the sync may read only this parameter.
   * @default - no token (or tokenSecret)
   */
  readonly tokenParameter?: ssm.IParameter;
  /**
   * Run the sync in these subnets (the endpoint is private). The subnets need a route to S3 and
   * CloudFront's API (a NAT gateway: CloudFront has no VPC endpoint).
   * @default - not in a VPC
   */
  readonly vpcPlacement?: { readonly vpc: ec2.IVpc; readonly subnets: ec2.ISubnet[]; readonly securityGroups: ec2.ISecurityGroup[] };
}

/** Properties of {@link JwksSync}. */
export interface JwksSyncProps {
  /** The issuer URL (may be a deploy-time token). */
  readonly issuerUrl: string;
  readonly documentsBucket: s3.IBucket;
  /**
   * The document keys the sync may write: the discovery document, the JWKS and its
   * `/.well-known/jwks.json` copy (derived from the issuer when not given).
   */
  readonly documentKeys: { readonly discoveryKey: string; readonly jwksKey: string; readonly jwksAliasKey?: string };
  readonly privateBucket: s3.IBucket;
  /** The distribution to invalidate after a change. */
  readonly distributionId: string;
  readonly distributionArn: string;
  /** Where failures, staleness and new key ids are announced. */
  readonly alarmTopic: sns.ITopic;
  /**
   * Read uploaded keys under `keys/` of the private bucket (and sync as soon as one is uploaded).
   * @default false
   */
  readonly uploadsEnabled?: boolean;
  /**
   * The only principals that may write `keys/` and `control/` of the private bucket (besides the
   * sync role); everyone else is denied by the bucket policy.
   * @default - nobody
   */
  readonly writerArns?: readonly string[];
  /**
   * Keys given in the configuration, published from the first deployment on.
   * @default - none
   */
  readonly configJwks?: JwksDocument;
  /**
   * The cluster's JWKS endpoint.
   * @default - not used
   */
  readonly clusterJwks?: ClusterJwksEndpoint;
  /**
   * How often the sync runs (besides uploads and deployments).
   * @default Duration.minutes(5)
   */
  readonly schedule?: Duration;
  /**
   * How long a retired key stays published; must cover the longest token lifetime.
   * @default Duration.days(1)
   */
  readonly gracePeriod?: Duration;
  /**
   * `Cache-Control: max-age` of the documents.
   * @default Duration.minutes(5)
   */
  readonly cacheMaxAge?: Duration;
  /**
   * Also publish each key with `kid: ""`.
   * @default false
   */
  readonly kidlessCompat?: boolean;
  /**
   * CloudWatch namespace of the handler's EMF metrics; give each cluster its own.
   * @default 'KubeOidc'
   */
  readonly metricsNamespace?: string;
  /**
   * Run the sync once at every deployment that changes the function (asynchronously, so a
   * failing source cannot fail the deployment).
   * @default true
   */
  readonly runOnDeploy?: boolean;
}

/**
 * The scheduled JWKS sync: a Lambda that publishes the cluster's current keys to the documents
 * bucket, run every few minutes, at once when a key is uploaded or the deny list changes, and at
 * deployment. IAM is scoped to exact objects; alarms go to the alarm topic.
 */
export class JwksSync extends Construct {
  /** The sync Lambda. */
  readonly function: lambda.Function;
  /** Its role, scoped to exact objects. */
  readonly role: iam.Role;
  /** Its log group (one structured line per run). */
  readonly logGroup: logs.LogGroup;
  /** The EventBridge schedule. */
  readonly schedule: events.Rule;
  /** The alarms, all sent to the alarm topic. */
  readonly alarms: {
    readonly errors: cloudwatch.Alarm;
    readonly failedRun: cloudwatch.Alarm;
    readonly stale: cloudwatch.Alarm;
    readonly newKids: cloudwatch.Alarm;
    readonly refusedPrivateKeys: cloudwatch.Alarm;
    readonly sourceFailing: cloudwatch.Alarm;
    readonly kidConflict: cloudwatch.Alarm;
    readonly documentsTampered: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: JwksSyncProps) {
    super(scope, id);
    const uploadsEnabled = props.uploadsEnabled ?? false;
    const scheduleRate = props.schedule ?? Duration.minutes(5);
    const metricsNamespace = props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
    const layout = PRIVATE_BUCKET_LAYOUT;
    const endpoint = props.clusterJwks;

    const environment: Record<string, string> = {
      ISSUER_URL: props.issuerUrl,
      DOCUMENTS_BUCKET: props.documentsBucket.bucketName,
      PRIVATE_BUCKET: props.privateBucket.bucketName,
      KEY_PREFIX: uploadsEnabled ? layout.keyPrefix : '',
      STATE_KEY: layout.stateKey,
      DENY_LIST_KEY: layout.denyListKey,
      DISTRIBUTION_ID: props.distributionId,
      GRACE_PERIOD_SECONDS: String((props.gracePeriod ?? Duration.days(1)).toSeconds()),
      CACHE_MAX_AGE_SECONDS: String((props.cacheMaxAge ?? Duration.minutes(5)).toSeconds()),
      KIDLESS_COMPAT: String(props.kidlessCompat ?? false),
      CONFIG_JWKS: JSON.stringify(props.configJwks ?? { keys: [] }),
      ALARM_TOPIC_ARN: props.alarmTopic.topicArn,
      METRICS_NAMESPACE: metricsNamespace,
      ...(endpoint ? { CLUSTER_JWKS_URL: endpoint.url } : {}),
      ...(endpoint?.caBundlePem ? { CLUSTER_CA_BUNDLE: endpoint.caBundlePem } : {}),
      ...(endpoint?.tokenSecret ? { CLUSTER_TOKEN_SECRET_ARN: endpoint.tokenSecret.secretArn } : {}),
      ...(endpoint?.tokenParameter ? { CLUSTER_TOKEN_PARAMETER_NAME: endpoint.tokenParameter.parameterName } : {}),
    };

    const fn = new ProjectFunction(this, 'Handler', {
      bundle: 'jwks-sync',
      description: 'Publishes the cluster service-account keys as OIDC discovery documents',
      environment,
      timeout: Duration.seconds(30),
      memorySize: 256,
      logRetention: logs.RetentionDays.ONE_YEAR,
      ...(endpoint?.vpcPlacement ? { vpc: endpoint.vpcPlacement } : {}),
    });
    this.function = fn.function;
    this.role = fn.role;
    this.logGroup = fn.logGroup;
    if (endpoint?.vpcPlacement) {
      acknowledgeNag(this.role, 'AwsSolutions-IAM5[Resource::*]', 'Lambda VPC placement needs ENI actions that support no resource-level permissions.');
    }

    this.grantExactAccess(props, uploadsEnabled);
    this.guardPrivateBucket(props);

    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Runs the JWKS sync',
      schedule: events.Schedule.rate(scheduleRate),
      targets: [new eventTargets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });

    const destination = new s3n.LambdaDestination(this.function);
    if (uploadsEnabled) {
      props.privateBucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, { prefix: layout.keyPrefix });
      props.privateBucket.addEventNotification(s3.EventType.OBJECT_REMOVED, destination, { prefix: layout.keyPrefix });
    }
    // A revoked kid must leave the JWKS now, not at the next scheduled run.
    props.privateBucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, { prefix: layout.denyListKey });
    acknowledgeBucketNotificationsHandler(this);

    if (props.runOnDeploy ?? true) {
      new triggers.Trigger(this, 'RunOnDeploy', {
        handler: this.function,
        invocationType: triggers.InvocationType.EVENT,
        executeOnHandlerChange: true,
        executeAfter: [props.documentsBucket, props.privateBucket],
      });
      // The trigger provider invokes `${functionArn}:*` through its own role policy, which covers
      // the version: no resource policy on the version is needed.
      Annotations.of(this.function).acknowledgeWarning('@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
        'Only the deploy-time trigger invokes the version, through its role policy on the function\'s qualified ARNs.');
    }

    this.alarms = this.createAlarms(props.alarmTopic, metricsNamespace, scheduleRate);
  }

  /** Every permission the sync has, each on exact ARNs. */
  private grantExactAccess(props: JwksSyncProps, uploadsEnabled: boolean): void {
    const layout = PRIVATE_BUCKET_LAYOUT;
    const privateReads = [layout.stateKey, layout.denyListKey].map((key) => props.privateBucket.arnForObjects(key));
    if (uploadsEnabled) privateReads.push(props.privateBucket.arnForObjects(`${layout.keyPrefix}*`));
    const jwksAliasKey = props.documentKeys.jwksAliasKey ?? documentPaths(props.issuerUrl).jwksAliasKey;
    const documents = [props.documentKeys.discoveryKey, props.documentKeys.jwksKey, jwksAliasKey].map((key) => props.documentsBucket.arnForObjects(key));

    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadKeysStateAndDenyList',
      actions: ['s3:GetObject'],
      resources: [...privateReads, ...documents],
    }));
    if (uploadsEnabled) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'ListUploadedKeys',
        actions: ['s3:ListBucket'],
        resources: [props.privateBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [layout.keyPrefix, `${layout.keyPrefix}*`] } },
      }));
      acknowledgeNag(this.role, `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(props.privateBucket)}.Arn>/${layout.keyPrefix}*]`,
        'Operators upload keys under any name below keys/; the sync reads that prefix only.');
    }
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'WriteTheDocumentsAndState',
      actions: ['s3:PutObject'],
      resources: [...documents, props.privateBucket.arnForObjects(layout.stateKey)],
    }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'InvalidateTheIssuerDistribution',
      actions: ['cloudfront:CreateInvalidation'],
      resources: [props.distributionArn],
    }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'AnnounceOnTheAlarmTopic',
      actions: ['sns:Publish'],
      resources: [props.alarmTopic.topicArn],
    }));
    if (props.alarmTopic.masterKey) {
      // Publishing to an encrypted topic: SNS asks KMS for a data key on the publisher's behalf.
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'EncryptAnnouncementsWithTheTopicKey',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.alarmTopic.masterKey.keyArn],
      }));
    }
    const endpoint = props.clusterJwks;
    if (endpoint?.tokenSecret) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'ReadTheClusterTokenSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [endpoint.tokenSecret.secretArn],
      }));
    }
    if (endpoint?.tokenParameter) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'ReadTheClusterTokenParameter',
        actions: ['ssm:GetParameter'],
        resources: [endpoint.tokenParameter.parameterArn],
      }));
    }
  }

  /**
   * Only the named writers (and the sync) may change keys and control objects, and only the sync
   * may change its state: whoever can add a key can mint tokens for every role.
   */
  private guardPrivateBucket(props: JwksSyncProps): void {
    const layout = PRIVATE_BUCKET_LAYOUT;
    const writes = ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'];
    const writers = [...(props.writerArns ?? [])];
    props.privateBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'OnlyNamedWritersChangeKeysAndControl',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: writes,
      resources: [props.privateBucket.arnForObjects(`${layout.keyPrefix}*`), props.privateBucket.arnForObjects(`${layout.controlPrefix}*`)],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': [...writers, this.role.roleArn] } },
    }));
    props.privateBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'OnlyTheSyncChangesState',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: writes,
      resources: [props.privateBucket.arnForObjects(`${layout.statePrefix}*`)],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': [this.role.roleArn] } },
    }));
    if (writers.length > 0) {
      props.privateBucket.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'NamedWritersManageKeysAndControl',
        principals: writers.map((arn) => new iam.ArnPrincipal(arn)),
        actions: [...writes, 's3:GetObject'],
        resources: [props.privateBucket.arnForObjects(`${layout.keyPrefix}*`), props.privateBucket.arnForObjects(`${layout.controlPrefix}*`)],
      }));
      props.privateBucket.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'NamedWritersListKeysAndControl',
        principals: writers.map((arn) => new iam.ArnPrincipal(arn)),
        actions: ['s3:ListBucket'],
        resources: [props.privateBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${layout.keyPrefix}*`, `${layout.controlPrefix}*`] } },
      }));
    }
  }

  private createAlarms(topic: sns.ITopic, namespace: string, scheduleRate: Duration): JwksSync['alarms'] {
    const period = scheduleRate;
    const action = new cwActions.SnsAction(topic);
    const metric = (metricName: string, statistic: string) => new cloudwatch.Metric({ namespace, metricName, statistic, period });
    const staleAfterSeconds = Math.max(3 * scheduleRate.toSeconds(), 900);

    const errors = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription: 'The JWKS sync Lambda failed (error or timeout): the published keys may be out of date.',
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const failedRun = new cloudwatch.Alarm(this, 'FailedRunAlarm', {
      alarmDescription: 'A JWKS sync run failed (every source failed, or the result would have been empty): the last good documents are kept.',
      metric: metric(SYNC_METRICS.outcome, 'Minimum'),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const stale = new cloudwatch.Alarm(this, 'StaleAlarm', {
      alarmDescription: `The published documents have not been confirmed current for more than ${staleAfterSeconds} s, or the sync stopped reporting.`,
      metric: metric(SYNC_METRICS.secondsSinceLastPublish, 'Maximum'),
      threshold: staleAfterSeconds,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No data means the sync is not running at all: that is staleness too.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const newKids = new cloudwatch.Alarm(this, 'NewKidsAlarm', {
      alarmDescription: 'A new key id was published: check that the key rotation was expected.',
      metric: metric(SYNC_METRICS.newKids, 'Sum'),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const refusedPrivateKeys = new cloudwatch.Alarm(this, 'RefusedPrivateKeysAlarm', {
      alarmDescription: 'A private key was uploaded under keys/ and refused: treat it as leaked, rotate it, and delete the object.',
      metric: metric(SYNC_METRICS.refusedPrivateKeys, 'Sum'),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const sourceFailing = new cloudwatch.Alarm(this, 'SourceFailingAlarm', {
      alarmDescription: 'A key source has failed in every run for three schedule periods while others work: its keys stay published, but a rotation there would go unseen.',
      metric: metric(SYNC_METRICS.failedSources, 'Minimum'),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const kidConflict = new cloudwatch.Alarm(this, 'KidConflictAlarm', {
      alarmDescription: 'Key material was offered under a kid already bound to other material (or one new kid with two materials) and refused: someone may be substituting a signing key. Find who wrote the objects named in the alarm-topic message and remove them.',
      metric: metric(SYNC_METRICS.kidConflicts, 'Maximum'),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const documentsTampered = new cloudwatch.Alarm(this, 'DocumentsTamperedAlarm', {
      alarmDescription: 'A published document was changed by someone other than the sync (and restored): check the documents bucket\'s access logs and policy.',
      metric: metric(SYNC_METRICS.documentsTampered, 'Sum'),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [errors, failedRun, stale, refusedPrivateKeys, sourceFailing, kidConflict, documentsTampered]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    newKids.addAlarmAction(action);
    return { errors, failedRun, stale, newKids, refusedPrivateKeys, sourceFailing, kidConflict, documentsTampered };
  }

  private logicalIdOf(bucket: s3.IBucket): string {
    const cfn = bucket.node.defaultChild;
    return cfn ? Stack.of(this).getLogicalId(cfn as s3.CfnBucket) : bucket.node.id;
  }
}

/** The singleton Lambda aws-cdk-lib uses to write S3 bucket notifications (not ours to change). */
function acknowledgeBucketNotificationsHandler(scope: Construct): void {
  const handler = Stack.of(scope).node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
  if (!handler) return;
  acknowledgeNag(handler, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'aws-cdk-lib\'s own bucket-notifications handler; it only writes this stack\'s bucket notification configuration.');
}
