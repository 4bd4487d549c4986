/**
 * The pure mapping from a validated cluster and its accounts to federation stacks: placement of
 * roles, stack ids and environments, and the problems it refuses with a fix.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigValidationError, validateConfig } from '../../core/config';
import type { ClusterConfig } from '../../core/config';
import { federationStackIdFor, planFederationAccounts } from '../../core/federation-accounts';
import type { FederationAccountEntry } from '../../core/federation-accounts';

const PEM = readFileSync(join(__dirname, '..', 'fixtures', 'kube-format', 'sa-ec.pub'), 'utf8');

function cluster(overrides: Record<string, unknown> = {}): ClusterConfig {
  const [validated] = validateConfig({
    clusters: [{
      name: 'prod',
      env: { account: '123456789012', region: 'eu-west-1' },
      issuer: { url: 'https://oidc.example.com/prod', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' },
      audiences: ['sts.amazonaws.com', 'vault.example.com'],
      keySources: { configKeys: [{ pem: PEM }] },
      serviceAccountRoles: [
        { id: 'payments-api', namespace: 'payments', serviceAccount: 'api' },
        { id: 's3-reader', namespace: 'data', serviceAccount: 'reader' },
        { id: 'vault-auth', namespace: 'vault', serviceAccount: 'vault', audience: 'vault.example.com' },
      ],
      verifyApi: { enabled: false },
      ...overrides,
    }],
  });
  return validated;
}

/** The problems a plan is refused with (fails the test when it is not refused). */
function problemsOf(config: ClusterConfig, entries: FederationAccountEntry[]): readonly string[] {
  try {
    planFederationAccounts(config, entries);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('the plan was accepted');
}

describe('planFederationAccounts', () => {
  test('no accounts: every role stays home and no stack is planned', () => {
    const prod = cluster();
    expect(planFederationAccounts(prod, [])).toEqual({ homeRoles: prod.serviceAccountRoles, movedRoleIds: [], accounts: [] });
  });

  test('roles move to their account, in config order, and only the others stay home', () => {
    const prod = cluster();
    const plan = planFederationAccounts(prod, [
      { account: '111111111111', roleIds: ['s3-reader'] },
      { account: '222222222222', region: 'us-east-2', roleIds: ['vault-auth'], existingOidcProviderArn: 'arn:aws:iam::222222222222:oidc-provider/oidc.example.com/prod' },
    ]);
    expect(plan.homeRoles.map((r) => r.id)).toEqual(['payments-api']);
    expect(plan.movedRoleIds).toEqual(['s3-reader', 'vault-auth']);
    expect(plan.accounts).toEqual([
      {
        stackId: 'OidcFederation-prod-111111111111',
        clusterName: 'prod',
        account: '111111111111',
        region: 'eu-west-1',
        issuerUrl: 'https://oidc.example.com/prod',
        clientIds: ['sts.amazonaws.com', 'vault.example.com'],
        roles: [prod.serviceAccountRoles[1]],
      },
      {
        stackId: 'OidcFederation-prod-222222222222',
        clusterName: 'prod',
        account: '222222222222',
        region: 'us-east-2',
        issuerUrl: 'https://oidc.example.com/prod',
        clientIds: ['sts.amazonaws.com', 'vault.example.com'],
        existingOidcProviderArn: 'arn:aws:iam::222222222222:oidc-provider/oidc.example.com/prod',
        roles: [prod.serviceAccountRoles[2]],
      },
    ]);
  });

  test('an account with no roles gets the provider alone; without env the region is left to the CLI', () => {
    const plan = planFederationAccounts(cluster({ env: undefined }), [{ account: '111111111111', roleIds: [] }]);
    expect(plan.accounts).toHaveLength(1);
    expect(plan.accounts[0].roles).toEqual([]);
    expect(plan.accounts[0]).not.toHaveProperty('region');
    expect(plan.homeRoles).toHaveLength(3);
  });

  test('stack ids name the cluster and the account', () => {
    expect(federationStackIdFor('prod-eu', '111111111111')).toBe('OidcFederation-prod-eu-111111111111');
  });

  test('the CloudFront default domain is refused, naming the issuer field and the fix', () => {
    const problems = problemsOf(cluster({ issuer: undefined }), [{ account: '111111111111', roleIds: ['s3-reader'] }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^cluster "prod", issuer = \(CloudFront default domain\): federationAccounts needs an issuer URL known at synth time/);
    expect(problems[0]).toContain('Fix: give the cluster a custom-domain issuer');
  });

  test('every problem is reported at once, each with the cluster, the field, the value and a fix', () => {
    const problems = problemsOf(cluster(), [
      { account: '12345', roleIds: ['s3-reader'] },
      { account: '123456789012', roleIds: [] },
      { account: '111111111111', region: 'Europe', roleIds: ['nope', 's3-reader'] },
      { account: '111111111111', roleIds: [] },
      { account: '222222222222', roleIds: ['vault-auth'], existingOidcProviderArn: 'arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod' },
      { account: '444444444444', roleIds: ['payments-api'], existingOidcProviderArn: 'arn:aws:iam::444444444444:oidc-provider/oidc.example.com/other' },
      { account: '555555555555', roleIds: [], existingOidcProviderArn: 'arn:aws:iam::555555555555:oidc-provider/oidc.example.com/prod' },
      { account: '666666666666', roleIds: [], existingOidcProviderArn: 'not-an-arn' },
    ]);
    expect(problems).toEqual([
      'cluster "prod", federationAccounts[0].account = "12345": is not a 12-digit AWS account id. Fix: give the account that holds the roles, e.g. "111111111111".',
      'cluster "prod", federationAccounts[1].account = "123456789012": is the cluster\'s own account (env.account). Fix: keep these roles in serviceAccountRoles only and remove this federationAccounts entry.',
      'cluster "prod", federationAccounts[2].region = "Europe": is not an AWS region name. Fix: give a region such as "eu-west-1", or remove it to use the cluster\'s env.region.',
      'cluster "prod", federationAccounts[2].roleIds[0] = "nope": is not the id of one of the cluster\'s serviceAccountRoles. Fix: use one of ["payments-api","s3-reader","vault-auth"].',
      'cluster "prod", federationAccounts[2].roleIds[1] = "s3-reader": is already placed in account 12345 (a role lives in one account). Fix: declare a second role with its own id for the same service account if it needs a role in both accounts.',
      'cluster "prod", federationAccounts[3].account = "111111111111": is already listed at federationAccounts[2] (one provider per issuer per account). Fix: list each account once, with all of its roleIds.',
      'cluster "prod", federationAccounts[4].existingOidcProviderArn = "arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod": is in account 333333333333, not 222222222222 (a role trusts only a provider of its own account). Fix: import the provider of account 222222222222, or remove it to create one.',
      'cluster "prod", federationAccounts[5].existingOidcProviderArn = "arn:aws:iam::444444444444:oidc-provider/oidc.example.com/other": is for "oidc.example.com/other", not the issuer "oidc.example.com/prod". Fix: import the provider registered for this issuer URL, or remove it to create one.',
      'cluster "prod", federationAccounts[6].roleIds = []: is empty and the provider is imported, so the stack would be empty. Fix: list the roles of account 555555555555, or remove this federationAccounts entry.',
      'cluster "prod", federationAccounts[7].existingOidcProviderArn = "not-an-arn": is not an IAM OIDC provider ARN. Fix: give arn:aws:iam::666666666666:oidc-provider/oidc.example.com/prod, or remove it to create the provider.',
    ]);
  });

  test('the field name in problems follows the caller', () => {
    expect(() => planFederationAccounts(cluster(), [{ account: 'x', roleIds: [] }], 'clusters[0].accounts')).toThrow(/clusters\[0\]\.accounts\[0\]\.account = "x"/);
  });
});
