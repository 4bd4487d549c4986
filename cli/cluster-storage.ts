/**
 * Finds a deployed cluster's buckets for the CLI's AWS-facing commands: from the stack outputs of
 * `OidcCluster-NAME` (`--cluster NAME`), or named directly (`--bucket`, `--documents-bucket`).
 * Also settles, before any AWS call, which credentials and region the command uses
 * ({@link resolveAwsContext}) and says so. Every AWS client honours `AWS_ENDPOINT_URL`, so the
 * commands work against moto too. The AWS SDK is loaded only here, when such a command runs:
 * every other command starts without it.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AwsClientSettings } from '../runtime/aws-clients';
import type { ObjectStore } from '../runtime/object-store';
import { CliError, CommandContext, OptionSpec, ParsedArgs, stringFlag, UsageError } from './command';

/** Where the CDK app reads the cluster configuration (lib/config-loader.ts), relative to the working directory. */
const DEFAULT_CONFIG_FILE = 'config/clusters.json';

/** `--region`, `--profile` and `--config`: every command that calls AWS takes them. */
export const AWS_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  region: {
    type: 'string',
    valueName: 'REGION',
    description: 'the AWS region of the cluster\'s stack and buckets',
    defaultText: 'env.region of --cluster in the config, else AWS_REGION/AWS_DEFAULT_REGION, else the profile\'s region',
  },
  profile: { type: 'string', valueName: 'NAME', description: 'the AWS profile (~/.aws/config, ~/.aws/credentials) for credentials and region', defaultText: 'AWS_PROFILE' },
  config: { type: 'string', valueName: 'FILE', description: 'the cluster configuration to read env.region of --cluster from', defaultText: DEFAULT_CONFIG_FILE },
};

/** The flags that name a cluster's storage, shared by keys, deny and sync. */
export const STORAGE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cluster: { type: 'string', valueName: 'NAME', description: 'the cluster: its buckets are read from the outputs of stack OidcCluster-NAME' },
  bucket: { type: 'string', valueName: 'BUCKET', description: 'the private bucket (keys/, control/, state/), instead of --cluster' },
  ...AWS_OPTIONS,
};

/** {@link STORAGE_OPTIONS} plus the published documents with `--bucket` (keys list and revoke read the published kids). */
export const DOCUMENTS_STORAGE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ...STORAGE_OPTIONS,
  'documents-bucket': { type: 'string', valueName: 'BUCKET', description: 'the documents bucket (with --bucket)' },
  issuer: { type: 'string', valueName: 'URL', description: 'the issuer (with --bucket)' },
};

/** {@link DOCUMENTS_STORAGE_OPTIONS} plus the distribution `sync` invalidates with `--bucket`. */
export const SYNC_STORAGE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ...DOCUMENTS_STORAGE_OPTIONS,
  'distribution-id': { type: 'string', valueName: 'ID', description: 'the CloudFront distribution to invalidate (with --bucket)' },
};

/** The credentials and region a command's AWS clients use, and where the region came from. */
export interface AwsContext {
  readonly region: string;
  /** Where the region came from, for messages: `--region`, `env.region of cluster dev in config/clusters.json`, `AWS_REGION`... */
  readonly regionSource: string;
  readonly profile?: string;
  /** The settings every SDK client of the run is created with. */
  readonly clientSettings: AwsClientSettings & { readonly region: string };
}

/** How to provide credentials, for the message that says none were found. */
export const CREDENTIALS_HELP =
  'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), ' +
  'or give --profile NAME for a profile in ~/.aws/credentials or ~/.aws/config (for an SSO profile, run `aws sso login --profile NAME` first)';

/**
 * Settles credentials, then the region, before the command calls AWS: missing credentials are
 * reported first (with how to provide them), then a missing region. Prints one note on stderr
 * naming the region and where it came from.
 *
 * Region order: `--region`, then the cluster's `env.region` in the configuration (`--config`, or
 * config/clusters.json when it exists), then AWS_REGION, AWS_DEFAULT_REGION, then the profile's
 * region in ~/.aws/config.
 */
export async function resolveAwsContext(args: ParsedArgs, context: CommandContext, cluster?: string): Promise<AwsContext> {
  const env = context.io.env;
  // A malformed flag is the command line's fault (exit 2): said before anything is asked of AWS.
  const regionFlag = stringFlag(args, 'region');
  if (regionFlag !== undefined && !REGION_NAME.test(regionFlag)) throw new UsageError(`--region ${regionFlag} is not an AWS region name such as eu-west-1`);
  const profile = stringFlag(args, 'profile') ?? (env.AWS_PROFILE || undefined);
  const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
  // A client only to ask the SDK's own providers: the same chain every client of the run uses.
  const probe = new CloudFormationClient({ ...(profile ? { profile } : {}) });
  try {
    try {
      await probe.config.credentials();
    } catch (err) {
      throw new CliError(`no AWS credentials found${profile ? ` for profile ${profile}` : ''}: ${CREDENTIALS_HELP}. (AWS SDK: ${firstLine(err)})`);
    }
    const chosen = regionFromSettings(args, env, cluster) ?? await regionFromProfile(probe, profile);
    context.note(`aws: region ${chosen.region} (from ${chosen.source})${profile ? `, profile ${profile}` : ''}`);
    return {
      region: chosen.region,
      regionSource: chosen.source,
      profile,
      clientSettings: { region: chosen.region, ...(profile ? { profile } : {}) },
    };
  } finally {
    probe.destroy();
  }
}

const REGION_NAME = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

