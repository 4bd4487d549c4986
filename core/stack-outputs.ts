/**
 * Names of the CloudFormation outputs the stacks write and the CLI reads back from
 * `cdk deploy --outputs-file`. One definition, so the writer (lib/) and the reader (cli/) cannot
 * drift; pure, so the CLI can use it without pulling aws-cdk-lib in.
 */

/**
 * The output naming a role's ARN: the role id (kebab-case, see config) in PascalCase plus
 * `RoleArn`, e.g. `payments-api` -> `PaymentsApiRoleArn`.
 */
export function roleArnOutputKey(roleId: string): string {
  const pascal = roleId
    .split('-')
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
  return `${pascal}RoleArn`;
}
