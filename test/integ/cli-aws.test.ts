/**
 * The AWS-facing commands (keys, deny, sync, status) through the real executable: credentials are
 * checked before anything else and missing ones explained; the region comes from --region, then
 * the cluster's env.region in the configuration, then the environment, then the profile, and the
 * command says which; the AWS SDK's Node-version warning never reaches the user; `status` reports
 * a deployed cluster read from moto.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeyMaterial } from '../../core/keys';
import { runCli } from '../support/cli';
import { Moto, startMoto } from '../support/moto';

const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-cli-aws-'));
/** A home with no ~/.aws: no shared config, no credentials, no profile region. */
const emptyHome = join(dir, 'empty-home');
mkdirSync(emptyHome);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyFile = join(dir, 'sa.pub');
writeFileSync(keyFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
const kid = parseKeyMaterial(readFileSync(keyFile, 'utf8'), 'k').keys[0].jwk.kid;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** runCli already drops every AWS_* variable; this also hides the user's ~/.aws. */
const bare = { HOME: emptyHome, AWS_EC2_METADATA_DISABLED: 'true' };

describe('without AWS credentials', () => {
  const commands = [
    ['keys', 'list', '--cluster', 'dev'],
    ['keys', 'upload', keyFile, '--bucket', 'b'],
    ['deny', 'list', '--cluster', 'dev'],
    ['sync', '--cluster', 'dev'],
    ['status', '--cluster', 'dev'],
  ];

  test.each(commands)('%s %s says credentials are missing, and how to provide them, before any region complaint (exit 1)', async (...args) => {
    const run = await runCli(args, { env: bare });
    expect(run.status).toBe(1);
    const first = run.stderr.split('\n')[0];
    expect(first).toMatch(/^error: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    expect(first).toContain('--profile NAME');
    expect(first).toContain('aws sso login');
    expect(run.stderr).not.toMatch(/region/i);
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.stdout).toBe('');
  });

  test('a named profile that does not exist is named in the message', async () => {
    const run = await runCli(['keys', 'list', '--cluster', 'dev', '--profile', 'nope'], { env: bare });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^error: no AWS credentials found for profile nope: /);
  });

  test('with --json, the failure is a JSON verdict on stdout too', async () => {
    const run = await runCli(['status', '--cluster', 'dev', '--json'], { env: bare });
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ ok: false, error: { status: 1, message: expect.stringContaining('no AWS credentials found') } });
  });
});