function regionFromSettings(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>, cluster: string | undefined): { region: string; source: string } | undefined {
  const flag = stringFlag(args, 'region');
  if (flag !== undefined) return { region: flag, source: '--region' };
  if (cluster !== undefined) {
    const fromConfig = regionFromConfig(stringFlag(args, 'config'), cluster);
    if (fromConfig) return fromConfig;
  }
  if (env.AWS_REGION) return { region: env.AWS_REGION, source: 'AWS_REGION' };
  if (env.AWS_DEFAULT_REGION) return { region: env.AWS_DEFAULT_REGION, source: 'AWS_DEFAULT_REGION' };
  return undefined;
}

/** The cluster's `env.region` in the configuration file; undefined when the file or the field is absent. */
function regionFromConfig(configFlag: string | undefined, cluster: string): { region: string; source: string } | undefined {
  const file = configFlag ?? DEFAULT_CONFIG_FILE;
  if (configFlag === undefined && !existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = code === 'ENOENT' ? 'no such file' : err instanceof SyntaxError ? `not valid JSON (${err.message})` : firstLine(err);
    throw new UsageError(`cannot read the cluster configuration ${file} for the region of --cluster ${cluster}: ${cause}; fix it, pass --config FILE, or give --region`);
  }
  const clusters = (raw as { clusters?: unknown } | null)?.clusters;
  const entry = Array.isArray(clusters) ? clusters.find((c) => (c as { name?: unknown } | null)?.name === cluster) as { env?: { region?: unknown } } | undefined : undefined;
  const region = entry?.env?.region;
  return typeof region === 'string' && region !== '' ? { region, source: `env.region of cluster ${cluster} in ${file}` } : undefined;
}

async function regionFromProfile(probe: { config: { region: () => Promise<string> } }, profile: string | undefined): Promise<{ region: string; source: string }> {
  let region: string | undefined;
  try {
    region = await probe.config.region();
  } catch {
    region = undefined;
  }
  if (!region) {
    throw new CliError('no AWS region: give --region REGION, set env.region for the cluster in its configuration, set AWS_REGION, or set region in the profile in ~/.aws/config');
  }
  return { region, source: `the region of profile ${profile ?? 'default'} in ~/.aws/config` };
}

/** A cluster's storage as the CLI reaches it. */
export interface ClusterStorage {
  readonly privateStore: ObjectStore;
  readonly documents?: ObjectStore;
  readonly issuer?: string;
  readonly distributionId?: string;
  /** What was resolved, for messages. */
  readonly description: string;
  /** The credentials and region used. */
  readonly aws: AwsContext;
}

/** The stack a cluster's resources live in (the CDK app's naming rule). */
export function clusterStackName(cluster: string): string {
  return `OidcCluster-${cluster}`;
}

/** Resolves `--cluster` or `--bucket` to stores; usage error when neither or both are given. */
export async function resolveClusterStorage(args: ParsedArgs, context: CommandContext): Promise<ClusterStorage> {
  const cluster = stringFlag(args, 'cluster');
  const bucket = stringFlag(args, 'bucket');
  if (cluster && bucket) throw new UsageError('give --cluster NAME or --bucket BUCKET, not both');
  if (!cluster && !bucket) throw new UsageError('name the cluster: --cluster NAME (reads the stack outputs) or --bucket BUCKET');
  const aws = await resolveAwsContext(args, context, cluster);
  const { createS3Client } = await import('../runtime/aws-clients');
  const { S3ObjectStore } = await import('../runtime/s3-object-store');
  const s3 = createS3Client(context.io.env.AWS_ENDPOINT_URL, aws.clientSettings);
  if (bucket) {
    const documentsBucket = stringFlag(args, 'documents-bucket');
    return {
      privateStore: new S3ObjectStore(s3, bucket),
      documents: documentsBucket ? new S3ObjectStore(s3, documentsBucket) : undefined,
      issuer: stringFlag(args, 'issuer'),
      distributionId: stringFlag(args, 'distribution-id'),
      description: `s3://${bucket}`,
      aws,
    };
  }
  const stackName = clusterStackName(cluster!);
  const outputs = await stackOutputs(stackName, aws);
  const privateBucket = outputs.PrivateBucketName;
  if (!privateBucket) throw new CliError(`stack ${stackName} has no PrivateBucketName output: is it deployed from this app?`);
  return {
    privateStore: new S3ObjectStore(s3, privateBucket),
    documents: outputs.DocumentsBucketName ? new S3ObjectStore(s3, outputs.DocumentsBucketName) : undefined,
    issuer: outputs.IssuerUrl,
    distributionId: outputs.DistributionId,
    description: `${stackName} (s3://${privateBucket})`,
    aws,
  };
}

/** The outputs of a stack by key; a {@link CliError} saying what to check when it cannot be read. */
export async function stackOutputs(stackName: string, aws: AwsContext): Promise<Record<string, string>> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient(aws.clientSettings);
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs: Record<string, string> = {};
    for (const output of out.Stacks?.[0]?.Outputs ?? []) if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
    return outputs;
  } catch (err) {
    throw new CliError(`cannot read stack ${stackName} in ${aws.region} (region from ${aws.regionSource}): ${awsErrorText(err)}; deploy it first, check the region (--region) and the credentials, or name the bucket with --bucket`);
  } finally {
    client.destroy();
  }
}

/** An AWS SDK error as one line: its name (the AWS error code) and the first line of its message. */
export function awsErrorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const message = firstLine(err);
  return err.name && err.name !== 'Error' && !message.startsWith(err.name) ? `${err.name}: ${message}` : message;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown error';
}
