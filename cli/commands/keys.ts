/** `keys upload|list|revoke`: the public keys under a cluster's key prefix, and key revocation. */
import { createHash, createPublicKey } from 'node:crypto';
import { addDenyEntry, denyEntries, DenyList, emptyDenyList, parseDenyList, serializeDenyList } from '../../core/deny-list';
import { documentPaths } from '../../core/documents';
import { parseKeyMaterial } from '../../core/keys';
import { PreconditionFailed } from '../../runtime/object-store';
import { SYNC_DEFAULTS } from '../../runtime/sync-runner';
import { booleanFlag, CliError, CommandGroup, EXIT_OK, LeafCommand, stringFlag } from '../command';
import { readKeyFiles } from '../key-files';
import { ClusterStorage, DOCUMENTS_STORAGE_OPTIONS, resolveClusterStorage, STORAGE_OPTIONS } from '../cluster-storage';

const uploadCommand: LeafCommand = {
  name: 'upload',
  summary: 'upload the public half of a key file under the cluster\'s key prefix',
  usage: 'FILE',
  description: [
    'Reads a key file in any accepted form. From a private key (kubeadm\'s sa.key) only the public key is',
    'derived and uploaded: private key material never leaves this machine. The upload triggers a sync;',
    'the new kid is announced on the alarm topic.',
  ].join('\n'),
  options: { ...STORAGE_OPTIONS },
  positionals: { min: 1, max: 1 },
  examples: ['keys upload /etc/kubernetes/pki/sa.key --cluster dev'],
  async run(args, context) {
    const file = args.positionals[0];
    // Read before any AWS call: an unusable key file is refused without touching the bucket.
    const keys = readKeyFiles([file], 'FILE', context, 'Nothing was uploaded');
    const storage = await resolveClusterStorage(args, context);
    const uploaded: string[] = [];
    for (const key of keys) {
      const pem = createPublicKey({ key: key.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
      const objectKey = `${SYNC_DEFAULTS.keyPrefix}${safeName(key.jwk.kid)}.pub`;
      await storage.privateStore.put(objectKey, pem, { contentType: 'application/x-pem-file' });
      uploaded.push(key.jwk.kid);
    }
    context.emit(uploaded.map((kid) => `uploaded ${kid} to ${storage.description}`).join('\n'), { uploaded });
    return EXIT_OK;
  },
};

const listCommand: LeafCommand = {
  name: 'list',
  summary: 'list uploaded keys, published kids and revoked kids',
  options: { ...DOCUMENTS_STORAGE_OPTIONS },
  async run(args, context) {
    const storage = await resolveClusterStorage(args, context);
    const uploaded: { object: string; kids: string[]; problems: string[] }[] = [];
    for (const key of await storage.privateStore.list(SYNC_DEFAULTS.keyPrefix)) {
      const object = await storage.privateStore.get(key);
      if (!object) continue;
      const parsed = parseKeyMaterial(object.body, key);
      uploaded.push({ object: key, kids: parsed.keys.map((k) => k.jwk.kid), problems: parsed.problems.map((p) => p.reason) });
    }
    const published = await publishedKids(storage);
    const revoked = await readDenyList(storage).then((list) => denyEntries(list, 'kid').map((entry) => entry.value));
    const human = [
      'uploaded:',
      ...(uploaded.length ? uploaded.map((u) => `  ${u.object}: ${u.kids.join(', ') || `refused (${u.problems.join('; ')})`}`) : ['  (none)']),
      `published: ${published === undefined ? '(documents bucket unknown: use --cluster, or --documents-bucket and --issuer with --bucket)' : published.join(', ') || '(none)'}`,
      `revoked: ${revoked.join(', ') || '(none)'}`,
    ].join('\n');
    context.emit(human, { uploaded, published: published ?? null, revoked });
    return EXIT_OK;
  },
};

const revokeCommand: LeafCommand = {
  name: 'revoke',
  summary: 'revoke a compromised key: out of the JWKS at the next sync, refused by the verifier at once',
  usage: 'KID',
  description: [
    'Adds the kid to the deny list. The next sync removes the key from the published JWKS at once (no grace',
    'period) and never publishes it again while it is revoked; the Verify API refuses its tokens as soon as',
    'it reloads its keys. Revoking the last published key would leave an empty JWKS, which the sync refuses:',
    'upload the replacement key first (or pass --force to record the revocation anyway).',
  ].join('\n'),
  options: {
    ...DOCUMENTS_STORAGE_OPTIONS,
    reason: { type: 'string', description: 'why (kept in the deny list)' },
    force: { type: 'boolean', description: 'revoke even when it is the last published key' },
  },
  positionals: { min: 1, max: 1 },
  async run(args, context) {
    const kid = args.positionals[0];
    const storage = await resolveClusterStorage(args, context);
    const published = await publishedKids(storage);
    if (published && published.length > 0 && published.every((k) => k === kid) && !booleanFlag(args, 'force')) {
      throw new CliError(`${kid} is the only published key: the sync will not publish an empty JWKS. Upload the replacement key first, or pass --force`);
    }
    await editDenyList(storage, (list) => addDenyEntry(list, 'kid', kid, { at: Math.floor(context.io.now().getTime() / 1000), reason: stringFlag(args, 'reason') ?? 'revoked with kube-oidc keys revoke' }));
    context.emit(`revoked ${kid}: it leaves the JWKS at the next sync (run \`kube-oidc sync\` to do it now)`, { revoked: kid });
    return EXIT_OK;
  },
};

/** The `keys` command group. */
export const keysCommand: CommandGroup = {
  name: 'keys',
  summary: 'upload, list and revoke the cluster\'s public keys',
  subcommands: [uploadCommand, listCommand, revokeCommand],
};

/** Reads the deny list (empty when none exists yet); `key` names another list than the cluster's own (local mode's per-issuer lists). */
export async function readDenyList(storage: Pick<ClusterStorage, 'privateStore'>, key: string = SYNC_DEFAULTS.denyListKey): Promise<DenyList> {
  const object = await storage.privateStore.get(key);
  return object ? parseDenyList(object.body) : emptyDenyList();
}

/**
 * Changes the deny list with a conditional write, retried when another writer got there first:
 * two operators editing at once both keep their entries.
 */
export async function editDenyList(storage: Pick<ClusterStorage, 'privateStore'>, edit: (list: DenyList) => DenyList, key: string = SYNC_DEFAULTS.denyListKey): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const object = await storage.privateStore.get(key);
    const next = edit(object ? parseDenyList(object.body) : emptyDenyList());
    try {
      await storage.privateStore.put(key, serializeDenyList(next), {
        contentType: 'application/json',
        ...(object ? { ifMatch: object.etag } : { ifAbsent: true }),
      });
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailed) || attempt >= 5) throw err;
    }
  }
}

/** The kids of the published JWKS; undefined when the documents bucket or issuer is unknown. */
export async function publishedKids(storage: ClusterStorage): Promise<string[] | undefined> {
  if (!storage.documents || !storage.issuer) return undefined;
  const jwksKey = documentPaths(storage.issuer).jwksKey;
  const jwks = await storage.documents.get(jwksKey);
  if (!jwks) return [];
  const kids = kidsOfJwks(jwks.body);
  if (!kids) throw new CliError(`the published JWKS (${storage.documents.location}/${jwksKey}) is not a JWKS: run \`kube-oidc sync\` to publish it again from the key sources`);
  return kids;
}

/** The distinct kids of a JWKS document, or undefined when the text is not a JWKS. */
export function kidsOfJwks(text: string): string[] | undefined {
  try {
    const value = JSON.parse(text) as { keys?: unknown };
    if (!Array.isArray(value.keys)) return undefined;
    return [...new Set(value.keys.map((key) => String((key as { kid?: unknown }).kid ?? '')))];
  } catch {
    return undefined;
  }
}

/** A kid can hold any character; object keys get a readable, safe form of it. */
function safeName(kid: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(kid) ? kid : createHash('sha256').update(kid).digest('base64url');
}
