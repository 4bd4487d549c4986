/** AWS SDK clients as the adapters create them: once per process, honouring `AWS_ENDPOINT_URL`. */
import { S3Client } from '@aws-sdk/client-s3';

/** Where and as whom a client works; absent fields fall back to the SDK's own resolution (environment, profile). */
export interface AwsClientSettings {
  readonly region?: string;
  /** A profile of the shared config and credentials files (`~/.aws/config`). */
  readonly profile?: string;
}

/**
 * An S3 client. With a custom endpoint (moto, LocalStack, MinIO) buckets are addressed by path,
 * since `bucket.127.0.0.1` does not resolve.
 */
export function createS3Client(endpointOverride: string | undefined, settings: AwsClientSettings = {}): S3Client {
  return new S3Client({ forcePathStyle: endpointOverride !== undefined, ...definedOnly(settings) });
}

/** The settings without undefined fields (an explicit `region: undefined` would hide the SDK's own default). */
export function definedOnly(settings: AwsClientSettings): AwsClientSettings {
  return {
    ...(settings.region !== undefined ? { region: settings.region } : {}),
    ...(settings.profile !== undefined ? { profile: settings.profile } : {}),
  };
}
