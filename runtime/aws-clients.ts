/** AWS SDK clients as the adapters create them: once per process, honouring `AWS_ENDPOINT_URL`. */
import { S3Client } from '@aws-sdk/client-s3';

/**
 * An S3 client. With a custom endpoint (moto, LocalStack, MinIO) buckets are addressed by path,
 * since `bucket.127.0.0.1` does not resolve.
 */
export function createS3Client(endpointOverride: string | undefined): S3Client {
  return new S3Client({ forcePathStyle: endpointOverride !== undefined });
}
