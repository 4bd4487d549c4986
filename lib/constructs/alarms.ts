import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Properties of {@link Alarms}. */
export interface AlarmsProps {
  /**
   * E-mail addresses subscribed to the topic (each must confirm the subscription).
   * @default - no subscriptions: subscribe a pager or chat integration to `topic` yourself
   */
  readonly emails?: readonly string[];
  /**
   * Display name of the topic, shown as the sender of e-mails.
   * @default - 'Kube OIDC alarms'
   */
  readonly displayName?: string;
}

/**
 * The SNS topic every alarm and announcement of a cluster goes to: failed or stale JWKS syncs,
 * newly published key ids, refused private keys, kid conflicts, tampered documents, Lambda errors.
 *
 * The topic is encrypted at rest with a customer managed KMS key (rotated yearly): the messages
 * name key ids, bucket objects and principals an attacker would like to see. The AWS managed SNS
 * key cannot be used, because its policy cannot be changed to let CloudWatch alarms use it: the
 * key policy here lets `cloudwatch.amazonaws.com` use the key for alarms of this account and
 * region only, and IAM principals of the account (the sync's role, through its own policy) the rest.
 */
export class Alarms extends Construct {
  /** The alarm topic. */
  readonly topic: sns.Topic;
  /** The customer managed key the topic is encrypted with. */
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlarmsProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the Kube OIDC alarm topic',
      enableKeyRotation: true,
      // A deleted key would make the topic's stored messages unreadable; keep it with the stack's other retained data.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to an encrypted topic only when the key lets them; AWS documents the
    // source conditions for this case (SNS developer guide, "sns-key-management", compatibility with AWS services).
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsOfThisAccountEncrypt',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Stack.of(this).region}:${Stack.of(this).account}:alarm:*` },
      },
    }));
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName ?? 'Kube OIDC alarms',
      enforceSSL: true,
      masterKey: this.key,
    });
    // CloudWatch alarms publish as the cloudwatch.amazonaws.com service; scoping by source
    // account keeps other accounts' alarms out.
    this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsOfThisAccount',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': this.topic.stack.account } },
    }));
    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }
}