describe('with credentials but no region anywhere', () => {
  test('the command asks for a region and lists every place it looks', async () => {
    const run = await runCli(['keys', 'list', '--cluster', 'dev'], { env: { ...bare, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
    expect(run.status).toBe(1);
    expect(run.stderr.split('\n')[0]).toBe(
      'error: no AWS region: give --region REGION, set env.region for the cluster in its configuration, set AWS_REGION, or set region in the profile in ~/.aws/config',
    );
  });

  test('a malformed --region is a usage error (exit 2)', async () => {
    const run = await runCli(['keys', 'list', '--cluster', 'dev', '--region', 'Europe'], { env: { ...bare, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--region Europe is not an AWS region name such as eu-west-1');
  });
});

describe('against moto', () => {
  let moto: Moto;
  /** moto's endpoint and credentials, but no region: each test says where the region comes from. */
  let noRegion: Record<string, string | undefined>;
  const configFile = join(dir, 'clusters.json');

  beforeAll(async () => {
    moto = await startMoto();
    await moto.createBuckets('plain-bucket');
    noRegion = { ...moto.env, ...bare, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined };
    const { CloudFormationClient, CreateStackCommand } = await import('@aws-sdk/client-cloudformation');
    const cloudFormation = new CloudFormationClient(moto.clientConfig);
    await cloudFormation.send(new CreateStackCommand({
      StackName: 'OidcCluster-st',
      TemplateBody: JSON.stringify({
        Resources: { Private: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'st-private' } }, Documents: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'st-docs' } } },
        Outputs: {
          PrivateBucketName: { Value: { Ref: 'Private' } },
          DocumentsBucketName: { Value: { Ref: 'Documents' } },
          IssuerUrl: { Value: 'https://oidc.example.com/st' },
          AlarmTopicArn: { Value: 'arn:aws:sns:us-east-1:123456789012:OidcCluster-st-AlarmsTopic-EXAMPLE' },
        },
      }),
    }));
    cloudFormation.destroy();
    writeFileSync(configFile, JSON.stringify({ clusters: [{ name: 'st', env: { region: moto.clientConfig.region } }, { name: 'other' }] }));
  });
  afterAll(async () => {
    await moto?.stop();
  });

  test('--region wins, and the command says it used it', async () => {
    const run = await runCli(['keys', 'list', '--bucket', 'plain-bucket', '--region', 'eu-west-1'], { env: { ...noRegion, AWS_REGION: 'us-east-1' } });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('aws: region eu-west-1 (from --region)\n');
  });

  test('the cluster\'s env.region in the configuration comes before AWS_REGION', async () => {
    const run = await runCli(['keys', 'list', '--cluster', 'st', '--config', configFile], { env: { ...noRegion, AWS_REGION: 'eu-west-1' } });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(`aws: region us-east-1 (from env.region of cluster st in ${configFile})\n`);
  });

  test('a stack looked up in the wrong region says which region and where it came from', async () => {
    const run = await runCli(['keys', 'list', '--cluster', 'st'], { env: { ...noRegion, AWS_REGION: 'eu-west-1' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('error: cannot read stack OidcCluster-st in eu-west-1 (region from AWS_REGION)');
    expect(run.stderr).toContain('--region');
  });

  test('AWS_DEFAULT_REGION is used when AWS_REGION is not set (the SDK alone would ignore it)', async () => {
    const run = await runCli(['deny', 'list', '--cluster', 'st'], { env: { ...noRegion, AWS_DEFAULT_REGION: 'us-east-1' } });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('aws: region us-east-1 (from AWS_DEFAULT_REGION)\n');
  });

  test('--profile takes credentials and region from ~/.aws', async () => {
    const home = join(dir, 'profile-home');
    mkdirSync(join(home, '.aws'), { recursive: true });
    writeFileSync(join(home, '.aws', 'credentials'), '[moto]\naws_access_key_id = testing\naws_secret_access_key = testing\n');
    writeFileSync(join(home, '.aws', 'config'), '[profile moto]\nregion = us-east-1\n');
    const env = { AWS_ENDPOINT_URL: moto.endpoint, HOME: home, AWS_EC2_METADATA_DISABLED: 'true' };
    const run = await runCli(['status', '--cluster', 'st', '--profile', 'moto', '--json'], { env });
    expect(run.stderr).toBe('aws: region us-east-1 (from the region of profile moto in ~/.aws/config), profile moto\n');
    expect(JSON.parse(run.stdout)).toMatchObject({ cluster: 'st', region: 'us-east-1', regionSource: 'the region of profile moto in ~/.aws/config' });
  });

  test('the AWS SDK\'s Node-version warning never reaches the user, on any supported Node', async () => {
    const run = await runCli(['keys', 'upload', keyFile, '--bucket', 'plain-bucket'], { env: moto.env });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('aws: region us-east-1 (from AWS_REGION)\n');
  });

  describe('status', () => {
    const env = (): Record<string, string | undefined> => moto.env;

    test('before the first sync: outputs and issuer, no published kids, and the missing sync as a problem (exit 1)', async () => {
      const run = await runCli(['status', '--cluster', 'st'], { env: env() });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('cluster st: stack OidcCluster-st CREATE_COMPLETE');
      expect(run.stdout).toMatch(/issuer: +https:\/\/oidc\.example\.com\/st/);
      expect(run.stdout).toMatch(/AlarmTopicArn: +arn:aws:sns:us-east-1:123456789012:OidcCluster-st-AlarmsTopic-EXAMPLE/);
      expect(run.stdout).toMatch(/published kids: +\(none published\)/);
      expect(run.stdout).toContain('no rotation state yet: the sync has never completed for this cluster; run `kube-oidc sync --cluster st`');
    });

    test('after a sync: the published kids, the last publish, no problems (exit 0); then a revoked kid and a firing alarm (exit 1)', async () => {
      expect((await runCli(['keys', 'upload', keyFile, '--cluster', 'st'], { env: env() })).status).toBe(0);
      expect((await runCli(['sync', '--cluster', 'st'], { env: env() })).status).toBe(0);

      const healthy = await runCli(['status', '--cluster', 'st', '--json'], { env: env() });
      expect(healthy.status).toBe(0);
      const report = JSON.parse(healthy.stdout);
      expect(report).toMatchObject({
        ok: true,
        issuer: 'https://oidc.example.com/st',
        publishedKids: [kid],
        lastSync: { outcome: 'ok' },
        outputs: { PrivateBucketName: 'st-private', DocumentsBucketName: 'st-docs', IssuerUrl: 'https://oidc.example.com/st' },
        problems: [],
        alarms: [],
      });
      expect(report.lastSync.publishedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(report.uploaded).toEqual([{ object: `keys/${kid}.pub`, kids: [kid], problems: [] }]);

      // A revoked kid still in the JWKS, and a sync alarm firing (named as CloudFormation names a stack's alarms).
      expect((await runCli(['keys', 'revoke', '--force', '--cluster', 'st', '--', kid], { env: env() })).status).toBe(0);
      const { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } = await import('@aws-sdk/client-cloudwatch');
      const cloudWatch = new CloudWatchClient(moto.clientConfig);
      const alarm = (name: string) => new PutMetricAlarmCommand({
        AlarmName: name, MetricName: 'FailedRuns', Namespace: 'KubeOidc', Statistic: 'Sum', Period: 300, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      await cloudWatch.send(alarm('OidcCluster-st-JwksSyncFailedRunAlarmA1B2C3D4-EXAMPLE1'));
      await cloudWatch.send(new SetAlarmStateCommand({ AlarmName: 'OidcCluster-st-JwksSyncFailedRunAlarmA1B2C3D4-EXAMPLE1', StateValue: 'ALARM', StateReason: 'Threshold Crossed: 1 datapoint' }));
      // Another cluster whose name starts the same: its alarms are not this stack's.
      await cloudWatch.send(alarm('OidcCluster-st-eu-JwksSyncFailedRunAlarmA1B2C3D4-EXAMPLE2'));
      cloudWatch.destroy();

      const troubled = await runCli(['status', '--cluster', 'st'], { env: env() });
      expect(troubled.status).toBe(1);
      expect(troubled.stdout).toMatch(/ALARM +OidcCluster-st-JwksSyncFailedRunAlarmA1B2C3D4-EXAMPLE1/);
      expect(troubled.stdout).not.toContain('OidcCluster-st-eu-');
      expect(troubled.stdout).toContain(`kid ${kid} is revoked but still published: run \`kube-oidc sync --cluster st\` to remove it now`);
      expect(troubled.stdout).toContain('alarm OidcCluster-st-JwksSyncFailedRunAlarmA1B2C3D4-EXAMPLE1 is in ALARM: Threshold Crossed: 1 datapoint');
      expect(troubled.stdout).toMatch(/last sync outcome: +failing \(a sync alarm is in ALARM\)/);
    });

    test('an unknown cluster: exit 1, naming the stack, the region and what to do', async () => {
      const run = await runCli(['status', '--cluster', 'nope'], { env: env() });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('error: cannot read stack OidcCluster-nope in us-east-1 (region from AWS_REGION)');
      expect(run.stderr).toContain('npx cdk deploy OidcCluster-nope');
    });

    test('--cluster is required (exit 2)', async () => {
      const run = await runCli(['status'], { env: env() });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('--cluster is required');
    });
  });
});
