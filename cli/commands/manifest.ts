/**
 * `manifest`: the Kubernetes side of IRSA without the EKS pod-identity webhook: a ServiceAccount
 * and the pod-spec fragment that mounts a projected token for STS and sets the variables the AWS
 * SDKs read (`AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_REGION`).
 *
 * With `--webhook`, the ServiceAccount alone, annotated for the mutating webhook (`kube-oidc
 * webhook serve` or the EKS pod identity webhook), which then adds the token and environment to
 * every pod using it; `--config/--cluster/--outputs` prints one per role of the CDK config.
 */
import { issuerHostPath } from '../../core/trust-policy';
import { roleArnOutputKey } from '../../core/stack-outputs';
import {
  audienceFlag,
  booleanFlag,
  CliError,
  CommandContext,
  EXIT_OK,
  integerFlag,
  LeafCommand,
  namespaceFlag,
  ParsedArgs,
  parseIssuerFlag,
  readFlagFile,
  requiredFlag,
  serviceAccountFlag,
  stringFlag,
  STS_AUDIENCE,
  UsageError,
} from '../command';
import { parseAudiences } from '../../core/webhook/service-tokens';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX } from '../../core/webhook/options';

/** Where the token is mounted: the path the EKS webhook uses, so existing docs and tooling apply. */
export const TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
/** The projected volume's name. */
export const TOKEN_VOLUME_NAME = 'aws-iam-token';

/** kube-apiserver refuses projected tokens shorter than 10 minutes. */
const MIN_EXPIRATION_SECONDS = 600;
/** kube-apiserver's upper bound on expirationSeconds (2^32). */
const MAX_EXPIRATION_SECONDS = 4294967296;
/** The value kube silently turns into a 1-year token when --service-account-extend-token-expiration is on. */
const EXTENDED_EXPIRATION_TRIGGER = 3607;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

