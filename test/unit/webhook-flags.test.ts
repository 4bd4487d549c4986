/**
 * The `webhook` commands' flags map one to one onto the core's options (names as upstream's where
 * they mean the same), and bad values are usage errors naming the flag.
 */
import { webhookCommand, webhookOptionsFromFlags } from '../../cli/commands/webhook';
import { parseCommandLine } from '../../cli/main';
import { LeafCommand, UsageError } from '../../cli/command';
import { mutatePod } from '../../core/webhook/mutate';
import { resolveWebhookOptions } from '../../core/webhook/options';

const review = webhookCommand.subcommands.find((c) => c.name === 'review') as LeafCommand;
const serve = webhookCommand.subcommands.find((c) => c.name === 'serve') as LeafCommand;

describe('webhook flags', () => {
  test('every mutation flag reaches its option, on review and serve alike', () => {
    const argv = [
      '--annotation-prefix', 'iam.example.com',
      '--token-audience', 'sts.example.internal',
      '--aws-default-region', 'eu-central-1',
      '--token-mount-path', '/aws/',
      '--token-expiration', '7200',
      '--sts-regional-endpoint',
      '--service-token-annotation-prefix', 'tokens.example.com',
      '--service-token-mount-path', '/tokens',
      '--service-token-expiration', '1200',
    ];
    const expected = {
      annotationPrefix: 'iam.example.com',
      defaultAudience: 'sts.example.internal',
      awsDefaultRegion: 'eu-central-1',
      tokenMountPath: '/aws',
      tokenExpiration: 7200,
      stsRegionalEndpoint: true,
      serviceTokenAnnotationPrefix: 'tokens.example.com',
      serviceTokenMountPath: '/tokens',
      serviceTokenExpiration: 1200,
    };
    expect(webhookOptionsFromFlags(parseCommandLine(review, [...argv, '--service-account', 'sa.yaml']))).toEqual(expected);
    expect(webhookOptionsFromFlags(parseCommandLine(serve, argv))).toEqual(expected);
    expect(webhookOptionsFromFlags(parseCommandLine(serve, []))).toEqual(resolveWebhookOptions());
  });

  test('--token-audience is the audience of the AWS token when the ServiceAccount names none', () => {
    const options = webhookOptionsFromFlags(parseCommandLine(serve, ['--token-audience', 'sts.example.internal']));
    const result = mutatePod({ spec: { containers: [{ name: 'app' }] } }, { metadata: { name: 'default', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/x' } } }, options, () => 0);
    const volume = result.operations.find((op) => op.path === '/spec/volumes')?.value as { projected: { sources: { serviceAccountToken: { audience: string } }[] } }[];
    expect(volume[0].projected.sources[0].serviceAccountToken.audience).toBe('sts.example.internal');
  });

  test('kube-oidc-aws.io/skip-containers applies to service tokens only', () => {
    const options = webhookOptionsFromFlags(parseCommandLine(serve, []));
    const pod = { metadata: { annotations: { 'kube-oidc-aws.io/skip-containers': 'proxy' } }, spec: { containers: [{ name: 'app' }, { name: 'proxy' }] } };
    const result = mutatePod(pod, { metadata: { name: 'default', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/x', 'kube-oidc-aws.io/audiences': 'a.example.com' } } }, options, () => 0);
    const names = (index: number): string[] => (result.operations.find((op) => op.path === `/spec/containers/${index}/env`)?.value as { name: string }[]).map((v) => v.name);
    expect(names(0)).toContain('KUBE_OIDC_TOKEN_FILE_A_EXAMPLE_COM');
    expect(names(1)).toEqual(['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']);
  });

  test('bad values are usage errors that name the flag', () => {
    const error = (argv: string[]): string => {
      try {
        webhookOptionsFromFlags(parseCommandLine(serve, argv));
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(error(['--token-expiration', '599'])).toMatch(/^--token-expiration must be between 600/);
    expect(error(['--service-token-expiration', '90000'])).toMatch(/^--service-token-expiration must be between 600 and 86400/);
    expect(error(['--annotation-prefix', 'UPPER'])).toMatch(/^--annotation-prefix "UPPER"/);
    expect(error(['--token-audience', 'a,b'])).toMatch(/^--token-audience "a,b"/);
    expect(error(['--service-token-mount-path', '/var/run/secrets/eks.amazonaws.com/serviceaccount'])).toMatch(/^--token-mount-path .* overlap/);
    expect(() => parseCommandLine(serve, ['--sts-regional-endpoint=true'])).toThrow(/--sts-regional-endpoint does not take a value/);
  });
});
