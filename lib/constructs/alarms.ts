import * as iam from 'aws-cdk-lib/aws-iam';
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
 * newly published key ids, refused private keys, Lambda errors.
 */
export class Alarms extends Construct {
  /** The alarm topic. */
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps = {}) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName ?? 'Kube OIDC alarms',
      enforceSSL: true,
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
