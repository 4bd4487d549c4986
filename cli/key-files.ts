/**
 * Key files named on the command line (`jwks FILE...`, `discovery --jwks FILE`, `keys upload FILE`):
 * read and parsed with the same core as the sync, and refused as a whole when any part cannot be
 * used. An unusable key file is unusable input: exit 2, the file and the reason named, and what
 * the file must hold.
 */
import { parseKeyMaterial, ParsedKey } from '../core/keys';
import { CommandContext, readFlagFile, UsageError } from './command';

/** What a key file must hold, appended to every refusal. */
export const KEY_FILE_HINT =
  'each file must hold a public or private key as PEM (PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE, RSA/EC/PKCS#8 PRIVATE KEY), a JWK or a JWKS; RSA keys of at least 2048 bits, or EC P-256/P-384/P-521';

/**
 * Reads every file and returns all their keys, or throws a {@link UsageError} naming each unusable
 * file (or block) and its reason. `flag` names the argument in messages (`FILE`, `--jwks`);
 * `outcome` says what the refusal spared (nothing printed, nothing uploaded).
 */
export function readKeyFiles(files: readonly string[], flag: string, context: CommandContext, outcome = 'Nothing was printed'): ParsedKey[] {
  const keys: ParsedKey[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const result = parseKeyMaterial(readFlagFile(file, flag), file);
    problems.push(...result.problems.map((problem) => `${problem.source}: ${problem.reason}`));
    if (result.keys.some((key) => key.fromPrivateKey)) context.note(`note: ${file} holds a private key; only its public half is used`);
    keys.push(...result.keys);
  }
  if (problems.length > 0) {
    throw new UsageError(`cannot use ${flag === 'FILE' ? 'every key file' : `every ${flag} file`}: ${problems.join('; ')}. ${outcome}. Fix or leave out the file named; ${KEY_FILE_HINT}`);
  }
  return keys;
}
