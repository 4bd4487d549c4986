/** AWS adapters of the sync's outbound ports: CloudFront invalidation and SNS notification. */
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { createHash } from 'node:crypto';

/** Invalidates exactly the given paths of one distribution. */
export function cloudFrontInvalidator(client: CloudFrontClient, distributionId: string) {
  return async (paths: readonly string[]): Promise<void> => {
    const callerReference = createHash('sha256').update(`${Date.now()}:${paths.join(',')}`).digest('hex').slice(0, 32);
    await client.send(new CreateInvalidationCommand({
      DistributionId: distributionId,
      InvalidationBatch: { CallerReference: callerReference, Paths: { Quantity: paths.length, Items: [...paths] } },
    }));
  };
}

/** Publishes operator notifications to one SNS topic. */
export function snsNotifier(client: SNSClient, topicArn: string) {
  return async (subject: string, message: string): Promise<void> => {
    await client.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }));
  };
}
