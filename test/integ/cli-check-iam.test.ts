/**
 * `check`'s IAM OIDC provider findings, with AWS credentials in the environment, against
 * moto_server (reached through AWS_ENDPOINT_URL, as the command documents).
 */
import { CreateOpenIDConnectProviderCommand, IAMClient } from '@aws-sdk/client-iam';
import { buildJwks } from '../../core/documents';
import type { Finding } from '../../core/issuer-checks';
import { parseKeyMaterial } from '../../core/keys';
import { issuerHostPath } from '../../core/trust-policy';
import { CliRun, runCli } from '../support/cli';
import { IssuerServer, makeTestPki, publishIssuer, startIssuerServer } from '../support/issuer-server';
import { Moto, startMoto } from '../support/moto';
import { OpensslWorkspace } from '../support/openssl';

describe('check with AWS credentials', () => {
  let moto: Moto;
  let ws: OpensslWorkspace;
  let server: IssuerServer;
  let registered: CliRun;
  let wrongAudience: CliRun;
  let unregistered: CliRun;
  let providerArn: string;

  beforeAll(async () => {
    // GIVEN an HTTPS issuer, and an account (moto) with an IAM OIDC provider for it
    moto = await startMoto();
    ws = OpensslWorkspace.create();
    const pki = makeTestPki();
    const key = ws.ecKeyPair('sa', 'P-256');
    const jwks = buildJwks(parseKeyMaterial(key.publicPem, key.publicFile).keys.map((k) => k.jwk));
    server = await startIssuerServer({ tls: pki.server });
    const known = publishIssuer(server, { jwks, issuerPath: '/registered' });
    const unknown = publishIssuer(server, { jwks, issuerPath: '/unregistered' });
    const iam = new IAMClient(moto.clientConfig);
    const created = await iam.send(new CreateOpenIDConnectProviderCommand({ Url: known.issuer, ClientIDList: ['sts.amazonaws.com'] }));
    iam.destroy();
    providerArn = created.OpenIDConnectProviderArn ?? '';

    // WHEN check runs with the account's credentials in the environment
    const check = (issuer: string, extra: string[] = []) =>
      runCli(['check', '--issuer', issuer, '--ca-file', pki.caFile, '--json', ...extra], { env: moto.env });
    [registered, wrongAudience, unregistered] = await Promise.all([
      check(known.issuer),
      check(known.issuer, ['--audience', 'api.payments.internal']),
      check(unknown.issuer),
    ]);
  });

  afterAll(async () => {
    await server?.close();
    await moto?.stop();
    ws?.remove();
  });

  const findings = (run: CliRun): Finding[] => (JSON.parse(run.stdout) as { findings: Finding[] }).findings;
  const find = (run: CliRun, id: string): Finding | undefined => findings(run).find((f) => f.id === id);
  // The local TLS server's issuer has a port and an IP host, which issuer-url refuses as IAM would
  // (moto registers it anyway); every other finding is about the IAM provider.
  const failures = (run: CliRun): string[] => findings(run).filter((f) => !f.ok).map((f) => f.id);

  test('the provider for the issuer, listing the audience, passes', () => {
    expect(providerArn).toMatch(/:oidc-provider\//);
    expect(failures(registered)).toEqual(['issuer-url']);
    expect(find(registered, 'issuer-url')?.seen).toMatch(/: has a port; does not have a valid DNS host name$/);
    expect(find(registered, 'iam-provider')).toMatchObject({ ok: true, seen: providerArn });
    expect(find(registered, 'iam-provider-audience')).toMatchObject({ ok: true, seen: 'client IDs [sts.amazonaws.com]' });
  });

  test('an audience missing from the provider\'s client IDs fails with the command that adds it', () => {
    expect(wrongAudience.status).toBe(1);
    expect(failures(wrongAudience)).toEqual(['issuer-url', 'iam-provider-audience']);
    const finding = find(wrongAudience, 'iam-provider-audience');
    expect(finding?.ok).toBe(false);
    expect(finding?.fix).toContain(`--open-id-connect-provider-arn ${providerArn} --client-id api.payments.internal`);
  });

  test('an issuer without a provider fails with the fix', () => {
    expect(unregistered.status).toBe(1);
    const finding = find(unregistered, 'iam-provider');
    expect(finding?.ok).toBe(false);
    expect(finding?.seen).toContain(`no provider for ${issuerHostPath(new URL('/unregistered', server.origin).toString())}`);
    expect(finding?.fix).toContain('create-open-id-connect-provider');
    expect(failures(unregistered)).toEqual(['issuer-url', 'iam-provider']);
  });
});
