/**
 * The IAM trust policy that lets one Kubernetes service account assume a role with its projected
 * token (`sts:AssumeRoleWithWebIdentity`), shared by the CDK construct and the CLI so they cannot
 * drift.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html
 */

/** Which service accounts a role trusts. */
export interface ServiceAccountSubject {
  /** Kubernetes namespace, or a prefix of names with `match: 'namePrefix'`. */
  readonly namespace: string;
  /** Service account name (ignored with `match: 'namespace'`). */
  readonly serviceAccount?: string;
  /**
   * `exact` trusts one service account; `namespace` every service account of the namespace;
   * `namePrefix` every service account of the namespace whose name starts with `serviceAccount`.
   * @default 'exact'
   */
  readonly match?: 'exact' | 'namespace' | 'namePrefix';
}

/** The `sub` a projected token carries for a service account. */
export function serviceAccountSubject(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * The issuer as IAM condition keys name it: the URL without `https://` (and never with a
 * trailing slash, which would make the condition silently never match).
 */
export function issuerHostPath(issuer: string): string {
  return issuer.replace(/^https:\/\//, '').replace(/\/+$/, '');
}

/** The condition block of a web-identity trust statement: `aud` and `sub` both checked. */
export function trustConditions(hostPath: string, subject: ServiceAccountSubject, audience: string): Record<string, Record<string, string>> {
  const match = subject.match ?? 'exact';
  const audCondition = { [`${hostPath}:aud`]: audience };
  if (match === 'exact') {
    return { StringEquals: { ...audCondition, [`${hostPath}:sub`]: serviceAccountSubject(subject.namespace, requireName(subject)) } };
  }
  const pattern = match === 'namespace'
    ? serviceAccountSubject(subject.namespace, '*')
    : serviceAccountSubject(subject.namespace, `${requireName(subject)}*`);
  return { StringEquals: audCondition, StringLike: { [`${hostPath}:sub`]: pattern } };
}

/** A complete trust policy document for a role assumed by a service account. */
export function trustPolicyDocument(providerArn: string, issuer: string, subject: ServiceAccountSubject, audience: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: trustConditions(issuerHostPath(issuer), subject, audience),
      },
    ],
  };
}

function requireName(subject: ServiceAccountSubject): string {
  if (!subject.serviceAccount) throw new Error(`a service account name is required for match "${subject.match ?? 'exact'}" in namespace ${subject.namespace}`);
  return subject.serviceAccount;
}
