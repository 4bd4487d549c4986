/**
 * Issue 14's configuration: fleet verifiers (one Verify API trusting several clusters of the file
 * and external issuers) and per-cluster federation accounts (roles in other AWS accounts), with
 * their cross-references checked and every message asserted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { ConfigValidationError, validateConfigFile } from '../../core/config';
import { planFederationAccounts } from '../../core/federation-accounts';
import { docBlock } from '../docs/support/doc-blocks';
import { DOCS_EXAMPLE_CONFIG, exampleConfig } from '../docs/support/example-config';

const RSA_PUB = readFileSync(join(__dirname, '..', 'fixtures', 'kube-format', 'sa-rsa.pub'), 'utf8');
const SCHEMA = JSON.parse(readFileSync(join(__dirname, '..', '..', 'config', 'clusters.schema.json'), 'utf8')) as object;
const EKS_ISSUER = 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';

type Json = Record<string, unknown>;

function cluster(name: string, change: Json = {}): Json {
  return {
    name,
    env: { account: '111111111111', region: 'eu-west-1' },
    issuer: {
      url: `https://oidc.example.com/${name}`,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d-1111-2222-3333-444455556666',
    },
    keySources: { configKeys: [{ pem: RSA_PUB }] },
    serviceAccountRoles: [
      { id: 'payments-api', namespace: 'payments', serviceAccount: 'api' },
      { id: 'reports', namespace: 'reports', serviceAccount: 'builder' },
    ],
    verifyApi: { enabled: false },
    ...change,
  };
}

/** Two clusters with roles in two other accounts, one fleet trusting both and an EKS cluster. */
function multiAccount(): Json {
  return {
    clusters: [
      cluster('prod-eu', { federationAccounts: [{ account: '222222222222', roleIds: ['payments-api'] }, { account: '333333333333', roleIds: ['reports'] }] }),
      cluster('prod-us', { federationAccounts: [{ account: '222222222222', roleIds: ['payments-api'], existingOidcProviderArn: 'arn:aws:iam::222222222222:oidc-provider/oidc.example.com/prod-us' }] }),
    ],
    fleetVerifiers: [{
      name: 'fleet',
      env: { account: '111111111111', region: 'eu-west-1' },
      clusters: ['prod-eu', 'prod-us'],
      externalIssuers: [{ url: EKS_ISSUER, name: 'eks-prod' }],
      audiences: ['verify.example.com'],
      iamAuth: true,
      routeThrottles: { tokenReview: { rateLimit: 100, burstLimit: 200 } },
    }],
  };
}

