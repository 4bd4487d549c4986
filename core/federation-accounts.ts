/**
 * Roles of one cluster in other AWS accounts: which federation stacks a cluster needs, one per
 * (cluster, account), each with the IAM OIDC provider for the cluster's issuer (created or
 * imported) and the service-account roles that live in that account.
 *
 * An IAM role trusts web identities only through an OIDC provider registered in its own account,
 * so every account holding roles needs its own provider for the same issuer URL. Pure: no AWS SDK,
 * no CDK, no I/O; the CDK side is lib/federation-account-stack.ts.
 */
import type { ClusterConfig, ServiceAccountRoleConfig } from './config';

/** Prefix of the stack id of a cluster's federation stack in another account. */
export const FEDERATION_STACK_ID_PREFIX = 'OidcFederation-';

/** Everything one federation stack needs: plain data, no constructs. */
export interface FederationAccountSpec {
  /** The cluster's name, for descriptions and outputs. */
  readonly clusterName: string;
  /** The account the stack deploys to. */
  readonly account: string;
  /**
   * The region the stack deploys to.
   * @default - the region of the deploying CLI
   */
  readonly region?: string;
  /** The issuer URL, known at synth time (custom domain), exactly as tokens' `iss`. */
  readonly issuerUrl: string;
  /** Client IDs (audiences) of the provider: the cluster's `audiences`. */
  readonly clientIds: readonly string[];
  /**
   * An existing provider of this account to import instead of creating one.
   * @default - created
   */
  readonly existingOidcProviderArn?: string;
  /** The roles created in this account, as validated in the cluster's `serviceAccountRoles`. */
  readonly roles: readonly ServiceAccountRoleConfig[];
}

/** The federation stacks of one cluster in other accounts. */
export interface ClusterFederationPlan {
  /** The roles that stay in the cluster's own stack (all roles not moved to another account). */
  readonly homeRoles: readonly ServiceAccountRoleConfig[];
  /** Ids of the roles that live in another account (and must not be created in the home stack). */
  readonly movedRoleIds: readonly string[];
  /** One entry per account, in the order of the configuration. */
  readonly accounts: readonly (FederationAccountSpec & { readonly stackId: string })[];
}

/** The stack id of a cluster's federation stack in one account: `OidcFederation-<cluster>-<account>`. */
export function federationStackIdFor(clusterName: string, account: string): string {
  return `${FEDERATION_STACK_ID_PREFIX}${clusterName}-${account}`;
}

/**
 * Maps a validated cluster to the federation stacks its `federationAccounts` need and the roles
 * that stay in its own stack.
 *
 * The entries are not checked here: their rules (account and region format, each account once,
 * each role in one account, roles of this cluster, not the cluster's own account, an imported
 * provider of that account for this issuer, a custom-domain issuer) belong to the configuration,
 * `core/config-schema.ts` and `checkFederationAccounts` in `core/config-rules.ts`, and
 * `validateConfig` enforces them with messages naming the field, the value and the fix.
 *
 * @param cluster a cluster returned by `validateConfig` / `validateConfigFile`
 * @throws Error when the cluster has federation accounts without a custom-domain issuer (only possible for a cluster that skipped `validateConfig`)
 */
export function planFederationAccounts(cluster: ClusterConfig): ClusterFederationPlan {
  const entries = cluster.federationAccounts;
  if (entries.length === 0) return { homeRoles: cluster.serviceAccountRoles, movedRoleIds: [], accounts: [] };
  const { issuer } = cluster;
  if (issuer.kind !== 'customDomain') {
    // The stacks in other accounts need the issuer URL at synth time (see checkFederationAccounts).
    throw new Error(`cluster ${JSON.stringify(cluster.name)}: federationAccounts need a custom-domain issuer; validate the configuration with validateConfig, which explains the fix`);
  }
  const accounts = entries.map((entry) => {
    const region = entry.region ?? cluster.env?.region;
    return {
      stackId: federationStackIdFor(cluster.name, entry.account),
      clusterName: cluster.name,
      account: entry.account,
      ...(region !== undefined ? { region } : {}),
      issuerUrl: issuer.url,
      clientIds: cluster.audiences,
      ...(entry.existingOidcProviderArn !== undefined ? { existingOidcProviderArn: entry.existingOidcProviderArn } : {}),
      roles: cluster.serviceAccountRoles.filter((role) => entry.roleIds.includes(role.id)),
    };
  });
  const movedRoleIds = accounts.flatMap((account) => account.roles.map((role) => role.id));
  return {
    homeRoles: cluster.serviceAccountRoles.filter((role) => !movedRoleIds.includes(role.id)),
    movedRoleIds,
    accounts,
  };
}
