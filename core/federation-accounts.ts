/**
 * Roles of one cluster in other AWS accounts: which federation stacks a cluster needs, one per
 * (cluster, account), each with the IAM OIDC provider for the cluster's issuer (created or
 * imported) and the service-account roles that live in that account.
 *
 * An IAM role trusts web identities only through an OIDC provider registered in its own account,
 * so every account holding roles needs its own provider for the same issuer URL. Pure: no AWS SDK,
 * no CDK, no I/O; the CDK side is lib/federation-account-stack.ts.
 */
import { ConfigValidationError } from './config';
import type { ClusterConfig, ServiceAccountRoleConfig } from './config';
import { issuerHostPath } from './trust-policy';

/** Prefix of the stack id of a cluster's federation stack in another account. */
export const FEDERATION_STACK_ID_PREFIX = 'OidcFederation-';

const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const PROVIDER_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):oidc-provider\/(.+)$/;

/**
 * One account of a cluster that holds roles, as the configuration describes it (the shape the
 * `federationAccounts` section of a cluster is expected to validate into).
 */
export interface FederationAccountEntry {
  /** The 12-digit AWS account that holds the roles. */
  readonly account: string;
  /**
   * Region of the federation stack (IAM is global; CloudFormation needs a region and the account
   * must be CDK-bootstrapped there).
   * @default - the cluster's `env.region`, else the region of the deploying CLI
   */
  readonly region?: string;
  /** Ids of the cluster's `serviceAccountRoles` created in this account (and not in the home account). */
  readonly roleIds: readonly string[];
  /**
   * The IAM OIDC provider for the issuer that already exists in this account (IAM allows one per
   * URL), for example created by a StackSet over an organizational unit.
   * @default - the stack creates the provider
   */
  readonly existingOidcProviderArn?: string;
}

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
 * Maps a validated cluster and its accounts to the federation stacks it needs, checking what only
 * makes sense together: the issuer must be known at synth time, each role goes to one place, and an
 * imported provider must be the one of that account for that issuer.
 *
 * @param field how the entries are named in problems (the configuration field)
 * @throws ConfigValidationError listing every problem, each naming the cluster, the field, the value and the fix
 */
