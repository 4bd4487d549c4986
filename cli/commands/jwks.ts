/** `jwks FILE...`: key files to the JWKS kube-apiserver would publish, on stdout. */
import { buildJwks, serializeJwks } from '../../core/documents';
import { parseKeyMaterial, PublicJwk } from '../../core/keys';
import { booleanFlag, CliError, EXIT_OK, LeafCommand, readFlagFile } from '../command';

/** The `jwks` command. */
export const jwksCommand: LeafCommand = {
  name: 'jwks',
  summary: 'turn key files into the JWKS kube-apiserver publishes',
  usage: 'FILE...',
  description: [
    'Reads public or private key files (PEM PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE, RSA/EC/PKCS#8 PRIVATE KEY,',
    'several blocks per file; JWK or JWKS JSON) and prints the JWKS with kube\'s key ids: the unpadded base64url',
    'SHA-256 of each key\'s DER SubjectPublicKeyInfo. Only public members are ever printed. Any file that cannot',
    'be used fails the command (exit 1) and prints nothing, so a script never publishes a partial set.',
  ].join('\n'),
  options: {
    kidless: { type: 'boolean', description: 'also publish each key with kid "" (tokens from clusters before 1.16)' },
  },
  positionals: { min: 1, max: 100 },
  examples: ['jwks /etc/kubernetes/pki/sa.pub', 'jwks sa.key new-sa.pub --json'],
  async run(args, context) {
    const keys: PublicJwk[] = [];
    const problems: string[] = [];
    for (const file of args.positionals) {
      const result = parseKeyMaterial(readFlagFile(file, 'FILE'), file);
      problems.push(...result.problems.map((p) => `${p.source}: ${p.reason}`));
      if (result.keys.some((key) => key.fromPrivateKey)) context.note(`note: ${file} holds a private key; only its public half is used`);
      keys.push(...result.keys.map((key) => key.jwk));
    }
    if (problems.length > 0) throw new CliError(`cannot use every input: ${problems.join('; ')}`);
    const body = serializeJwks(buildJwks(keys, { includeKidlessDuplicates: booleanFlag(args, 'kidless') }));
    context.emit(body, JSON.parse(body));
    return EXIT_OK;
  },
};
