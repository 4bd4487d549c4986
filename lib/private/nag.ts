/**
 * cdk-nag 3 acknowledgements. cdk-nag 3 reads CDK's own `Validations.of(scope).acknowledge()`
 * metadata (v2's `NagSuppressions` is gone), and a finding-level rule such as IAM5 must be
 * acknowledged per finding (`AwsSolutions-IAM5[Resource::*]`).
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag rule (or one finding of it) on a construct and its children. */
export function acknowledgeNag(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** The IAM policy statement shape cdk-nag's IAM5 rule inspects. */
interface StatementJson {
  readonly Effect?: unknown;
  readonly Action?: unknown;
  readonly Resource?: unknown;
}

/**
 * The AwsSolutions-IAM5 finding ids cdk-nag reports for literal (token-free) statements: one per
 * action and per resource containing a wildcard, in Allow statements only.
 */
export function wildcardFindings(statements: readonly StatementJson[]): string[] {
  const findings = new Set<string>();
  const list = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string');
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') continue;
    for (const action of list(statement.Action)) if (action.includes('*')) findings.add(`AwsSolutions-IAM5[Action::${action}]`);
    for (const resource of list(statement.Resource)) if (resource.includes('*')) findings.add(`AwsSolutions-IAM5[Resource::${resource}]`);
  }
  return [...findings];
}

/** The AwsSolutions-IAM4 finding ids cdk-nag reports for AWS-managed policy ARNs. */
export function managedPolicyFindings(policyArns: readonly string[]): string[] {
  return policyArns.filter((arn) => arn.includes(':iam::aws:')).map((arn) => `AwsSolutions-IAM4[Policy::${arn}]`);
}
