/**
 * The web-identity trust policy: exact condition blocks per match mode, and condition keys that
 * IAM can match (no scheme, no trailing slash).
 */
import { issuerHostPath, serviceAccountSubject, trustConditions, trustPolicyDocument } from '../../core/trust-policy';

const HOST_PATH = 'oidc.example.com/cluster-a';
const PROVIDER_ARN = 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-a';

describe('serviceAccountSubject', () => {
  it('is the sub of a projected service-account token', () => {
    expect(serviceAccountSubject('payments', 'api')).toBe('system:serviceaccount:payments:api');
  });
});

describe('issuerHostPath', () => {
  it.each([
    ['https://oidc.example.com/cluster-a', 'oidc.example.com/cluster-a'],
    ['https://oidc.example.com/cluster-a/', 'oidc.example.com/cluster-a'],
    ['https://oidc.example.com/cluster-a//', 'oidc.example.com/cluster-a'],
    ['https://oidc.example.com', 'oidc.example.com'],
    ['https://oidc.example.com/', 'oidc.example.com'],
  ])('%s gives %s', (issuer, hostPath) => {
    expect(issuerHostPath(issuer)).toBe(hostPath);
  });
});

describe('trustConditions', () => {
  it('exact: aud and sub both StringEquals, nothing else', () => {
    expect(trustConditions(HOST_PATH, { namespace: 'payments', serviceAccount: 'api', match: 'exact' }, 'sts.amazonaws.com')).toEqual({
      StringEquals: {
        'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com',
        'oidc.example.com/cluster-a:sub': 'system:serviceaccount:payments:api',
      },
    });
  });

  it('exact is the default', () => {
    const explicit = trustConditions(HOST_PATH, { namespace: 'payments', serviceAccount: 'api', match: 'exact' }, 'sts.amazonaws.com');
    expect(trustConditions(HOST_PATH, { namespace: 'payments', serviceAccount: 'api' }, 'sts.amazonaws.com')).toEqual(explicit);
  });

  it('namespace: aud StringEquals, every service account of the namespace StringLike', () => {
    expect(trustConditions(HOST_PATH, { namespace: 'payments', match: 'namespace' }, 'sts.amazonaws.com')).toEqual({
      StringEquals: { 'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com' },
      StringLike: { 'oidc.example.com/cluster-a:sub': 'system:serviceaccount:payments:*' },
    });
  });

  it('namespace ignores a service account name', () => {
    expect(trustConditions(HOST_PATH, { namespace: 'payments', serviceAccount: 'api', match: 'namespace' }, 'sts.amazonaws.com')).toEqual(
      trustConditions(HOST_PATH, { namespace: 'payments', match: 'namespace' }, 'sts.amazonaws.com'),
    );
  });

  it('namePrefix: aud StringEquals, names starting with the prefix StringLike', () => {
    expect(trustConditions(HOST_PATH, { namespace: 'batch', serviceAccount: 'etl-', match: 'namePrefix' }, 'sts.amazonaws.com')).toEqual({
      StringEquals: { 'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com' },
      StringLike: { 'oidc.example.com/cluster-a:sub': 'system:serviceaccount:batch:etl-*' },
    });
  });

  it('carries the audience it is given', () => {
    const conditions = trustConditions(HOST_PATH, { namespace: 'payments', serviceAccount: 'api' }, 'api.payments.internal');
    expect(conditions.StringEquals['oidc.example.com/cluster-a:aud']).toBe('api.payments.internal');
  });

  it.each(['exact', 'namePrefix'] as const)('%s refuses a subject without a service account name', (match) => {
    expect(() => trustConditions(HOST_PATH, { namespace: 'payments', match }, 'sts.amazonaws.com')).toThrow(
      `a service account name is required for match "${match}" in namespace payments`,
    );
  });
});

describe('trustPolicyDocument', () => {
  it('is one AssumeRoleWithWebIdentity statement for the provider, with the exact conditions', () => {
    expect(trustPolicyDocument(PROVIDER_ARN, 'https://oidc.example.com/cluster-a', { namespace: 'payments', serviceAccount: 'api' }, 'sts.amazonaws.com')).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: PROVIDER_ARN },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com',
              'oidc.example.com/cluster-a:sub': 'system:serviceaccount:payments:api',
            },
          },
        },
      ],
    });
  });

  it.each([
    'https://oidc.example.com/cluster-a/',
    'https://oidc.example.com/',
    'https://oidc.example.com',
  ])('never puts a scheme or a trailing slash in a condition key (which would never match): %s', (issuer) => {
    for (const match of ['exact', 'namespace', 'namePrefix'] as const) {
      const document = trustPolicyDocument(PROVIDER_ARN, issuer, { namespace: 'payments', serviceAccount: 'api', match }, 'sts.amazonaws.com') as {
        Statement: { Condition: Record<string, Record<string, string>> }[];
      };
      const conditionKeys = Object.values(document.Statement[0].Condition).flatMap((block) => Object.keys(block));
      expect(conditionKeys).toHaveLength(2);
      for (const key of conditionKeys) {
        expect(key).toMatch(/^oidc\.example\.com(\/cluster-a)?:(aud|sub)$/);
        expect(key).not.toContain('/:');
        expect(key).not.toContain('https://');
      }
    }
  });
});
