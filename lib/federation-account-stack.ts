import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { App, StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ClusterConfig } from '../core/config';
import { planFederationAccounts } from '../core/federation-accounts';
import type { FederationAccountSpec } from '../core/federation-accounts';
import { roleArnOutputKey } from '../core/stack-outputs';
import { ClusterOidcStack } from './cluster-oidc-stack';
import { Federation, serviceAccountRolePropsFromConfig } from './constructs/federation';

/** Properties of {@link FederationAccountStack}: the account's spec, and ordinary stack props except `env`. */
export interface FederationAccountStackProps extends FederationAccountSpec, Omit<StackProps, 'env'> {}

/**
 * A cluster's IAM federation in another AWS account: the IAM OIDC provider for the cluster's
 * issuer (created, or imported when the account already has one) and the service-account roles
 * that live in this account, built by the same {@link Federation} construct as the cluster's own
 * stack, so their trust policies check `sub` and `aud` exactly as there.
 *
 * IAM roles trust web identities only through a provider of their own account, hence one stack per
 * (cluster, account), deployed with `cdk deploy` from the cluster's home account into an account
 * bootstrapped with `cdk bootstrap --trust HOME_ACCOUNT aws://ACCOUNT/REGION`. The issuer must be
 * known at synth time (a custom domain): CDK cannot hand a deploy-time value to another account.
 */
export class FederationAccountStack extends Stack {
  /** The provider and the roles of this account. */
  readonly federation: Federation;

  constructor(scope: Construct, id: string, props: FederationAccountStackProps) {
    const { clusterName, account, region, issuerUrl, clientIds, existingOidcProviderArn, roles, ...stackProps } = props;
    super(scope, id, {
      description: `IAM OIDC federation of Kubernetes cluster ${clusterName} in account ${account}: provider for ${issuerUrl} and ${roles.length} service-account role${roles.length === 1 ? '' : 's'}`,
      ...stackProps,
      env: { account, ...(region !== undefined ? { region } : {}) },
    });
    // With a CloudFront-default-domain issuer the URL would be a token of another stack, which
    // CloudFormation cannot resolve in this account.
    if (issuerUrl === '' || !issuerUrl.startsWith('https://')) {
      throw new Error(`${id}: issuerUrl must be the cluster's https issuer URL known at synth time (a custom domain), got ${JSON.stringify(issuerUrl)}`);
    }

    this.federation = new Federation(this, 'Federation', {
      issuerUrl,
      clientIds,
      ...(existingOidcProviderArn ? { existingProviderArn: existingOidcProviderArn } : {}),
      serviceAccountRoles: roles.map((role) => serviceAccountRolePropsFromConfig(this, role)),
    });

    new CfnOutput(this, 'OidcProviderArn', { value: this.federation.provider.oidcProviderArn, description: `The IAM OIDC identity provider of ${issuerUrl} in account ${account}` });
    for (const role of roles) {
      const construct = this.federation.roles.get(role.id);
      if (!construct) continue;
      new CfnOutput(this, roleArnOutputKey(role.id), {
        value: construct.roleArn,
        description: `AWS_ROLE_ARN for ${role.match === 'namespace' ? `namespace ${role.namespace}` : `${role.namespace}/${role.serviceAccount ?? ''}`} of cluster ${clusterName} (token audience ${role.audience})`,
      });
    }
  }
}

/** The stacks {@link addClusterAndFederationStacks} added. */
export interface ClusterAndFederationStacks {
  /** One `OidcCluster-<name>` per cluster, without the roles that live in other accounts. */
  readonly clusterStacks: ClusterOidcStack[];
  /** One `OidcFederation-<cluster>-<account>` per (cluster, account). */
  readonly federationStacks: FederationAccountStack[];
}

/**
 * Adds each cluster's stack and its federation stacks in other accounts (one per entry of its
 * `federationAccounts`) to the app. A federation stack depends on its cluster's stack: IAM fetches
 * the issuer's certificate when it creates the provider, so the issuer must be served first
 * (`cdk deploy --all` keeps that order).
 *
 * @param clusters clusters returned by `validateConfig` / `validateConfigFile`, which check their `federationAccounts`
 * @param denyListReaders per cluster name, fleet verifier roles of other accounts that may read its deny list
 */
export function addClusterAndFederationStacks(
  app: App,
  clusters: readonly ClusterConfig[],
  denyListReaders: ReadonlyMap<string, readonly string[]> = new Map(),
): ClusterAndFederationStacks {
  const plans = clusters.map(planFederationAccounts);
  const clusterStacks: ClusterOidcStack[] = [];
  const federationStacks: FederationAccountStack[] = [];
  clusters.forEach((cluster, index) => {
    const plan = plans[index];
    const readers = denyListReaders.get(cluster.name) ?? [];
    const home = new ClusterOidcStack(app, cluster.stackId, {
      cluster,
      rolesInOtherAccounts: plan.movedRoleIds,
      ...(readers.length > 0 ? { denyListReaderArns: readers } : {}),
    });
    clusterStacks.push(home);
    for (const { stackId, ...spec } of plan.accounts) {
      const stack = new FederationAccountStack(app, stackId, spec);
      stack.addDependency(home, 'IAM contacts the issuer served by the cluster stack when it creates the provider');
      federationStacks.push(stack);
    }
  });
  return { clusterStacks, federationStacks };
}
