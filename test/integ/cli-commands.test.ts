/**
 * The offline subcommands (decode, discovery, trust-policy, manifest) and the framework's
 * contract (help, exit statuses, one-line errors), through the real executable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildDiscovery, buildJwks, serializeDiscovery } from '../../core/documents';
import { parseKeyMaterial } from '../../core/keys';
import { trustPolicyDocument } from '../../core/trust-policy';
import { runCli, runCliJson } from '../support/cli';
import { OpensslKeyPair, OpensslWorkspace } from '../support/openssl';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kube-format');
const fixturePath = (name: string): string => join(FIXTURES, name);
const TOKEN_RS256 = readFileSync(fixturePath('token-rs256.jwt'), 'utf8').trim();
/** Ten minutes after the fixture tokens were issued (2027-01-01T00:00:00Z). */
const DURING_TOKEN = String(1798761600 + 600);

function expectOneLineError(stderr: string, text: string): void {
  expect(stderr).toContain(`error: ${text}`);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('framework', () => {
  test('--help lists every command, each command has --help, and exit statuses follow the contract', async () => {
    const [programHelp, checkHelp, noArgs, unknownCommand, unknownOption] = await Promise.all([
      runCli(['--help']),
      runCli(['check', '--help']),
      runCli([]),
      runCli(['frobnicate']),
      runCli(['decode', '--bogus', 'x']),
    ]);
    expect(programHelp.status).toBe(0);
    for (const name of ['decode', 'verify', 'check', 'discovery', 'trust-policy', 'manifest']) expect(programHelp.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(checkHelp.status).toBe(0);
    expect(checkHelp.stdout).toContain('Usage: kube-oidc check --issuer URL [options]');
    expect(checkHelp.stdout).toContain('--ca-file FILE');
    expect(checkHelp.stdout).toContain('Exit status: 0 ok; 1 the command ran and the answer is no');
    expect(noArgs.status).toBe(2);
    expect(noArgs.stderr).toContain('Usage: kube-oidc COMMAND');
    expect(unknownCommand.status).toBe(2);
    expectOneLineError(unknownCommand.stderr, 'unknown command "frobnicate"');
    expect(unknownOption.status).toBe(2);
    expectOneLineError(unknownOption.stderr, 'unknown option --bogus');
    expect(unknownOption.stderr).toContain('kube-oidc decode --help');
  });
});

describe('decode', () => {
  test('prints header, claims, kid and the times in local time with the time left', async () => {
    const [human, json] = await Promise.all([
      runCli(['decode', '-', '--now', DURING_TOKEN], { stdin: `${TOKEN_RS256}\n`, env: { TZ: 'Asia/Kolkata' } }),
      runCliJson(['decode', TOKEN_RS256, '--now', DURING_TOKEN]),
    ]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^kid: +Hc7qjYNLyRyB_udgR7uwmh20HxFPZbbiqUqfFgW1m1c$/m);
    expect(human.stdout).toMatch(/^issued \(iat\): +2027-01-01 05:30:00 \+05:30 \(10m ago\)$/m);
    expect(human.stdout).toMatch(/^expires \(exp\): +2027-01-01 06:30:00 \+05:30 \(in 50m\)$/m);
    expect(human.stdout).toMatch(/^service account: +payments\/api /m);
    expect(human.stdout).toContain('"sub": "system:serviceaccount:payments:api"');
    // The signature is never printed: decode output cannot be replayed as the token.
    expect(human.stdout).not.toContain(TOKEN_RS256.split('.')[2]);

    expect(json.status).toBe(0);
    expect(json.json).toMatchObject({
      kid: 'Hc7qjYNLyRyB_udgR7uwmh20HxFPZbbiqUqfFgW1m1c',
      header: { alg: 'RS256' },
      claims: { iss: 'https://oidc.example.com/cluster-a', aud: ['sts.amazonaws.com'] },
      times: { exp: { epoch: 1798765200, utc: '2027-01-01T01:00:00.000Z', local: '2027-01-01 01:00:00 +00:00' } },
      secondsLeft: 3000,
      lifetimeSeconds: 3600,
      status: 'current',
      signatureChecked: false,
    });
  });

  test('says when a token has expired, and refuses what is not a JWT with exit 2 (unusable input), saying which part is wrong', async () => {
    const [expired, garbage] = await Promise.all([
      runCliJson(['decode', TOKEN_RS256, '--now', '2027-01-02T00:00:00Z']),
      runCli(['decode', 'not.a-token']),
    ]);
    expect(expired.json).toMatchObject({ status: 'expired', secondsLeft: -82800 });
    expect(garbage.status).toBe(2);
    expectOneLineError(garbage.stderr, 'TOKEN is not a JWT: it has 2 parts; a JWT is three base64url parts joined by dots');
  });
});

describe('discovery', () => {
  let ws: OpensslWorkspace;
  let rsa: OpensslKeyPair;
  let ec: OpensslKeyPair;
  beforeAll(() => {
    ws = OpensslWorkspace.create();
    rsa = ws.rsaKeyPair('sa-rsa');
    ec = ws.ecKeyPair('sa-ec', 'P-384');
  });
  afterAll(() => ws.remove());

  test('prints kube-apiserver\'s document byte for byte, with the algorithms of the keys', async () => {
    const issuer = 'https://oidc.example.com/cluster-a';
    const [known, made, noKeys] = await Promise.all([
      runCli(['discovery', '--issuer', issuer, '--jwks', fixturePath('sa-rsa.pub'), '--jwks', fixturePath('sa-ec.pub')]),
      runCli(['discovery', '--issuer', 'https://oidc.example.com', '--jwks', ws.path(rsa.publicFile), '--jwks', ws.path(ec.privateFile)]),
      runCli(['discovery', '--issuer', issuer]),
    ]);
    expect(known.status).toBe(0);
    expect(known.stdout).toBe(`${readFileSync(fixturePath('openid-configuration.json'), 'utf8').trim()}\n`);

    expect(made.status).toBe(0);
    const keys = [...parseKeyMaterial(rsa.publicPem, 'rsa').keys, ...parseKeyMaterial(ec.privatePem, 'ec').keys].map((k) => k.jwk);
    expect(made.stdout).toBe(`${serializeDiscovery(buildDiscovery('https://oidc.example.com', buildJwks(keys)))}\n`);
    expect(JSON.parse(made.stdout).id_token_signing_alg_values_supported).toEqual(['ES384', 'RS256']);
    expect(made.stderr).toContain('holds a private key; only its public half is used');

    expect(JSON.parse(noKeys.stdout).id_token_signing_alg_values_supported).toEqual(['RS256']);
    expect(noKeys.stderr).toContain('give --jwks FILE');
  });

  test('refuses a trailing-slash issuer, a missing file and a key kube cannot sign with (exit 2)', async () => {
    const weak = ws.rsaKeyPair('weak', 1024);
    const [slash, missing, tooSmall] = await Promise.all([
      runCli(['discovery', '--issuer', 'https://oidc.example.com/cluster-a/']),
      runCli(['discovery', '--issuer', 'https://oidc.example.com', '--jwks', ws.path('nope.pub')]),
      runCli(['discovery', '--issuer', 'https://oidc.example.com', '--jwks', ws.path(weak.publicFile)]),
    ]);
    expect(slash.status).toBe(2);
    expectOneLineError(slash.stderr, '--issuer must not end with "/"');
    expect(missing.status).toBe(2);
    expectOneLineError(missing.stderr, `cannot read --jwks ${ws.path('nope.pub')}: no such file`);
    expect(tooSmall.status).toBe(2);
    expect(tooSmall.stderr).toContain('RSA key of 1024 bits is too small');
  });
});

describe('trust-policy', () => {
  test('prints the core\'s policy with sub and aud conditions, from an account id or a provider ARN', async () => {
    const issuer = 'https://oidc.example.com/cluster-a';
    const providerArn = 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-a';
    const [fromAccount, fromArn, mismatch, slash] = await Promise.all([
      runCli(['trust-policy', '--issuer', issuer, '--namespace', 'payments', '--service-account', 'api', '--account-id', '123456789012']),
      runCliJson(['trust-policy', '--issuer', issuer, '--namespace', 'payments', '--service-account', 'worker', '--audience', 'api.payments.internal', '--provider-arn', providerArn]),
      runCli(['trust-policy', '--issuer', issuer, '--namespace', 'payments', '--service-account', 'api', '--provider-arn', 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-b']),
      runCli(['trust-policy', '--issuer', `${issuer}/`, '--namespace', 'payments', '--service-account', 'api', '--account-id', '123456789012']),
    ]);
    expect(fromAccount.status).toBe(0);
    expect(JSON.parse(fromAccount.stdout)).toEqual(trustPolicyDocument(providerArn, issuer, { namespace: 'payments', serviceAccount: 'api' }, 'sts.amazonaws.com'));
    expect(JSON.parse(fromAccount.stdout).Statement[0].Condition.StringEquals).toEqual({
      'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com',
      'oidc.example.com/cluster-a:sub': 'system:serviceaccount:payments:api',
    });
    expect(fromArn.json).toMatchObject({
      Statement: [{ Principal: { Federated: providerArn }, Condition: { StringEquals: { 'oidc.example.com/cluster-a:aud': 'api.payments.internal' } } }],
    });
    expect(mismatch.status).toBe(2);
    expectOneLineError(mismatch.stderr, '--provider-arn is the provider for oidc.example.com/cluster-b, not for this issuer');
    expect(slash.status).toBe(2);
  });
});

describe('trust-policy for a role in another account of the cluster', () => {
  test('--role-arn derives the provider of the role\'s own account and partition, and refuses another account\'s provider', async () => {
    const issuer = 'https://oidc.example.com/cluster-a';
    const roleArn = 'arn:aws:iam::111111111111:role/s3-reader';
    const [fromRole, fromChina, withProvider, otherAccount, withAccount, badRole] = await Promise.all([
      runCliJson(['trust-policy', '--issuer', issuer, '--namespace', 'data', '--service-account', 'reader', '--role-arn', roleArn]),
      runCliJson(['trust-policy', '--issuer', issuer, '--namespace', 'data', '--service-account', 'reader', '--role-arn', 'arn:aws-cn:iam::111111111111:role/s3-reader']),
      runCliJson(['trust-policy', '--issuer', issuer, '--namespace', 'data', '--service-account', 'reader', '--role-arn', roleArn, '--provider-arn', 'arn:aws:iam::111111111111:oidc-provider/oidc.example.com/cluster-a']),
      runCli(['trust-policy', '--issuer', issuer, '--namespace', 'data', '--service-account', 'reader', '--role-arn', roleArn, '--provider-arn', 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com/cluster-a']),
      runCli(['trust-policy', '--issuer', issuer, '--namespace', 'data', '--service-account', 'reader', '--role-arn', roleArn, '--account-id', '111111111111']),
      runCli(['trust-policy', '--issuer', issuer, '--namespace', 'data', '--service-account', 'reader', '--role-arn', 'arn:aws:iam::111111111111:user/bob']),
    ]);
    expect(fromRole.status).toBe(0);
    expect(fromRole.json).toEqual(trustPolicyDocument('arn:aws:iam::111111111111:oidc-provider/oidc.example.com/cluster-a', issuer, { namespace: 'data', serviceAccount: 'reader' }, 'sts.amazonaws.com'));
    expect(fromChina.json).toMatchObject({ Statement: [{ Principal: { Federated: 'arn:aws-cn:iam::111111111111:oidc-provider/oidc.example.com/cluster-a' } }] });
    expect(withProvider.json).toEqual(fromRole.json);
    expect(otherAccount.status).toBe(2);
    expectOneLineError(otherAccount.stderr, '--provider-arn is in account 123456789012 but the role is in account 111111111111: a role trusts only a provider of its own account');
    expect(withAccount.status).toBe(2);
    expectOneLineError(withAccount.stderr, '--role-arn already names the account and partition');
    expect(badRole.status).toBe(2);
    expectOneLineError(badRole.stderr, '--role-arn arn:aws:iam::111111111111:user/bob is not an IAM role ARN');
  });
});

describe('manifest', () => {
  const base = ['manifest', '--role-arn', 'arn:aws:iam::123456789012:role/payments-api', '--namespace', 'payments', '--service-account', 'api'];

  test('prints a ServiceAccount and a pod-spec fragment whose token file is the projected volume', async () => {
    const [yamlRun, fromEnv] = await Promise.all([
      runCli([...base, '--region', 'eu-west-1', '--audience', 'sts.amazonaws.com', '--expiration', '7200']),
      runCliJson(base, { env: { AWS_REGION: 'us-west-2' } }),
    ]);
    expect(yamlRun.status).toBe(0);
    const docs = parseAllDocuments(yamlRun.stdout).map((doc) => doc.toJS());
    expect(docs).toHaveLength(2);
    const [serviceAccount, podSpec] = docs;
    expect(serviceAccount).toEqual({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'payments' } });
    expect(podSpec.serviceAccountName).toBe('api');
    const container = podSpec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/payments-api', AWS_REGION: 'eu-west-1' });
    const mount = container.volumeMounts[0];
    expect(env.AWS_WEB_IDENTITY_TOKEN_FILE).toBe(`${mount.mountPath}/token`);
    const volume = podSpec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.projected.sources[0].serviceAccountToken).toEqual({ audience: 'sts.amazonaws.com', expirationSeconds: 7200, path: 'token' });

    expect(fromEnv.status).toBe(0);
    expect(fromEnv.json).toMatchObject({ podSpec: { volumes: [{ projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3600 } }] } }] } });
    expect(JSON.stringify(fromEnv.json)).toContain('"value":"us-west-2"');
  });

  test('a role in another account: the same manifest, and with --issuer a note naming the provider that account needs', async () => {
    const otherAccount = ['manifest', '--role-arn', 'arn:aws:iam::111111111111:role/s3-reader', '--namespace', 'data', '--service-account', 'reader', '--region', 'eu-west-1'];
    const [plain, withIssuer, badIssuer] = await Promise.all([
      runCliJson(otherAccount),
      runCliJson([...otherAccount, '--issuer', 'https://oidc.example.com/cluster-a']),
      runCli([...otherAccount, '--issuer', 'https://oidc.example.com/cluster-a/']),
    ]);
    expect(plain.status).toBe(0);
    expect(JSON.stringify(plain.json)).toContain('{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::111111111111:role/s3-reader"}');
    expect(plain.stderr).not.toContain('oidc-provider');
    expect(withIssuer.status).toBe(0);
    expect(withIssuer.json).toEqual(plain.json);
    expect(withIssuer.stderr).toContain('note: account 111111111111 (the role\'s) must hold the IAM OIDC provider arn:aws:iam::111111111111:oidc-provider/oidc.example.com/cluster-a');
    expect(badIssuer.status).toBe(2);
    expectOneLineError(badIssuer.stderr, '--issuer must not end with "/"');
  });

  test('refuses what kube or STS would refuse (exit 2)', async () => {
    const [short, noRegion, typo, badName] = await Promise.all([
      runCli([...base, '--region', 'eu-west-1', '--expiration', '300']),
      runCli(base),
      runCli([...base, '--region', 'eu-west-1', '--audience', 'sts.amazon.com']),
      runCli(['manifest', '--role-arn', 'arn:aws:iam::123456789012:role/x', '--namespace', 'Payments', '--service-account', 'api', '--region', 'eu-west-1']),
    ]);
    expect(short.status).toBe(2);
    expectOneLineError(short.stderr, '--expiration must be between 600 and');
    expect(noRegion.status).toBe(2);
    expectOneLineError(noRegion.stderr, '--region is required');
    expect(typo.status).toBe(2);
    expectOneLineError(typo.stderr, '--audience sts.amazon.com is a typo of sts.amazonaws.com');
    expect(badName.status).toBe(2);
    expectOneLineError(badName.stderr, '--namespace "Payments" is not a Kubernetes namespace name');
  });
});
