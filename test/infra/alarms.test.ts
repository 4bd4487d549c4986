/**
 * The alarm topic is encrypted with a customer managed key that CloudWatch alarms of this account
 * and region may use (the AWS managed SNS key cannot be granted to CloudWatch). Issue 12 §5.
 */
import { Stack } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Alarms } from '../../lib/constructs/alarms';
import { bareTestApp } from './support/synth';

function synth(): { template: Template; topicId: string; keyId: string } {
  const stack = new Stack(bareTestApp(), 'AlarmsOnly', { env: { account: '123456789012', region: 'eu-west-1' } });
  const alarms = new Alarms(stack, 'Alarms');
  return {
    template: Template.fromStack(stack),
    topicId: stack.getLogicalId(alarms.topic.node.defaultChild as CfnElement),
    keyId: stack.getLogicalId(alarms.key.node.defaultChild as CfnElement),
  };
}

test('the topic is encrypted with its own customer managed key, rotated, kept when the stack goes', () => {
  const { template, topicId, keyId } = synth();
  const topic = template.toJSON().Resources[topicId];
  expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  const key = template.toJSON().Resources[keyId];
  expect(key.Type).toBe('AWS::KMS::Key');
  expect(key.Properties.EnableKeyRotation).toBe(true);
  expect(key.DeletionPolicy).toBe('Retain');
});

test('the key policy lets CloudWatch alarms of this account and region only use the key', () => {
  const { template, keyId } = synth();
  const statements = template.toJSON().Resources[keyId].Properties.KeyPolicy.Statement as Record<string, unknown>[];
  const cloudWatch = statements.filter((statement) => JSON.stringify(statement.Principal).includes('cloudwatch.amazonaws.com'));
  expect(cloudWatch).toEqual([{
    Sid: 'CloudWatchAlarmsOfThisAccountEncrypt',
    Effect: 'Allow',
    Principal: { Service: 'cloudwatch.amazonaws.com' },
    Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    Resource: '*',
    Condition: {
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:123456789012:alarm:*']] } },
    },
  }]);
  // No other service principal may use it.
  expect(statements.filter((statement) => JSON.stringify(statement.Principal).includes('Service')).length).toBe(1);
});
