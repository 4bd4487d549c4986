/**
 * `trust-policy`: the IAM role trust policy that lets one service account assume the role with
 * its projected token, from the same builder the CDK stack uses (so the two cannot drift).
 */
import { issuerHostPath, trustPolicyDocument } from '../../core/trust-policy';
import {
  audienceFlag,
  EXIT_OK,
  LeafCommand,
  namespaceFlag,
  parseIssuerFlag,
  requiredFlag,
  serviceAccountFlag,
  stringFlag,
  UsageError,
} from '../command';

const PROVIDER_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):oidc-provider\/(.+)$/;
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

/** The `trust-policy` command. */
export const trustPolicyCommand: LeafCommand = {
  name: 'trust-policy',
  summary: 'print the IAM trust policy for a service account (sub and aud conditions)',
  description: [
    'Prints the trust policy of a role that one Kubernetes service account assumes with',
    'sts:AssumeRoleWithWebIdentity: the issuer\'s IAM OIDC provider as principal, and StringEquals',
    'conditions on both <issuer>:sub and <issuer>:aud. Give the provider ARN, or the account ID to derive it,',
    'or the role ARN: a role trusts only the provider of its own account, so for a role in another account',
    'of the cluster the provider is that account\'s one.',
  ].join('\n'),
  options: {
    issuer: { type: 'string', valueName: 'URL', required: true, description: 'the issuer URL (https, no trailing slash)' },
    namespace: { type: 'string', valueName: 'NS', required: true, description: 'the service account\'s namespace' },
    'service-account': { type: 'string', valueName: 'NAME', required: true, description: 'the service account\'s name' },
    audience: { type: 'string', valueName: 'A', defaultText: 'sts.amazonaws.com', description: 'the audience the token carries' },
    'provider-arn': { type: 'string', valueName: 'ARN', description: 'the IAM OIDC provider ARN' },
    'account-id': { type: 'string', valueName: 'ID', description: 'the AWS account ID (the provider ARN is derived)' },
    partition: { type: 'string', valueName: 'P', defaultText: 'aws', description: 'the AWS partition, with --account-id' },
    'role-arn': { type: 'string', valueName: 'ARN', description: 'the role that gets the policy (the provider is derived from its account)' },
  },
  examples: [
    'trust-policy --issuer https://oidc.example.com/cluster-a --namespace payments --service-account api --account-id 123456789012',
    'trust-policy --issuer https://oidc.example.com/cluster-a --namespace data --service-account reader --role-arn arn:aws:iam::111111111111:role/s3-reader',
  ],
  async run(args, context) {
    const issuer = parseIssuerFlag(requiredFlag(args, 'issuer'), '--issuer');
    const namespace = namespaceFlag(args);
    const serviceAccount = serviceAccountFlag(args);
    const audience = audienceFlag(args);
    const providerArn = resolveProviderArn(issuer, stringFlag(args, 'provider-arn'), stringFlag(args, 'account-id'), stringFlag(args, 'partition'), stringFlag(args, 'role-arn'));
    const policy = trustPolicyDocument(providerArn, issuer, { namespace, serviceAccount }, audience);
    context.emit(JSON.stringify(policy, null, 2), policy);
    return EXIT_OK;
  },
};

function resolveProviderArn(issuer: string, providerArn: string | undefined, accountId: string | undefined, partition: string | undefined, roleArn: string | undefined): string {
  const hostPath = issuerHostPath(issuer);
  if (providerArn !== undefined && accountId !== undefined) throw new UsageError('give --provider-arn or --account-id, not both');
  const role = roleArn === undefined ? undefined : ROLE_ARN.exec(roleArn);
  if (roleArn !== undefined) {
    if (!role) throw new UsageError(`--role-arn ${roleArn} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
    if (accountId !== undefined || partition !== undefined) throw new UsageError('--role-arn already names the account and partition; drop --account-id and --partition');
  }
  if (providerArn !== undefined) {
    const match = PROVIDER_ARN.exec(providerArn);
    if (!match) throw new UsageError(`--provider-arn ${providerArn} is not an IAM OIDC provider ARN (arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH)`);
    if (match[3] !== hostPath) throw new UsageError(`--provider-arn is the provider for ${match[3]}, not for this issuer (${hostPath})`);
    if (partition !== undefined) throw new UsageError('--partition goes with --account-id; the provider ARN already names its partition');
    if (role && (role[2] !== match[2] || role[1] !== match[1])) {
      throw new UsageError(`--provider-arn is in account ${match[2]} but the role is in account ${role[2]}: a role trusts only a provider of its own account; create the provider for ${hostPath} in account ${role[2]}`);
    }
    return providerArn;
  }
  if (role) return `arn:${role[1]}:iam::${role[2]}:oidc-provider/${hostPath}`;
  if (accountId === undefined) throw new UsageError('give --provider-arn ARN, --account-id ID or --role-arn ARN to derive it');
  if (!/^\d{12}$/.test(accountId)) throw new UsageError(`--account-id must be a 12-digit AWS account ID, got ${JSON.stringify(accountId)}`);
  const chosenPartition = partition ?? 'aws';
  if (!/^aws(-[a-z]+)*$/.test(chosenPartition)) throw new UsageError(`--partition ${chosenPartition} is not an AWS partition (aws, aws-cn, aws-us-gov)`);
  return `arn:${chosenPartition}:iam::${accountId}:oidc-provider/${hostPath}`;
}
