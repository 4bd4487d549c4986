/**
 * `discovery --issuer URL [--jwks FILE]...`: the `/.well-known/openid-configuration` document
 * kube-apiserver would serve for this issuer, byte for byte (the same builder the sync uses).
 */
import { buildDiscovery, buildJwks, serializeDiscovery } from '../../core/documents';
import { isLoopbackHost } from '../../core/issuer-checks';
import { booleanFlag, EXIT_OK, LeafCommand, listFlag, parseIssuerFlag, requiredFlag } from '../command';
import { readKeyFiles } from '../key-files';

/** The `discovery` command. */
export const discoveryCommand: LeafCommand = {
  name: 'discovery',
  summary: 'print the openid-configuration document for an issuer',
  description: [
    'Prints the discovery document kube-apiserver serves at ISSUER/.well-known/openid-configuration,',
    'in its canonical bytes (ready to upload). With --jwks, id_token_signing_alg_values_supported is',
    'computed from the keys (PEM public or private keys, certificates, a JWK or a JWKS); without it, [RS256].',
  ].join('\n'),
  options: {
    issuer: { type: 'string', valueName: 'URL', required: true, description: 'the issuer, exactly as --service-account-issuer and the tokens\' iss' },
    jwks: { type: 'string', valueName: 'FILE', multiple: true, description: 'key file(s) to compute the signing algorithms from' },
    'allow-http': { type: 'boolean', description: 'accept an http:// issuer on a loopback address (local mode)' },
  },
  examples: ['discovery --issuer https://oidc.example.com/cluster-a --jwks /etc/kubernetes/pki/sa.pub'],
  async run(args, context) {
    const issuer = parseIssuerFlag(requiredFlag(args, 'issuer'), '--issuer', { allowHttp: booleanFlag(args, 'allow-http'), isLoopback: isLoopbackHost });
    const files = listFlag(args, 'jwks');
    const keys = readKeyFiles(files, '--jwks', context).map((key) => key.jwk);
    const discovery = files.length > 0
      ? buildDiscovery(issuer, buildJwks(keys))
      : { ...buildDiscovery(issuer, { keys: [] }), id_token_signing_alg_values_supported: ['RS256' as const] };
    if (files.length === 0) context.note('note: id_token_signing_alg_values_supported is [RS256]; give --jwks FILE to compute it from the keys');
    const body = serializeDiscovery(discovery);
    context.emit(body, JSON.parse(body));
    return EXIT_OK;
  },
};
