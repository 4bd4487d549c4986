/**
 * A fleet's cross-account deny list, from the configuration file: a `fleetVerifiers[].clusters`
 * entry `{name, privateBucketName}` makes the cluster's stack grant its deny list to the fleet's
 * role (bucket policy), and the fleet's role read it; a cluster of another account given by name
 * alone gets neither, and synth warns. The entry's own audiences reach the fleet's TRUSTED_ISSUERS.
 */
import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { validateConfigFile } from '../../core/config';
import { addConfigStacks } from '../../lib/config-stacks';
import type { ConfigStacks } from '../../lib/config-stacks';
import { resourcesOf, testApp } from './support/synth';
import type { Json } from './support/synth';

const FLEET_ACCOUNT = '111111111111';
const PAYMENTS_ACCOUNT = '333333333333';
const PAYMENTS_BUCKET = 'oidccluster-payments-privatebucket0example';
const FLEET_ROLE = `arn:aws:iam::${FLEET_ACCOUNT}:role/kube-oidc-fleet-fleet`;

function cluster(name: string, account: string): Json {
  return {
    name,
    env: { account, region: 'eu-west-1' },
    issuer: {
      url: `https://oidc.example.com/${name}`,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      certificateArn: `arn:aws:acm:us-east-1:${account}:certificate/0a1b2c3d-1111-2222-3333-444455556666`,
    },
    keySources: { upload: { enabled: true, writerArns: [`arn:aws:iam::${account}:role/KubeOidcKeyPublisher`] } },
    verifyApi: { enabled: false },
  };
}

/** prod-eu in the fleet's account, payments in another account of the same region. */
function synth(paymentsEntry: unknown): ConfigStacks {
  const config = validateConfigFile({
    clusters: [cluster('prod-eu', FLEET_ACCOUNT), cluster('payments', PAYMENTS_ACCOUNT)],
    fleetVerifiers: [{ name: 'fleet', env: { account: FLEET_ACCOUNT, region: 'eu-west-1' }, clusters: ['prod-eu', paymentsEntry], audiences: ['verify.example.com'] }],
  });
  const app = testApp();
  const stacks = addConfigStacks(app, config);
  app.synth();
  return stacks;
}

/** The statements of the payments cluster's private bucket policy. */
function privateBucketStatements(stacks: ConfigStacks): Json[] {
  const payments = stacks.clusterStacks.find((s) => s.stackName === 'OidcCluster-payments')!;
  const privateId = payments.getLogicalId(payments.issuerSite.privateBucket.node.defaultChild as never);
  const policy = Object.values(resourcesOf(Template.fromStack(payments), 'AWS::S3::BucketPolicy'))
    .find((p) => JSON.stringify((p.Properties as Json).Bucket) === JSON.stringify({ Ref: privateId }))!;
  return ((policy.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
}

/** Every S3 resource the fleet verifier's role may read, as text. */
function fleetReads(fleet: Stack & ConfigStacks['fleetStacks'][number]): string[] {
  const roleId = fleet.getLogicalId(fleet.verifyApi.role.node.defaultChild as never);
  const policies = Object.values(resourcesOf(Template.fromStack(fleet), 'AWS::IAM::Policy'))
    .filter((p) => JSON.stringify((p.Properties as Json).Roles) === JSON.stringify([{ Ref: roleId }]));
  return policies.flatMap((p) => ((p.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement)
    .filter((s) => s.Action === 's3:GetObject')
    .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => JSON.stringify(r)));
}

describe('a fleet clusters entry {name, privateBucketName} from the config file', () => {
  let stacks: ConfigStacks;
  beforeAll(() => {
    stacks = synth({ name: 'payments', privateBucketName: PAYMENTS_BUCKET, audiences: ['payments.example.com'] });
  });

  test('the entry\'s own audiences reach the fleet verifier\'s TRUSTED_ISSUERS for that issuer alone', () => {
    const [fleet] = stacks.fleetStacks;
    const fn = Object.values(resourcesOf(Template.fromStack(fleet), 'AWS::Lambda::Function'))
      .find((f) => ((f.Properties as Json).Environment as { Variables?: Json } | undefined)?.Variables?.TRUSTED_ISSUERS !== undefined)!;
    const variables = ((fn.Properties as Json).Environment as { Variables: Json }).Variables;
    expect(variables.ALLOWED_AUDIENCES).toBe('["verify.example.com"]');
    // The value joins deploy-time parts; the entries of both clusters are literal text within it.
    const text = JSON.stringify(variables.TRUSTED_ISSUERS);
    expect(text).toMatch(/\\"issuer\\":\\"https:\/\/oidc\.example\.com\/payments\\"[^}]*\\"allowedAudiences\\":\[\\"payments\.example\.com\\"\]/);
    expect(text.match(/allowedAudiences/g)).toHaveLength(1);
  });

  test('the cluster\'s private bucket policy grants the fleet role s3:GetObject on the deny list alone', () => {
    const grant = privateBucketStatements(stacks).filter((s) => s.Sid === 'FleetVerifiersReadTheDenyList');
    expect(grant).toHaveLength(1);
    expect(grant[0]).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${FLEET_ACCOUNT}:root` },
      Action: 's3:GetObject',
      Condition: { ArnEquals: { 'aws:PrincipalArn': [FLEET_ROLE] } },
    });
    expect(JSON.stringify(grant[0].Resource)).toMatch(/"\/control\/deny-list\.json"/);
  });

  test('the fleet role reads that deny list by bucket name, and its role has the name the grant names', () => {
    const [fleet] = stacks.fleetStacks;
    expect(fleet.verifyApi.role.node.defaultChild).toMatchObject({ roleName: 'kube-oidc-fleet-fleet' });
    expect(fleetReads(fleet)).toContain(JSON.stringify(`arn:aws:s3:::${PAYMENTS_BUCKET}/control/deny-list.json`));
    expect(Annotations.fromStack(fleet).findWarning('*', Match.stringLikeRegexp('reads no deny list'))).toEqual([]);
  });
});

describe('a cluster of another account given by name alone', () => {
  let stacks: ConfigStacks;
  beforeAll(() => {
    stacks = synth('payments');
  });

  test('gets no grant, the fleet reads no bucket of it, and synth warns', () => {
    expect(privateBucketStatements(stacks).filter((s) => s.Sid === 'FleetVerifiersReadTheDenyList')).toEqual([]);
    const [fleet] = stacks.fleetStacks;
    expect(fleetReads(fleet).join(' ')).not.toContain('arn:aws:s3:::oidccluster-payments');
    expect(Annotations.fromStack(fleet).findWarning('*', Match.stringLikeRegexp('reads no deny list for cluster payments')).map((w) => String(w.entry.data))).toEqual([expect.stringContaining('{"name": "payments", "privateBucketName": ')]);
  });
});