export function planFederationAccounts(cluster: ClusterConfig, entries: readonly FederationAccountEntry[], field = 'federationAccounts'): ClusterFederationPlan {
  const problems: string[] = [];
  const label = `cluster ${JSON.stringify(cluster.name)}`;
  const fail = (path: string, value: unknown, problem: string, fix: string): void => {
    problems.push(`${label}, ${path} = ${JSON.stringify(value)}: ${problem}. Fix: ${fix}.`);
  };
  if (entries.length === 0) return { homeRoles: cluster.serviceAccountRoles, movedRoleIds: [], accounts: [] };

  const issuer = cluster.issuer;
  if (issuer.kind !== 'customDomain') {
    // CDK cannot pass the distribution's domain to a stack in another account, and a provider
    // pinned to a *.cloudfront.net domain breaks in every account if the distribution is replaced.
    problems.push(
      `${label}, issuer = (CloudFront default domain): ${field} needs an issuer URL known at synth time, and the CloudFront default domain is only known after deploy. `
      + 'Fix: give the cluster a custom-domain issuer ({"url": "https://oidc.example.com/NAME", "hostedZoneId": "...", "hostedZoneName": "...", "certificateArn": "..."}), '
      + `or remove ${field} and keep its roles in the cluster's own account.`,
    );
  }
  const issuerUrl = issuer.kind === 'customDomain' ? issuer.url : '';
  const hostPath = issuerHostPath(issuerUrl);
  const rolesById = new Map(cluster.serviceAccountRoles.map((role) => [role.id, role]));
  const placed = new Map<string, string>();
  const seenAccounts = new Map<string, number>();
  const accounts: (FederationAccountSpec & { stackId: string })[] = [];

  entries.forEach((entry, index) => {
    const at = `${field}[${index}]`;
    const before = problems.length;
    if (!ACCOUNT_ID.test(entry.account)) {
      fail(`${at}.account`, entry.account, 'is not a 12-digit AWS account id', 'give the account that holds the roles, e.g. "111111111111"');
    } else if (entry.account === cluster.env?.account) {
      fail(`${at}.account`, entry.account, 'is the cluster\'s own account (env.account)', `keep these roles in serviceAccountRoles only and remove this ${field} entry`);
    } else if (seenAccounts.has(entry.account)) {
      fail(`${at}.account`, entry.account, `is already listed at ${field}[${seenAccounts.get(entry.account)}] (one provider per issuer per account)`, 'list each account once, with all of its roleIds');
    } else {
      seenAccounts.set(entry.account, index);
    }
    const region = entry.region ?? cluster.env?.region;
    if (entry.region !== undefined && !REGION.test(entry.region)) fail(`${at}.region`, entry.region, 'is not an AWS region name', 'give a region such as "eu-west-1", or remove it to use the cluster\'s env.region');

    const roles: ServiceAccountRoleConfig[] = [];
    entry.roleIds.forEach((roleId, roleIndex) => {
      const role = rolesById.get(roleId);
      if (!role) {
        const known = [...rolesById.keys()];
        fail(`${at}.roleIds[${roleIndex}]`, roleId, 'is not the id of one of the cluster\'s serviceAccountRoles', known.length > 0 ? `use one of ${JSON.stringify(known)}` : 'declare the role in serviceAccountRoles first');
        return;
      }
      const elsewhere = placed.get(roleId);
      if (elsewhere !== undefined) {
        fail(`${at}.roleIds[${roleIndex}]`, roleId, `is already placed in account ${elsewhere} (a role lives in one account)`, 'declare a second role with its own id for the same service account if it needs a role in both accounts');
        return;
      }
      placed.set(roleId, entry.account);
      roles.push(role);
    });

    const existing = entry.existingOidcProviderArn;
    if (existing !== undefined) {
      const match = PROVIDER_ARN.exec(existing);
      if (!match) {
        fail(`${at}.existingOidcProviderArn`, existing, 'is not an IAM OIDC provider ARN', `give arn:aws:iam::${entry.account}:oidc-provider/${hostPath || 'HOST/PATH'}, or remove it to create the provider`);
      } else if (match[1] !== entry.account) {
        fail(`${at}.existingOidcProviderArn`, existing, `is in account ${match[1]}, not ${entry.account} (a role trusts only a provider of its own account)`, `import the provider of account ${entry.account}, or remove it to create one`);
      } else if (issuerUrl !== '' && match[2] !== hostPath) {
        fail(`${at}.existingOidcProviderArn`, existing, `is for ${JSON.stringify(match[2])}, not the issuer ${JSON.stringify(hostPath)}`, 'import the provider registered for this issuer URL, or remove it to create one');
      } else if (roles.length === 0 && entry.roleIds.length === 0) {
        fail(`${at}.roleIds`, entry.roleIds, 'is empty and the provider is imported, so the stack would be empty', `list the roles of account ${entry.account}, or remove this ${field} entry`);
      }
    }

    if (problems.length > before) return;
    accounts.push({
      stackId: federationStackIdFor(cluster.name, entry.account),
      clusterName: cluster.name,
      account: entry.account,
      ...(region !== undefined ? { region } : {}),
      issuerUrl,
      clientIds: cluster.audiences,
      ...(existing !== undefined ? { existingOidcProviderArn: existing } : {}),
      roles,
    });
  });

  if (problems.length > 0) throw new ConfigValidationError(problems);
  return {
    homeRoles: cluster.serviceAccountRoles.filter((role) => !placed.has(role.id)),
    movedRoleIds: [...placed.keys()],
    accounts,
  };
}
