'use strict';
/**
 * A pod's application, for the rehearsal: no AWS keys, only what the pod identity setup gives a
 * pod (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_REGION). The SDK's default credential chain
 * exchanges the projected token with STS (AssumeRoleWithWebIdentity); the pod then asks STS who it
 * is and reads one object with those credentials. Prints one JSON line.
 *
 * Usage: node pod-app.cjs BUCKET KEY
 */
const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');

async function main() {
  const [, , bucket, key] = process.argv;
  const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  const object = await new S3Client({ forcePathStyle: true }).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = await object.Body.transformToString('utf8');
  process.stdout.write(`${JSON.stringify({ arn: identity.Arn, account: identity.Account, body })}\n`);
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ error: `${err.name}: ${err.message}` })}\n`);
  process.exitCode = 1;
});