/** The `manifest` command. */
export const manifestCommand: LeafCommand = {
  name: 'manifest',
  summary: 'print the ServiceAccount and pod-spec fragment (projected token, AWS_* env) as YAML',
  description: [
    'Prints two YAML documents: the ServiceAccount, and a pod-spec fragment to merge into your pod',
    'template: a projected service-account token for the audience, mounted where AWS_WEB_IDENTITY_TOKEN_FILE',
    'points, with AWS_ROLE_ARN and AWS_REGION (the SDKs need the region for the regional STS endpoint).',
    'No admission webhook is needed. The region comes from --region, else AWS_REGION/AWS_DEFAULT_REGION.',
  ].join('\n'),
  options: {
    'role-arn': { type: 'string', valueName: 'ARN', description: 'the IAM role the pods assume (required unless --config)' },
    namespace: { type: 'string', valueName: 'NS', description: 'the service account\'s namespace (required unless --config)' },
    'service-account': { type: 'string', valueName: 'NAME', description: 'the service account\'s name (required unless --config)' },
    webhook: { type: 'boolean', description: 'print only the ServiceAccount, annotated for the mutating webhook (eks.amazonaws.com/role-arn ...)' },
    config: { type: 'string', valueName: 'FILE', description: 'with --webhook: one annotated ServiceAccount per role of this CDK config (config/clusters.json)' },
    cluster: { type: 'string', valueName: 'NAME', description: 'with --config: the cluster (default: the only one)' },
    outputs: { type: 'string', valueName: 'FILE', description: 'with --config: the deployed stack\'s outputs (cdk deploy --outputs-file FILE), for the role ARNs' },
    'service-audiences': { type: 'string', valueName: 'A,B', description: 'with --webhook: also ask for service-to-service tokens for these audiences (kube-oidc-aws.io/audiences)' },
    audience: { type: 'string', valueName: 'A', defaultText: STS_AUDIENCE, description: 'the projected token\'s audience' },
    expiration: { type: 'string', valueName: 'S', defaultText: '3600', description: 'the projected token\'s lifetime in seconds (at least 600)' },
    region: { type: 'string', valueName: 'R', description: 'the AWS region for AWS_REGION' },
    container: { type: 'string', valueName: 'NAME', defaultText: 'app', description: 'the container name in the fragment' },
    issuer: { type: 'string', valueName: 'URL', description: 'the cluster\'s issuer: names the provider the role\'s account must hold' },
  },
  examples: [
    'manifest --role-arn arn:aws:iam::123456789012:role/payments-api --namespace payments --service-account api --region eu-west-1',
    'manifest --webhook --role-arn arn:aws:iam::123456789012:role/payments-api --namespace payments --service-account api',
    'manifest --webhook --config config/clusters.json --cluster example --outputs cdk-outputs.json',
  ],
  async run(args, context) {
    if (booleanFlag(args, 'webhook')) return webhookManifest(args, context);
    for (const flag of ['config', 'cluster', 'outputs', 'service-audiences']) {
      if (stringFlag(args, flag) !== undefined) throw new UsageError(`--${flag} needs --webhook`);
    }
    const roleArn = requiredFlag(args, 'role-arn');
    if (!ROLE_ARN.test(roleArn)) throw new UsageError(`--role-arn ${roleArn} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
    const namespace = namespaceFlag(args);
    const serviceAccount = serviceAccountFlag(args);
    const audience = audienceFlag(args);
    const expiration = integerFlag(args, 'expiration', 3600, MIN_EXPIRATION_SECONDS, MAX_EXPIRATION_SECONDS);
    const region = stringFlag(args, 'region') ?? context.io.env.AWS_REGION ?? context.io.env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError('--region is required (or set AWS_REGION): the SDKs need AWS_REGION to use the regional STS endpoint');
    if (!REGION.test(region)) throw new UsageError(`--region ${region} is not an AWS region name such as eu-west-1`);
    const containerName = stringFlag(args, 'container') ?? 'app';
    const issuerFlag = stringFlag(args, 'issuer');
    if (issuerFlag !== undefined) {
      // The role may live in any account of the cluster; STS then needs that account's own provider.
      const [, partition, account] = /^arn:(aws[a-z-]*):iam::(\d{12}):/.exec(roleArn) ?? [];
      const hostPath = issuerHostPath(parseIssuerFlag(issuerFlag, '--issuer'));
      context.note(`note: account ${account} (the role's) must hold the IAM OIDC provider arn:${partition}:iam::${account}:oidc-provider/${hostPath}, else STS answers "No OpenIDConnect provider found in your account"`);
    }

    if (expiration === EXTENDED_EXPIRATION_TRIGGER) {
      context.note(`warning: expirationSeconds ${EXTENDED_EXPIRATION_TRIGGER} gets a 1-year token when kube-apiserver runs with --service-account-extend-token-expiration`);
    }
    if (audience !== STS_AUDIENCE) {
      context.note(`note: audience ${audience}: the IAM OIDC provider must list it as a client ID, and the role's trust policy must use it (trust-policy --audience ${audience})`);
    }

    // Loaded on demand so that the other commands do not pay for it at start-up.
    const { stringify } = await import('yaml');
    const manifest = irsaManifest({ roleArn, namespace, serviceAccount, audience, expirationSeconds: expiration, region, containerName });
    const human = [
      `# ServiceAccount ${namespace}/${serviceAccount}: pods using it assume ${roleArn}.`,
      stringify(manifest.serviceAccount).trimEnd(),
      '---',
      '# Pod-spec fragment: merge into your pod template (e.g. a Deployment\'s spec.template.spec).',
      stringify(manifest.podSpec).trimEnd(),
    ].join('\n');
    context.emit(human, manifest);
    return EXIT_OK;
  },
};

/** Inputs of {@link irsaManifest}. */
export interface IrsaManifestInput {
  readonly roleArn: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly audience: string;
  readonly expirationSeconds: number;
  readonly region: string;
  readonly containerName: string;
}

/** The ServiceAccount and the pod-spec fragment, as plain objects. */
export function irsaManifest(input: IrsaManifestInput): { serviceAccount: object; podSpec: object } {
  return {
    serviceAccount: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: input.serviceAccount, namespace: input.namespace },
    },
    podSpec: {
      serviceAccountName: input.serviceAccount,
      containers: [
        {
          name: input.containerName,
          env: [
            { name: 'AWS_ROLE_ARN', value: input.roleArn },
            { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${TOKEN_MOUNT_PATH}/token` },
            { name: 'AWS_REGION', value: input.region },
            { name: 'AWS_DEFAULT_REGION', value: input.region },
            // Older SDKs default to the global STS endpoint; regional is faster and survives us-east-1 trouble.
            { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
          ],
          volumeMounts: [{ name: TOKEN_VOLUME_NAME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }],
        },
      ],
      volumes: [
        {
          name: TOKEN_VOLUME_NAME,
          projected: {
            sources: [{ serviceAccountToken: { audience: input.audience, expirationSeconds: input.expirationSeconds, path: 'token' } }],
          },
        },
      ],
    },
  };
}

/** One ServiceAccount annotated for the webhook. */
export interface WebhookServiceAccountInput {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly roleArn?: string;
  /** Written only when it is not sts.amazonaws.com. */
  readonly audience?: string;
  /** AWS token lifetime annotation, when given. */
  readonly expirationSeconds?: number;
  /** Service-to-service audiences (kube-oidc-aws.io/audiences). */
  readonly serviceAudiences?: readonly string[];
}

/** A ServiceAccount with the webhook's annotations, as a plain object. */
export function webhookServiceAccount(input: WebhookServiceAccountInput): object {
  const annotations: Record<string, string> = {};
  if (input.roleArn) {
    annotations[`${DEFAULT_ANNOTATION_PREFIX}/role-arn`] = input.roleArn;
    if (input.audience && input.audience !== STS_AUDIENCE) annotations[`${DEFAULT_ANNOTATION_PREFIX}/audience`] = input.audience;
    // The regional endpoint is faster and survives us-east-1 trouble; the EKS webhook honours this too.
    annotations[`${DEFAULT_ANNOTATION_PREFIX}/sts-regional-endpoints`] = 'true';
    if (input.expirationSeconds !== undefined) annotations[`${DEFAULT_ANNOTATION_PREFIX}/token-expiration`] = String(input.expirationSeconds);
  }
  if (input.serviceAudiences?.length) annotations[`${DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX}/audiences`] = input.serviceAudiences.join(',');
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: input.serviceAccount, namespace: input.namespace, annotations } };
}

async function webhookManifest(args: ParsedArgs, context: CommandContext): Promise<number> {
  const { stringify } = await import('yaml');
  let serviceAudiences: readonly string[] | undefined;
  const audiencesFlag = stringFlag(args, 'service-audiences');
  if (audiencesFlag !== undefined) {
    const parsed = parseAudiences(audiencesFlag);
    if (!parsed.ok) throw new UsageError(`--service-audiences ${parsed.reason}`);
    serviceAudiences = parsed.audiences;
  }
  const expirationGiven = stringFlag(args, 'expiration') !== undefined;
  const expirationSeconds = expirationGiven ? integerFlag(args, 'expiration', 3600, MIN_EXPIRATION_SECONDS, MAX_EXPIRATION_SECONDS) : undefined;

  const configPath = stringFlag(args, 'config');
  if (configPath === undefined) {
    const roleArn = stringFlag(args, 'role-arn');
    if (roleArn === undefined && serviceAudiences === undefined) throw new UsageError('--role-arn is required (or --service-audiences, or --config for every role of a cluster)');
    if (roleArn !== undefined && !ROLE_ARN.test(roleArn)) throw new UsageError(`--role-arn ${roleArn} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
    const account = webhookServiceAccount({ namespace: namespaceFlag(args), serviceAccount: serviceAccountFlag(args), roleArn, audience: audienceFlag(args), expirationSeconds, serviceAudiences });
    context.emit(stringify(account).trimEnd(), account);
    return EXIT_OK;
  }

  for (const flag of ['role-arn', 'namespace', 'service-account']) {
    if (stringFlag(args, flag) !== undefined) throw new UsageError(`--${flag} does not go with --config: the roles come from the config`);
  }
  const { loadClusterConfig } = await import('../../lib/config-loader');
  let clusters;
  try {
    clusters = loadClusterConfig(configPath);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const clusterName = stringFlag(args, 'cluster');
  const cluster = clusterName === undefined
    ? (clusters.length === 1 ? clusters[0] : undefined)
    : clusters.find((c) => c.name === clusterName);
  if (!cluster) {
    throw new UsageError(clusterName === undefined
      ? `${configPath} has ${clusters.length} clusters: give --cluster (${clusters.map((c) => c.name).join(', ')})`
      : `${configPath} has no cluster ${clusterName} (clusters: ${clusters.map((c) => c.name).join(', ')})`);
  }
  const outputsPath = requiredFlag(args, 'outputs', 'the role ARNs are known once the stack is deployed: cdk deploy --outputs-file FILE');
  let outputs: Record<string, string>;
  try {
    const all = JSON.parse(readFlagFile(outputsPath, '--outputs')) as Record<string, Record<string, string>>;
    outputs = all[cluster.stackId] ?? {};
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--outputs ${outputsPath} is not the JSON that cdk deploy --outputs-file writes`);
  }
  const documents: object[] = [];
  const human: string[] = [];
  for (const role of cluster.serviceAccountRoles) {
    const roleArn = outputs[roleArnOutputKey(role.id)];
    if (!roleArn) throw new CliError(`${outputsPath} has no output ${roleArnOutputKey(role.id)} for stack ${cluster.stackId}: deploy the stack, then write its outputs (cdk deploy ${cluster.stackId} --outputs-file ${outputsPath})`);
    if (role.match !== 'exact' || !role.serviceAccount) {
      context.note(`note: role ${role.id} matches ${role.match === 'namespace' ? `every ServiceAccount of namespace ${role.namespace}` : `ServiceAccounts ${role.namespace}/${role.serviceAccount ?? ''}*`}; annotate each of them with ${DEFAULT_ANNOTATION_PREFIX}/role-arn: ${roleArn}`);
      continue;
    }
    const account = webhookServiceAccount({ namespace: role.namespace, serviceAccount: role.serviceAccount, roleArn, audience: role.audience, expirationSeconds, serviceAudiences });
    documents.push(account);
    human.push(`# ServiceAccount ${role.namespace}/${role.serviceAccount} (role ${role.id}); a chart takes metadata.annotations as serviceAccount.annotations.\n${stringify(account).trimEnd()}`);
  }
  context.emit(human.join('\n---\n') || '# no role of this cluster names a single ServiceAccount', documents);
  return EXIT_OK;
}
