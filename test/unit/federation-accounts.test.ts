/**
 * The pure mapping from a validated cluster's `federationAccounts` to federation stacks: placement
 * of roles, stack ids and environments. The entries' rules are the configuration's and are
 * asserted through `validateConfig`: here the ones test/unit/config-fleet.test.ts does not assert
 * (region, provider ARN format, a role twice in one entry, an imported provider with no roles).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigValidationError, validateConfig } from '../../core/config';
import type { ClusterConfig } from '../../core/config';
import { federationStackIdFor, planFederationAccounts } from '../../core/federation-accounts';

const PEM = readFileSync(join(__dirname, '..', 'fixtures', 'kube-format', 'sa-ec.pub'), 'utf8');

function rawCluster(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
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
  };
}

function cluster(overrides: Record<string, unknown> = {}): ClusterConfig {
  const [validated] = validateConfig({ clusters: [rawCluster(overrides)] });
  return validated;
}

/** The problems validateConfig refuses these federation accounts with (fails the test when it accepts them). */
function problemsOf(federationAccounts: unknown[]): readonly string[] {
  try {
    validateConfig({ clusters: [rawCluster({ federationAccounts })] });
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

describe('planFederationAccounts', () => {
  test('no accounts: every role stays home and no stack is planned', () => {
    const prod = cluster();
    expect(planFederationAccounts(prod)).toEqual({ homeRoles: prod.serviceAccountRoles, movedRoleIds: [], accounts: [] });
  });

  test('roles move to their account, in config order, and only the others stay home', () => {
    const prod = cluster({
      federationAccounts: [
        { account: '111111111111', roleIds: ['s3-reader'] },
        { account: '222222222222', region: 'us-east-2', roleIds: ['vault-auth'], existingOidcProviderArn: 'arn:aws:iam::222222222222:oidc-provider/oidc.example.com/prod' },
      ],
    });
    const plan = planFederationAccounts(prod);
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

  test('one account may hold several roles; without env the region is left to the CLI', () => {
    const plan = planFederationAccounts(cluster({ env: undefined, federationAccounts: [{ account: '111111111111', roleIds: ['vault-auth', 'payments-api'] }] }));
    expect(plan.accounts).toHaveLength(1);
    expect(plan.accounts[0].roles.map((r) => r.id)).toEqual(['payments-api', 'vault-auth']);
    expect(plan.accounts[0]).not.toHaveProperty('region');
    expect(plan.movedRoleIds).toEqual(['payments-api', 'vault-auth']);
    expect(plan.homeRoles.map((r) => r.id)).toEqual(['s3-reader']);
  });

  test('stack ids name the cluster and the account', () => {
    expect(federationStackIdFor('prod-eu', '111111111111')).toBe('OidcFederation-prod-eu-111111111111');
  });

  test('a cluster that skipped validateConfig without a custom-domain issuer is refused, not planned with an empty URL', () => {
    const unvalidated: ClusterConfig = { ...cluster(), issuer: { kind: 'cloudFrontDefault' }, federationAccounts: [{ account: '111111111111', roleIds: ['s3-reader'] }] };
    expect(() => planFederationAccounts(unvalidated)).toThrow('cluster "prod": federationAccounts need a custom-domain issuer; validate the configuration with validateConfig');
  });
});

describe('the entries\' rules, enforced by validateConfig', () => {
  test('a region that is not an AWS region name', () => {
    expect(problemsOf([{ account: '111111111111', region: 'Europe', roleIds: ['s3-reader'] }])).toEqual([
      'cluster "prod", federationAccounts[0].region = "Europe": is not an AWS region name. Fix: give a region such as "eu-west-1".',
    ]);
  });

  test('an existing provider that is not an IAM OIDC provider ARN', () => {
    expect(problemsOf([{ account: '111111111111', roleIds: ['s3-reader'], existingOidcProviderArn: 'not-an-arn' }])).toEqual([
      'cluster "prod", federationAccounts[0].existingOidcProviderArn = "not-an-arn": is not an IAM OIDC provider ARN. Fix: give arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH], as `aws iam list-open-id-connect-providers` shows in that account.',
    ]);
  });

  test('a role listed twice in one account', () => {
    expect(problemsOf([{ account: '111111111111', roleIds: ['s3-reader', 's3-reader'] }])).toEqual([
      'cluster "prod", federationAccounts[0].roleIds[1] = "s3-reader": is listed twice. Fix: give each role one account: a role id names one role and one stack output.',
    ]);
  });

  test('an imported provider with no roles (the stack would be empty)', () => {
    expect(problemsOf([{ account: '111111111111', roleIds: [], existingOidcProviderArn: 'arn:aws:iam::111111111111:oidc-provider/oidc.example.com/prod' }])).toEqual([
      'cluster "prod", federationAccounts[0].roleIds = []: is empty. Fix: list the ids of the serviceAccountRoles to create in this account, or remove the account.',
    ]);
  });

  test('the cross-field problems of every entry at once, each naming the cluster, the field and the value', () => {
    // Shape problems (formats, duplicates) come first and alone: the cross-field rules of
    // core/config-rules.ts run once the shape is valid.
    const problems = problemsOf([
      { account: '123456789012', roleIds: ['nope'] },
      { account: '222222222222', roleIds: ['s3-reader'], existingOidcProviderArn: 'arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod' },
      { account: '444444444444', roleIds: ['vault-auth'], existingOidcProviderArn: 'arn:aws:iam::444444444444:oidc-provider/oidc.example.com/other' },
    ]);
    expect(problems.map((p) => p.slice(0, p.indexOf(': ', p.indexOf(' = '))))).toEqual([
      'cluster "prod", federationAccounts[0].account = "123456789012"',
      'cluster "prod", federationAccounts[0].roleIds[0] = "nope"',
      'cluster "prod", federationAccounts[1].existingOidcProviderArn = "arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod"',
      'cluster "prod", federationAccounts[2].existingOidcProviderArn = "arn:aws:iam::444444444444:oidc-provider/oidc.example.com/other"',
    ]);
  });
});
