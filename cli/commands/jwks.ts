/** `jwks FILE...`: key files to the JWKS kube-apiserver would publish, on stdout. */
import { buildJwks, serializeJwks } from '../../core/documents';
import { booleanFlag, EXIT_OK, LeafCommand } from '../command';
import { readKeyFiles } from '../key-files';

/** The `jwks` command. */
export const jwksCommand: LeafCommand = {
  name: 'jwks',
  summary: 'turn key files into the JWKS kube-apiserver publishes',
  usage: 'FILE...',
  description: [
    'Reads public or private key files (PEM PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE, RSA/EC/PKCS#8 PRIVATE KEY,',
    'several blocks per file; JWK or JWKS JSON) and prints the JWKS with kube\'s key ids: the unpadded base64url',
    'SHA-256 of each key\'s DER SubjectPublicKeyInfo. Only public members are ever printed. Any file that cannot',
    'be used fails the command (exit 2) and prints nothing, so a script never publishes a partial set.',
  ].join('\n'),
  options: {
    kidless: { type: 'boolean', description: 'also publish each key with kid "" (tokens from clusters before 1.16)' },
  },
  positionals: { min: 1, max: 100 },
  examples: ['jwks /etc/kubernetes/pki/sa.pub', 'jwks sa.key new-sa.pub --json'],
  async run(args, context) {
    const keys = readKeyFiles(args.positionals, 'FILE', context).map((key) => key.jwk);
    const body = serializeJwks(buildJwks(keys, { includeKidlessDuplicates: booleanFlag(args, 'kidless') }));
    context.emit(body, JSON.parse(body));
    return EXIT_OK;
  },
};
