/**
 * `manifest`: the Kubernetes side of IRSA without the EKS pod-identity webhook: a ServiceAccount
 * and the pod-spec fragment that mounts a projected token for STS and sets the variables the AWS
 * SDKs read (`AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_REGION`).
 */
import { issuerHostPath } from '../../core/trust-policy';
import { audienceFlag, EXIT_OK, integerFlag, LeafCommand, namespaceFlag, parseIssuerFlag, requiredFlag, serviceAccountFlag, stringFlag, STS_AUDIENCE, UsageError } from '../command';

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
    'role-arn': { type: 'string', valueName: 'ARN', required: true, description: 'the IAM role the pods assume' },
    namespace: { type: 'string', valueName: 'NS', required: true, description: 'the service account\'s namespace' },
    'service-account': { type: 'string', valueName: 'NAME', required: true, description: 'the service account\'s name' },
    audience: { type: 'string', valueName: 'A', defaultText: STS_AUDIENCE, description: 'the projected token\'s audience' },
    expiration: { type: 'string', valueName: 'S', defaultText: '3600', description: 'the projected token\'s lifetime in seconds (at least 600)' },
    region: { type: 'string', valueName: 'R', description: 'the AWS region for AWS_REGION' },
    container: { type: 'string', valueName: 'NAME', defaultText: 'app', description: 'the container name in the fragment' },
    issuer: { type: 'string', valueName: 'URL', description: 'the cluster\'s issuer: names the provider the role\'s account must hold' },
  },
  examples: ['manifest --role-arn arn:aws:iam::123456789012:role/payments-api --namespace payments --service-account api --region eu-west-1'],
  async run(args, context) {
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