function problemsOf(raw: unknown): readonly string[] {
  try {
    validateConfigFile(raw);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected validateConfigFile to throw');
}

function withFleet(change: Json): Json {
  const config = multiAccount();
  const [fleet] = config.fleetVerifiers as Json[];
  config.fleetVerifiers = [{ ...fleet, ...change }];
  return config;
}

function withFederation(entries: unknown[], clusterChange: Json = {}): Json {
  return { clusters: [cluster('prod-eu', { federationAccounts: entries, ...clusterChange })] };
}

describe('a multi-account configuration', () => {
  test('is valid, with defaults applied to the fleet and the accounts', () => {
    const { clusters, fleetVerifiers } = validateConfigFile(multiAccount());
    expect(clusters.map((c) => c.federationAccounts)).toEqual([
      [{ account: '222222222222', roleIds: ['payments-api'] }, { account: '333333333333', roleIds: ['reports'] }],
      [{ account: '222222222222', roleIds: ['payments-api'], existingOidcProviderArn: 'arn:aws:iam::222222222222:oidc-provider/oidc.example.com/prod-us' }],
    ]);
    expect(fleetVerifiers).toEqual([{
      name: 'fleet',
      stackId: 'OidcFleet-fleet',
      env: { account: '111111111111', region: 'eu-west-1' },
      clusters: [{ name: 'prod-eu' }, { name: 'prod-us' }],
      externalIssuers: [{ url: EKS_ISSUER, name: 'eks-prod' }],
      audiences: ['verify.example.com'],
      defaultAudiences: ['verify.example.com'],
      allowSharedAudiences: false,
      iamAuth: true,
      throttle: { rateLimit: 50, burstLimit: 100 },
      routeThrottles: { tokenReview: { rateLimit: 100, burstLimit: 200 } },
      clockSkewSeconds: 60,
      maxTokenBytes: 16384,
      keysTtlSeconds: 60,
      unknownKidCooldownSeconds: 30,
      staleWindowSeconds: 900,
      alarms: { emails: [] },
      warnings: [],
    }]);
  });

  test('satisfies the JSON Schema too', () => {
    const validate = new Ajv({ allErrors: true, strictRequired: false }).compile(SCHEMA);
    expect(validate(multiAccount())).toBe(true);
  });

  test('a file without fleets or federation has none', () => {
    const { clusters, fleetVerifiers } = validateConfigFile({ clusters: [cluster('solo')] });
    expect(fleetVerifiers).toEqual([]);
    expect(clusters[0].federationAccounts).toEqual([]);
  });
});

describe('fleet verifiers: cross-references', () => {
  test('a fleet naming an unknown cluster', () => {
    expect(problemsOf(withFleet({ clusters: ['prod-eu', 'prod-asia'] }))).toEqual([
      'fleet "fleet", clusters[1] = "prod-asia": names no cluster of this file. Fix: use one of ["prod-eu","prod-us"], or trust an issuer of elsewhere with externalIssuers.',
    ]);
  });

  test('a cluster listed twice', () => {
    expect(problemsOf(withFleet({ clusters: ['prod-eu', 'prod-eu'] }))).toEqual([
      'fleet "fleet", clusters[1] = "prod-eu": is listed twice. Fix: remove the duplicate.',
    ]);
  });

  test('a fleet trusting nobody', () => {
    expect(problemsOf(withFleet({ clusters: [], externalIssuers: [] }))).toEqual([
      'fleet "fleet", clusters = []: names no cluster, and externalIssuers is empty. Fix: list the clusters (or external issuers) whose tokens the fleet accepts.',
    ]);
  });

  test('an external issuer that is a cluster of the file', () => {
    expect(problemsOf(withFleet({ externalIssuers: [{ url: 'https://oidc.example.com/prod-eu' }] }))).toEqual([
      'fleet "fleet", externalIssuers[0].url = "https://oidc.example.com/prod-eu": is the issuer of cluster "prod-eu", already in clusters. Fix: remove the external issuer: the cluster is trusted by name.',
    ]);
  });

  test('an external issuer named like a cluster', () => {
    expect(problemsOf(withFleet({ externalIssuers: [{ url: EKS_ISSUER, name: 'prod-us' }] }))).toEqual([
      'fleet "fleet", externalIssuers[0].name = "prod-us": is the name of a cluster of this file. Fix: give the external issuer another name: answers name the cluster a token comes from.',
    ]);
  });

  test('an external issuer listed twice', () => {
    expect(problemsOf(withFleet({ externalIssuers: [{ url: EKS_ISSUER }, { url: EKS_ISSUER }] }))).toEqual([
      `fleet "fleet", externalIssuers[1].url = "${EKS_ISSUER}": is listed twice. Fix: remove the duplicate.`,
    ]);
  });

  test('an external issuer URL follows the issuer rules (byte-equality)', () => {
    expect(problemsOf(withFleet({ externalIssuers: [{ url: `${EKS_ISSUER}/` }] }))).toEqual([
      `fleet "fleet", externalIssuers[0].url = "${EKS_ISSUER}/": ends with a slash. Fix: remove the trailing slash ("${EKS_ISSUER}"): IAM condition keys and token "iss" must match byte for byte.`,
    ]);
  });

  test('a cluster on the CloudFront default domain in another account', () => {
    const config = multiAccount();
    (config.clusters as Json[])[1] = { ...cluster('prod-us', { env: { account: '444444444444', region: 'us-east-1' } }), issuer: undefined };
    expect(problemsOf(config)).toEqual([
      'fleet "fleet", clusters[1] = "prod-us": is in account 444444444444 with the CloudFront default domain, whose issuer URL is unknown until deployment. Fix: give the cluster a custom-domain issuer, or deploy the fleet in the cluster\'s account (it then reads the documents bucket).',
    ]);
  });

  test('fleet names are unique', () => {
    const config = multiAccount();
    config.fleetVerifiers = [...(config.fleetVerifiers as Json[]), ...(config.fleetVerifiers as Json[])];
    expect(problemsOf(config)).toEqual([
      'fleet "fleet", fleetVerifiers[1].name = "fleet": duplicates fleetVerifiers[0].name. Fix: give every fleet a distinct name (each becomes stack OidcFleet-<name>).',
    ]);
  });

  test('audiences are required', () => {
    expect(problemsOf(withFleet({ audiences: undefined }))).toEqual([
      'fleet "fleet", audiences = (missing): is missing. Fix: list the audiences callers may verify (e.g. ["verify.example.com"]).',
    ]);
  });
});

describe('fleet verifiers: the audience boundary across trusted issuers', () => {
  const fix = 'Fix: use an audience dedicated to the Verify API in the pods\' projected tokens (e.g. "verify.example.com"), or set allowSharedAudiences to true to accept the risk.';

  test('not the STS audience', () => {
    expect(problemsOf(withFleet({ audiences: ['sts.amazonaws.com'] }))).toEqual([
      `fleet "fleet", audiences[0] = "sts.amazonaws.com": is the AWS STS audience: a service accepting it can be handed any token meant for AWS. ${fix}`,
    ]);
  });

  test('not a trusted cluster\'s API-server audience (its issuer)', () => {
    expect(problemsOf(withFleet({ audiences: ['https://oidc.example.com/prod-us'] }))).toEqual([
      `fleet "fleet", audiences[0] = "https://oidc.example.com/prod-us": is an API-server audience of cluster "prod-us": a service accepting it can be handed tokens meant for the Kubernetes API. ${fix}`,
    ]);
  });

  test('not an external issuer\'s URL', () => {
    expect(problemsOf(withFleet({ audiences: [EKS_ISSUER] }))).toEqual([
      `fleet "fleet", audiences[0] = "${EKS_ISSUER}": is an external issuer's URL, kube-apiserver's default API audience. ${fix}`,
    ]);
  });

  test('allowSharedAudiences lifts the rule knowingly', () => {
    expect(validateConfigFile(withFleet({ audiences: [EKS_ISSUER], allowSharedAudiences: true })).fleetVerifiers[0].audiences).toEqual([EKS_ISSUER]);
  });

  test('caller bindings need IAM authorization', () => {
    expect(problemsOf(withFleet({ iamAuth: false, callerAudiences: { 'arn:aws:iam::111111111111:role/Billing': ['verify.example.com'] } }))).toEqual([
      'fleet "fleet", callerAudiences = {"arn:aws:iam::111111111111:role/Billing":["verify.example.com"]}: needs iamAuth: without IAM authorization the caller is unknown. Fix: set iamAuth to true, or remove callerAudiences.',
    ]);
  });

  test('a token lifetime beyond a trusted cluster\'s grace period is a warning', () => {
    expect(validateConfigFile(withFleet({ maxTokenLifetimeSeconds: 172800 })).fleetVerifiers[0].warnings).toEqual([
      'fleet "fleet": maxTokenLifetimeSeconds (172800) exceeds rotation.gracePeriodSeconds (86400) of cluster "prod-eu": tokens signed by a rotated-out key stop verifying before they expire; raise the grace period to cover the longest token lifetime.',
      'fleet "fleet": maxTokenLifetimeSeconds (172800) exceeds rotation.gracePeriodSeconds (86400) of cluster "prod-us": tokens signed by a rotated-out key stop verifying before they expire; raise the grace period to cover the longest token lifetime.',
    ]);
  });
});

describe('federation accounts', () => {
  test('a role id that is not in the cluster', () => {
    expect(problemsOf(withFederation([{ account: '222222222222', roleIds: ['payments'] }]))).toEqual([
      'cluster "prod-eu", federationAccounts[0].roleIds[0] = "payments": is not the id of one of the cluster\'s serviceAccountRoles. Fix: use one of ["payments-api","reports"], or add the role to serviceAccountRoles.',
    ]);
  });

  test('an account listed twice', () => {
    expect(problemsOf(withFederation([{ account: '222222222222', roleIds: ['payments-api'] }, { account: '222222222222', roleIds: ['reports'] }]))).toEqual([
      'cluster "prod-eu", federationAccounts[1].account = "222222222222": duplicates federationAccounts[0].account. Fix: list each account once, with all of its roleIds.',
    ]);
  });

  test('a role in two accounts', () => {
    expect(problemsOf(withFederation([{ account: '222222222222', roleIds: ['payments-api'] }, { account: '333333333333', roleIds: ['payments-api'] }]))).toEqual([
      'cluster "prod-eu", federationAccounts[1].roleIds[0] = "payments-api": is already in federationAccounts[0].roleIds. Fix: give each role one account: a role id names one role and one stack output.',
    ]);
  });

  test('the cluster\'s own account', () => {
    expect(problemsOf(withFederation([{ account: '111111111111', roleIds: ['payments-api'] }]))).toEqual([
      'cluster "prod-eu", federationAccounts[0].account = "111111111111": is the cluster\'s own account (env.account). Fix: remove the entry: roles not listed in federationAccounts are created in the cluster\'s own stack.',
    ]);
  });

  test('an imported provider of another account', () => {
    expect(problemsOf(withFederation([{ account: '222222222222', roleIds: ['reports'], existingOidcProviderArn: 'arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod-eu' }]))).toEqual([
      'cluster "prod-eu", federationAccounts[0].existingOidcProviderArn = "arn:aws:iam::333333333333:oidc-provider/oidc.example.com/prod-eu": is in account 333333333333, not 222222222222. Fix: give the provider registered in the account of this entry: a role trusts only a provider of its own account.',
    ]);
  });

  test('an imported provider of another issuer', () => {
    expect(problemsOf(withFederation([{ account: '222222222222', roleIds: ['reports'], existingOidcProviderArn: 'arn:aws:iam::222222222222:oidc-provider/oidc.example.com' }]))).toEqual([
      'cluster "prod-eu", federationAccounts[0].existingOidcProviderArn = "arn:aws:iam::222222222222:oidc-provider/oidc.example.com": is for "oidc.example.com", not the issuer "oidc.example.com/prod-eu". Fix: import the provider registered for this issuer URL, or remove existingOidcProviderArn to create one.',
    ]);
  });

  test('needs a custom-domain issuer', () => {
    expect(problemsOf(withFederation([{ account: '222222222222', roleIds: ['reports'] }], { issuer: undefined }))).toEqual([
      'cluster "prod-eu", federationAccounts = [{"account":"222222222222","roleIds":["reports"]}]: needs a custom-domain issuer: the stacks in other accounts register the issuer URL, which the CloudFront default domain only gives after deployment. Fix: configure issuer with a custom domain, or keep the roles in the cluster\'s own account.',
    ]);
  });

  test('an account id and at least one role', () => {
    expect(problemsOf(withFederation([{ account: '2222', roleIds: [] }]))).toEqual([
      'cluster "prod-eu", federationAccounts[0].account = "2222": is not a 12-digit AWS account id. Fix: give the account id, e.g. "222222222222".',
      'cluster "prod-eu", federationAccounts[0].roleIds = []: is empty. Fix: list the ids of the serviceAccountRoles to create in this account, or remove the account.',
    ]);
  });
});

describe('the guide\'s federation accounts, written in the cluster\'s config', () => {
  test('validate, and plan one federation stack per documented account', () => {
    const { federationAccounts } = JSON.parse(docBlock('guide-accounts-config').text) as { federationAccounts: Json[] };
    const raw = exampleConfig().clusters.find((c) => c.name === 'prod-eu');
    const examples = join(__dirname, '..', '..', DOCS_EXAMPLE_CONFIG, '..');
    const { clusters: [cluster] } = validateConfigFile({ clusters: [{ ...raw, federationAccounts }] }, { readKeyFile: (file) => readFileSync(join(examples, file), 'utf8') });
    expect(cluster.federationAccounts).toEqual(federationAccounts);
    const plan = planFederationAccounts(cluster);
    expect(plan.accounts.map((a) => a.stackId)).toEqual(['OidcFederation-prod-eu-333333333333', 'OidcFederation-prod-eu-444444444444']);
    expect(plan.movedRoleIds).toEqual(['payments-api', 'monitoring']);
  });
});

describe('fleet verifiers: a cluster in another account, with its deny list', () => {
  const BUCKET = 'oidccluster-prod-us-privatebucket0123abcd';

  /** prod-us moved to account 444444444444 (same region as the fleet), trusted with its bucket. */
  function crossAccount(entry: unknown = { name: 'prod-us', privateBucketName: BUCKET }, env: Json = { account: '444444444444', region: 'eu-west-1' }): Json {
    const config = withFleet({ clusters: ['prod-eu', entry] });
    (config.clusters as Json[])[1] = cluster('prod-us', { env });
    return config;
  }

  test('a clusters entry may be {name, privateBucketName}: every entry is read as an object, and both forms are valid for the JSON Schema', () => {
    const [fleet] = validateConfigFile(crossAccount()).fleetVerifiers;
    expect(fleet.clusters).toEqual([{ name: 'prod-eu' }, { name: 'prod-us', privateBucketName: BUCKET }]);
    expect(fleet.warnings).toEqual([]);
    const validate = new Ajv({ allErrors: true, strictRequired: false }).compile(SCHEMA);
    expect(validate(crossAccount())).toBe(true);
  });

  test.each(['Bad_Bucket', 'ab', 'a'.repeat(64), '192.168.0.1', 'my..bucket', '-bucket', 'xn--bucket', 'bucket-s3alias'])('the bucket name %j is refused, by the schema and the JSON Schema', (name) => {
    expect(problemsOf(crossAccount({ name: 'prod-us', privateBucketName: name }))).toEqual([
      `fleet "fleet", clusters[1].privateBucketName = ${JSON.stringify(name)}: is not an S3 bucket name. Fix: give the cluster stack's PrivateBucketName output (3 to 63 lowercase letters, digits, dots and hyphens).`,
    ]);
    const validate = new Ajv({ allErrors: true, strictRequired: false }).compile(SCHEMA);
    expect(validate(crossAccount({ name: 'prod-us', privateBucketName: name }))).toBe(false);
  });

  test('an entry that is neither a name nor an object', () => {
    expect(problemsOf(crossAccount(42))).toEqual([
      'fleet "fleet", clusters[1] = 42: is neither a cluster name nor {"name", ...}. Fix: write "prod-eu", or {"name": "prod-eu", "privateBucketName": "..."} for a cluster in another account.',
    ]);
  });

  test('an object entry with an unknown field is refused; one without a bucket is the name alone', () => {
    expect(problemsOf(crossAccount({ name: 'prod-us', privateBucketName: BUCKET, bucket: BUCKET }))).toEqual([
      'fleet "fleet", clusters[1].bucket = "oidccluster-prod-us-privatebucket0123abcd": is not a known field. Fix: remove it (known fields: name, privateBucketName, audiences, defaultAudiences).',
    ]);
    expect(validateConfigFile(crossAccount({ name: 'prod-us' })).fleetVerifiers[0].clusters).toEqual(validateConfigFile(crossAccount('prod-us')).fleetVerifiers[0].clusters);
    expect(validateConfigFile(crossAccount({ name: 'prod-us' })).fleetVerifiers[0].clusters[1]).toEqual({ name: 'prod-us' });
  });

  test('the same cluster as a name and as an object is listed twice', () => {
    expect(problemsOf(withFleet({ clusters: ['prod-eu', { name: 'prod-eu', privateBucketName: BUCKET }] }))).toEqual([
      `fleet "fleet", clusters[1] = {"name":"prod-eu","privateBucketName":"${BUCKET}"}: is listed twice. Fix: remove the duplicate.`,
    ]);
  });

  test('an object entry names a cluster of the file', () => {
    expect(problemsOf(crossAccount({ name: 'prod-asia', privateBucketName: BUCKET }))).toEqual([
      `fleet "fleet", clusters[1] = {"name":"prod-asia","privateBucketName":"${BUCKET}"}: names no cluster of this file. Fix: use one of ["prod-eu","prod-us"], or trust an issuer of elsewhere with externalIssuers.`,
    ]);
  });

  test('a bucket for a cluster in the fleet\'s own account is refused (its stack\'s bucket is read)', () => {
    expect(problemsOf(crossAccount(undefined, { account: '111111111111', region: 'eu-west-1' }))).toEqual([
      `fleet "fleet", clusters[1].privateBucketName = "${BUCKET}": is only for a cluster in another account than the fleet verifier (both accounts must be given in env). Fix: write the cluster as "prod-us": in the fleet's account its stack's bucket is read.`,
    ]);
  });

  test('a bucket for a cluster in another region is refused (a verifier reads buckets of its region only)', () => {
    expect(problemsOf(crossAccount(undefined, { account: '444444444444', region: 'us-east-1' }))).toEqual([
      `fleet "fleet", clusters[1].privateBucketName = "${BUCKET}": is in region us-east-1, not the fleet verifier's region eu-west-1: a verifier reads buckets of its own region only. Fix: write the cluster as "prod-us" (no deny list), or deploy a fleet verifier in the cluster's region.`,
    ]);
  });
});

describe('fleet verifiers: an issuer\'s own audiences', () => {
  const fix = 'Fix: use an audience dedicated to the Verify API in the pods\' projected tokens (e.g. "verify.example.com"), or set allowSharedAudiences to true to accept the risk.';
  const withOwn = (clusterEntry: unknown, externalChange: Json = {}, fleetChange: Json = {}) => withFleet({
    clusters: ['prod-eu', clusterEntry],
    externalIssuers: [{ url: EKS_ISSUER, name: 'eks-prod', ...externalChange }],
    ...fleetChange,
  });

  test('a cluster entry and an external issuer may name their own audiences and defaults, carried as written', () => {
    const [fleet] = validateConfigFile(withOwn(
      { name: 'prod-us', audiences: ['payments.example.com', 'ledger.example.com'], defaultAudiences: ['ledger.example.com'] },
      { audiences: ['eks.example.com'] },
    )).fleetVerifiers;
    expect(fleet.clusters).toEqual([{ name: 'prod-eu' }, { name: 'prod-us', audiences: ['payments.example.com', 'ledger.example.com'], defaultAudiences: ['ledger.example.com'] }]);
    expect(fleet.externalIssuers).toEqual([{ url: EKS_ISSUER, name: 'eks-prod', audiences: ['eks.example.com'] }]);
    const validate = new Ajv({ allErrors: true, strictRequired: false }).compile(SCHEMA);
    expect(validate(withOwn({ name: 'prod-us', audiences: ['payments.example.com'] }, { audiences: ['eks.example.com'] }))).toBe(true);
  });

  test('own audiences are non-empty and unique, and own defaults are among them (or among the fleet\'s)', () => {
    expect(problemsOf(withOwn({ name: 'prod-us', audiences: [] }))).toEqual([
      'fleet "fleet", clusters[1].audiences = []: is empty. Fix: list this issuer\'s audiences, or remove audiences to use the fleet\'s.',
    ]);
    expect(problemsOf(withOwn({ name: 'prod-us', audiences: ['a.example.com', 'a.example.com'] }))).toEqual([
      'fleet "fleet", clusters[1].audiences[1] = "a.example.com": is listed twice. Fix: remove the duplicate.',
    ]);
    expect(problemsOf(withOwn('prod-us', { audiences: ['eks.example.com'], defaultAudiences: ['verify.example.com'] }))).toEqual([
      'fleet "fleet", externalIssuers[0].defaultAudiences[0] = "verify.example.com": is not in this issuer\'s audiences. Fix: default audiences must be a subset of this issuer\'s audiences.',
    ]);
    expect(problemsOf(withOwn({ name: 'prod-us', defaultAudiences: ['elsewhere.example.com'] }))).toEqual([
      'fleet "fleet", clusters[1].defaultAudiences[0] = "elsewhere.example.com": is not in audiences. Fix: default audiences must be a subset of audiences.',
    ]);
  });

  test('own audiences keep the audience boundary: not a trusted cluster\'s client ID or API-server audience, not an external issuer\'s URL', () => {
    expect(problemsOf(withOwn({ name: 'prod-us', audiences: ['sts.amazonaws.com'] }, { audiences: ['https://oidc.example.com/prod-eu'] }))).toEqual([
      `fleet "fleet", clusters[1].audiences[0] = "sts.amazonaws.com": is the AWS STS audience: a service accepting it can be handed any token meant for AWS. ${fix}`,
      `fleet "fleet", externalIssuers[0].audiences[0] = "https://oidc.example.com/prod-eu": is an API-server audience of cluster "prod-eu": a service accepting it can be handed tokens meant for the Kubernetes API. ${fix}`,
    ]);
    expect(validateConfigFile(withOwn({ name: 'prod-us', audiences: ['sts.amazonaws.com'] }, {}, { allowSharedAudiences: true })).fleetVerifiers[0].clusters[1].audiences).toEqual(['sts.amazonaws.com']);
  });

  test('a caller may be bound to an issuer\'s own audience, and to nothing outside every list', () => {
    const caller = 'arn:aws:iam::111111111111:role/Billing';
    const [fleet] = validateConfigFile(withOwn({ name: 'prod-us', audiences: ['payments.example.com'] }, {}, { callerAudiences: { [caller]: ['payments.example.com'] } })).fleetVerifiers;
    expect(fleet.callerAudiences).toEqual({ [caller]: ['payments.example.com'] });
    expect(problemsOf(withOwn('prod-us', {}, { callerAudiences: { [caller]: ['payments.example.com'] } }))).toEqual([
      `fleet "fleet", callerAudiences["${caller}"][0] = "payments.example.com": is not in audiences or an issuer's own audiences. Fix: add it to audiences or remove it here.`,
    ]);
  });

  test('an external issuer may name the CA of a private issuer; the bundle is never echoed', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(validateConfigFile(withOwn('prod-us', { caBundlePem: pem })).fleetVerifiers[0].externalIssuers[0].caBundlePem).toBe(pem);
    expect(problemsOf(withOwn('prod-us', { caBundlePem: 'not a certificate' }))).toEqual([
      'fleet "fleet", externalIssuers[0].caBundlePem = (17 characters, not shown): holds no PEM certificate. Fix: paste the CA that issued the certificate of the issuer (and of jwksUrl).',
    ]);
  });
});
