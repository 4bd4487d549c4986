import { CfnJson, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { IDependable } from 'constructs';
import type { ServiceAccountRoleConfig } from '../../core/config';
import { issuerHostPath, serviceAccountSubject, trustConditions } from '../../core/trust-policy';
import type { ServiceAccountSubject } from '../../core/trust-policy';
import { acknowledgeNag, managedPolicyFindings, wildcardFindings } from '../private/nag';

/** The audience AWS STS expects, the default client ID of the provider. */
const STS_AUDIENCE = 'sts.amazonaws.com';

/** One role assumable by Kubernetes service accounts with their projected tokens. */
export interface ServiceAccountRoleProps extends ServiceAccountSubject {
  /** Construct id of the role; keep it stable, since changing it replaces the role (new ARN). */
  readonly id: string;
  /**
   * The `aud` the pod's token must carry (the projected volume's `audience`).
   * @default 'sts.amazonaws.com'
   */
  readonly audience?: string;
  /**
   * Managed policies attached to the role.
   * @default - none
   */
  readonly managedPolicies?: readonly iam.IManagedPolicy[];
  /**
   * Statements of the role's inline policy.
   * @default - none
   */
  readonly inlineStatements?: readonly iam.PolicyStatement[];
  /**
   * Longest session the pod can request.
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: iam.RoleProps['maxSessionDuration'];
  /**
   * Where the role's permissions were chosen and reviewed (for example `serviceAccountRoles "x" of
   * the cluster config`). When set, cdk-nag's findings on AWS-managed policies and wildcards in
   * these permissions are acknowledged with a pointer there, since they are the operator's choice.
   * @default - findings are not acknowledged
   */
  readonly permissionsChosenIn?: string;
}

/** Properties of {@link Federation}. */
export interface FederationProps {
  /** The issuer URL (may be a deploy-time token), exactly as tokens' `iss`. */
  readonly issuerUrl: string;
  /**
   * Client IDs (audiences) of the IAM OIDC provider.
   * @default ['sts.amazonaws.com']
   */
  readonly clientIds?: readonly string[];
  /**
   * Use this existing provider instead of creating one (IAM allows one provider per URL).
   * @default - a provider is created (and retained when the stack is deleted)
   */
  readonly existingProviderArn?: string;
  /**
   * What must exist before IAM contacts the issuer host: without a thumbprint IAM fetches the
   * host's certificate when the provider is created (the distribution, and its DNS records).
   * @default - no extra dependency
   */
  readonly issuerReachableVia?: readonly IDependable[];
  /**
   * Roles for service accounts.
   * @default - none
   */
  readonly serviceAccountRoles?: readonly ServiceAccountRoleProps[];
}

/**
 * IAM federation for the cluster's service accounts (self-hosted IRSA): the IAM OIDC provider for
 * the issuer and one role per service account, whose trust policy checks both `sub` and `aud`.
 *
 * Trust conditions come from core/trust-policy.ts, the same code the CLI uses. When the issuer is
 * a deploy-time token (CloudFront default domain), the condition keys contain that token, and
 * CloudFormation cannot use a token as a JSON key: `CfnJson` resolves them at deploy time.
 */
export class Federation extends Construct {
  /** The provider (created, or imported by ARN). */
  readonly provider: iam.IOidcProvider;
  /** The roles, by their id. */
  readonly roles: ReadonlyMap<string, iam.Role>;

  constructor(scope: Construct, id: string, props: FederationProps) {
    super(scope, id);
    if (props.existingProviderArn) {
      this.provider = iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.existingProviderArn);
    } else {
      const provider = new iam.OidcProviderNative(this, 'Provider', {
        url: props.issuerUrl,
        clientIds: [...(props.clientIds ?? [STS_AUDIENCE])],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      for (const dependency of props.issuerReachableVia ?? []) provider.node.addDependency(dependency);
      this.provider = provider;
    }

    const hostPath = issuerHostPath(props.issuerUrl);
    const roles = new Map<string, iam.Role>();
    for (const spec of props.serviceAccountRoles ?? []) {
      roles.set(spec.id, this.createRole(spec, hostPath));
    }
    this.roles = roles;
  }

  private createRole(spec: ServiceAccountRoleProps, hostPath: string): iam.Role {
    const scope = new Construct(this, spec.id);
    const conditions = trustConditions(hostPath, spec, spec.audience ?? STS_AUDIENCE);
    const principalConditions: Record<string, unknown> = {};
    for (const [operator, block] of Object.entries(conditions)) {
      principalConditions[operator] = Token.isUnresolved(hostPath) ? new CfnJson(scope, `${operator}Condition`, { value: block }) : block;
    }
    const subject = spec.match === 'namespace'
      ? `every service account of namespace ${spec.namespace}`
      : spec.match === 'namePrefix'
        ? `service accounts ${serviceAccountSubject(spec.namespace, `${spec.serviceAccount ?? ''}*`)}`
        : serviceAccountSubject(spec.namespace, spec.serviceAccount ?? '');
    const role = new iam.Role(scope, 'Role', {
      description: `Assumed with projected tokens by ${subject}`.slice(0, 1000),
      assumedBy: new iam.WebIdentityPrincipal(this.provider.oidcProviderArn, principalConditions),
      managedPolicies: [...(spec.managedPolicies ?? [])],
      ...(spec.maxSessionDuration ? { maxSessionDuration: spec.maxSessionDuration } : {}),
      ...(spec.inlineStatements && spec.inlineStatements.length > 0
        ? { inlinePolicies: { ServiceAccountPermissions: new iam.PolicyDocument({ statements: [...spec.inlineStatements] }) } }
        : {}),
    });
    if (spec.permissionsChosenIn) acknowledgeOperatorPermissions(role, spec, spec.permissionsChosenIn);
    return role;
  }
}

/**
 * The construct props of a role of the cluster config (`serviceAccountRoles`), its managed policies
 * imported by ARN in `scope`. Both the cluster's stack and the federation stacks in other accounts
 * build their roles with it, so a role is the same wherever it lives.
 */
export function serviceAccountRolePropsFromConfig(scope: Construct, role: ServiceAccountRoleConfig): ServiceAccountRoleProps {
  return {
    id: role.id,
    namespace: role.namespace,
    ...(role.serviceAccount !== undefined ? { serviceAccount: role.serviceAccount } : {}),
    match: role.match,
    audience: role.audience,
    managedPolicies: role.managedPolicyArns.map((arn, i) => iam.ManagedPolicy.fromManagedPolicyArn(scope, `${role.id}ManagedPolicy${i}`, arn)),
    inlineStatements: role.inlinePolicyStatements.map((statement) => iam.PolicyStatement.fromJson(statement)),
    permissionsChosenIn: `serviceAccountRoles "${role.id}" of the cluster config`,
  };
}

/** Acknowledges the AwsSolutions findings that the operator's own permission choices raise. */
function acknowledgeOperatorPermissions(role: iam.Role, spec: ServiceAccountRoleProps, where: string): void {
  const policyArns = (spec.managedPolicies ?? []).map((policy) => policy.managedPolicyArn).filter((arn) => !Token.isUnresolved(arn));
  const statements = (spec.inlineStatements ?? []).map((statement) => statement.toStatementJson() as Record<string, unknown>);
  for (const id of managedPolicyFindings(policyArns)) acknowledgeNag(role, id, `Managed policy chosen by the operator in ${where}.`);
  for (const id of wildcardFindings(statements)) acknowledgeNag(role, id, `Permission chosen by the operator in ${where}.`);
}
