/**
 * Finds a deployed cluster's buckets for the CLI's storage commands: from the stack outputs of
 * `OidcCluster-NAME` (`--cluster NAME`), or named directly (`--bucket`, `--documents-bucket`).
 * Every AWS client honours `AWS_ENDPOINT_URL`, so the commands work against moto too. The AWS SDK
 * is loaded only here, when a storage command runs: every other command starts without it.
 */
import type { ObjectStore } from '../runtime/object-store';
import { CliError, OptionSpec, ParsedArgs, stringFlag, UsageError } from './command';

/** The flags that name a cluster's storage, shared by keys, deny and sync. */
export const STORAGE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cluster: { type: 'string', valueName: 'NAME', description: 'the cluster: its buckets are read from the outputs of stack OidcCluster-NAME' },
  bucket: { type: 'string', valueName: 'BUCKET', description: 'the private bucket (keys/, control/, state/), instead of --cluster' },
  'documents-bucket': { type: 'string', valueName: 'BUCKET', description: 'the documents bucket (with --bucket; sync only)' },
  issuer: { type: 'string', valueName: 'URL', description: 'the issuer (with --bucket; sync only)' },
  'distribution-id': { type: 'string', valueName: 'ID', description: 'the CloudFront distribution to invalidate (with --bucket; sync only)' },
};

/** A cluster's storage as the CLI reaches it. */
export interface ClusterStorage {
  readonly privateStore: ObjectStore;
  readonly documents?: ObjectStore;
  readonly issuer?: string;
  readonly distributionId?: string;
  /** What was resolved, for messages. */
  readonly description: string;
}

/** The stack a cluster's resources live in (the CDK app's naming rule). */
export function clusterStackName(cluster: string): string {
  return `OidcCluster-${cluster}`;
}

/** Resolves `--cluster` or `--bucket` to stores; usage error when neither or both are given. */
export async function resolveClusterStorage(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>): Promise<ClusterStorage> {
  const cluster = stringFlag(args, 'cluster');
  const bucket = stringFlag(args, 'bucket');
  if (cluster && bucket) throw new UsageError('give --cluster NAME or --bucket BUCKET, not both');
  if (!cluster && !bucket) throw new UsageError('name the cluster: --cluster NAME (reads the stack outputs) or --bucket BUCKET');
  const { createS3Client } = await import('../runtime/aws-clients');
  const { S3ObjectStore } = await import('../runtime/s3-object-store');
  const s3 = createS3Client(env.AWS_ENDPOINT_URL);
  if (bucket) {
    const documentsBucket = stringFlag(args, 'documents-bucket');
    return {
      privateStore: new S3ObjectStore(s3, bucket),
      documents: documentsBucket ? new S3ObjectStore(s3, documentsBucket) : undefined,
      issuer: stringFlag(args, 'issuer'),
      distributionId: stringFlag(args, 'distribution-id'),
      description: `s3://${bucket}`,
    };
  }
  const stackName = clusterStackName(cluster!);
  const outputs = await stackOutputs(stackName);
  const privateBucket = outputs.PrivateBucketName;
  if (!privateBucket) throw new CliError(`stack ${stackName} has no PrivateBucketName output: is it deployed from this app?`);
  return {
    privateStore: new S3ObjectStore(s3, privateBucket),
    documents: outputs.DocumentsBucketName ? new S3ObjectStore(s3, outputs.DocumentsBucketName) : undefined,
    issuer: outputs.IssuerUrl,
    distributionId: outputs.DistributionId,
    description: `${stackName} (s3://${privateBucket})`,
  };
}

async function stackOutputs(stackName: string): Promise<Record<string, string>> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient({});
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs: Record<string, string> = {};
    for (const output of out.Stacks?.[0]?.Outputs ?? []) if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
    return outputs;
  } catch (err) {
    throw new CliError(`cannot read stack ${stackName}: ${err instanceof Error ? err.message : String(err)} (deploy it first, check AWS credentials and region, or name the bucket with --bucket)`);
  } finally {
    client.destroy();
  }
}
