/** `local`: the whole system on 127.0.0.1 with no AWS account (`npm start`). */
import { bindLocalIssuers, DEFAULT_LOCAL_AUDIENCE, DEFAULT_LOCAL_PORT, LocalModeSetupError, mintDemoToken, startLocalMode } from '../local-mode';
import { CliError, EXIT_OK, integerFlag, LeafCommand, listFlag, stringFlag, UsageError } from '../command';

/** The `local` command. */
export const localCommand: LeafCommand = {
  name: 'local',
  summary: 'run the issuer documents and the Verify API locally (no AWS account)',
  description: [
    'With no flags: makes a demo key (once, in the state folder), publishes the discovery documents through',
    'the same sync core as the Lambda, serves them and the verify routes on 127.0.0.1, and prints a demo token',
    'with curl commands. With --key-file or --jwks-url, serves a real cluster\'s keys so that tokens from',
    '`kubectl create token` verify locally: exactly the keys given are published (never the demo key, never',
    'keys of an earlier run), and a key file that cannot be used stops it with exit 2. Stop with Ctrl-C.',
    '',
    'A fleet on one port: repeat --issuer; each issuer serves its discovery document and JWKS under its own',
    'URL path, and tokens of every issuer verify, each with its own keys only. Bind keys to an issuer with',
    '--key-file ISSUER=PATH or --jwks-url ISSUER=URL (repeatable). An issuer never holds "=": a --key-file',
    'value starting with http:// or https:// is split at its first "=", any other value is a file path;',
    'a --jwks-url value is ISSUER=URL only when both sides are http(s) URLs. A plain --key-file PATH or',
    '--jwks-url URL works with one issuer only. Every issuer of a fleet needs keys (no demo key).',
    '',
    'Each issuer has its own deny list in the state folder, as each cluster has in AWS: edit it with',
    '`kube-oidc deny add|remove|list --state-dir DIR --issuer ISSUER`; it applies to that issuer\'s tokens only, and',
    'an issuer keeps its list across runs whatever the order of --issuer. With one issuer, leave out --issuer.',
  ].join('\n'),
  options: {
    'key-file': { type: 'string', valueName: '[ISSUER=]FILE', multiple: true, description: 'a cluster key file (sa.pub, or sa.key: only its public half is used), bound to ISSUER when given' },
    'jwks-url': { type: 'string', valueName: '[ISSUER=]URL', multiple: true, description: 'the cluster\'s https://APISERVER/openid/v1/jwks, bound to ISSUER when given' },
    'ca-file': { type: 'string', valueName: 'FILE', description: 'CA bundle for --jwks-url' },
    'token-file': { type: 'string', valueName: 'FILE', description: 'bearer token for --jwks-url' },
    issuer: { type: 'string', valueName: 'URL', multiple: true, description: 'an issuer tokens carry (repeat for a fleet)', defaultText: 'the local server\'s URL' },
    audience: { type: 'string', valueName: 'AUD', multiple: true, description: 'an audience callers may ask about', defaultText: DEFAULT_LOCAL_AUDIENCE },
    port: { type: 'string', valueName: 'N', description: 'port on 127.0.0.1 (0 picks a free one)', defaultText: String(DEFAULT_LOCAL_PORT) },
    'state-dir': { type: 'string', valueName: 'DIR', description: 'folder for the demo key and the documents', defaultText: '.kube-oidc-local' },
  },
  examples: [
    'local',
    'local --port 0',
    'local --key-file /etc/kubernetes/pki/sa.pub --issuer https://kubernetes.default.svc.cluster.local --audience my-api',
    'local --issuer http://127.0.0.1:8787/clusters/alpha --key-file http://127.0.0.1:8787/clusters/alpha=alpha.pub --issuer http://127.0.0.1:8787/clusters/beta --key-file http://127.0.0.1:8787/clusters/beta=beta.pub --audience api.example',
  ],
  async run(args, context) {
    let bound: ReturnType<typeof bindLocalIssuers>;
    try {
      bound = bindLocalIssuers({ issuers: listFlag(args, 'issuer'), keyFiles: listFlag(args, 'key-file'), jwksUrls: listFlag(args, 'jwks-url') });
    } catch (err) {
      throw err instanceof LocalModeSetupError ? new UsageError(err.message) : err;
    }
    const mode = await startLocalMode({
      ...bound,
      caFile: stringFlag(args, 'ca-file'),
      tokenFile: stringFlag(args, 'token-file'),
      audiences: listFlag(args, 'audience'),
      port: integerFlag(args, 'port', DEFAULT_LOCAL_PORT, 0, 65535),
      stateDir: stringFlag(args, 'state-dir'),
    }).catch((err: Error) => {
      // A key source or state folder that cannot be used is the operator's input: exit 2.
      throw err instanceof LocalModeSetupError ? new UsageError(err.message) : new CliError(err.message);
    });
    const nowSeconds = Math.floor(context.io.now().getTime() / 1000);
    const token = mode.usesDemoKey ? await mintDemoToken(mode, nowSeconds) : undefined;
    const human = [
      `kube-oidc local mode is serving on ${mode.url}`,
      ...mode.issuers.flatMap((entry) => [
        `  issuer:    ${entry.issuer}`,
        `  discovery: ${mode.url}${entry.discoveryPath}`,
        `  jwks:      ${mode.url}${entry.jwksPath}`,
        ...(mode.issuers.length > 1 ? [
          `  kids:      ${entry.publishedKids.join(', ') || '(none)'}`,
          `  deny list: ${entry.denyListFile} (kube-oidc deny add --state-dir ${mode.stateDir} --issuer ${entry.issuer} ...)`,
        ] : []),
      ]),
      `  audiences: ${mode.audiences.join(', ')}`,
      `  state:     ${mode.stateDir}${mode.usesDemoKey ? ' (holds a DEMO key: never use it for a real cluster)' : ''}`,
      `  keys:      ${mode.publishedKids.length} published: ${mode.publishedKids.join(', ') || '(none)'}`,
      mode.publishesDemoKey
        ? '             the DEMO key is published (demo mode: no --key-file or --jwks-url given)'
        : '             the demo key is NOT published: only the keys given in this run',
      ...(token ? [
        '',
        'A demo token (system:serviceaccount:default:demo, valid for one hour):',
        '',
        `TOKEN=${token}`,
        '',
        'Try it:',
        `  curl -s ${mode.url}/verify -d "{\\"token\\":\\"$TOKEN\\"}"`,
        `  curl -s ${mode.url}/apis/authentication.k8s.io/v1/tokenreviews -d "{\\"apiVersion\\":\\"authentication.k8s.io/v1\\",\\"kind\\":\\"TokenReview\\",\\"spec\\":{\\"token\\":\\"$TOKEN\\"}}"`,
        `  curl -si ${mode.url}/auth -H "Authorization: Bearer $TOKEN"`,
      ] : [
        '',
        'Verify a token of your cluster (kubectl create token SA --audience AUD):',
        `  curl -s ${mode.url}/verify -d "{\\"token\\":\\"$(kubectl create token default --audience ${mode.audiences[0]})\\"}"`,
      ]),
      '',
      'Press Ctrl-C to stop.',
    ].join('\n');
    context.emit(human, { url: mode.url, issuer: mode.issuer, issuers: mode.issuers, audiences: mode.audiences, stateDir: mode.stateDir, publishedKids: mode.publishedKids, demoKeyPublished: mode.publishesDemoKey, demoToken: token ?? null });
    const signal = await context.io.untilInterrupted();
    await mode.close();
    context.note(`stopped (${signal})`);
    return EXIT_OK;
  },
};
