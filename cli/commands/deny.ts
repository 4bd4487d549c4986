/** `deny add|remove|list`: the Verify API's deny list, for cutting a token off before it expires. */
import { addDenyEntry, DENY_KINDS, DenyKind, denyEntries, DenyListError, removeDenyEntry } from '../../core/deny-list';
import { CommandGroup, EXIT_OK, LeafCommand, requiredFlag, stringFlag, UsageError } from '../command';
import { resolveClusterStorage, STORAGE_OPTIONS } from '../cluster-storage';
import { editDenyList, readDenyList } from './keys';

const KIND_FLAGS: Readonly<Record<string, DenyKind>> = { jti: 'jti', 'pod-uid': 'podUid', 'service-account': 'serviceAccount', kid: 'kid' };

const kindOption = {
  kind: { type: 'string' as const, valueName: 'KIND', required: true, description: `what VALUE is: ${Object.keys(KIND_FLAGS).join(', ')}` },
};

function kindOf(flag: string): DenyKind {
  const kind = KIND_FLAGS[flag];
  if (!kind) throw new UsageError(`--kind must be one of ${Object.keys(KIND_FLAGS).join(', ')}, got ${JSON.stringify(flag)}`);
  return kind;
}

function edit(name: 'add' | 'remove'): LeafCommand {
  return {
    name,
    summary: name === 'add' ? 'deny a token (jti), a pod (uid), a service account (ns/name) or a key (kid)' : 'remove an entry from the deny list',
    usage: 'VALUE',
    options: { ...STORAGE_OPTIONS, ...kindOption, ...(name === 'add' ? { reason: { type: 'string' as const, description: 'why (kept in the list)' } } : {}) },
    positionals: { min: 1, max: 1 },
    examples: [name === 'add' ? 'deny add --cluster dev --kind pod-uid 1b4e28ba-2fa1-11d2-883f-0016d3cca427 --reason "pod compromised"' : 'deny remove --cluster dev --kind jti 0f8fad5b-d9cb-469f-a165-70867728950e'],
    async run(args, context) {
      const kind = kindOf(requiredFlag(args, 'kind'));
      const value = args.positionals[0];
      const storage = await resolveClusterStorage(args, context);
      const at = Math.floor(context.io.now().getTime() / 1000);
      try {
        await editDenyList(storage, (list) => name === 'add'
          ? addDenyEntry(list, kind, value, { at, reason: stringFlag(args, 'reason') })
          : removeDenyEntry(list, kind, value, { at }));
      } catch (err) {
        if (err instanceof DenyListError) throw new UsageError(err.message);
        throw err;
      }
      context.emit(`${name === 'add' ? 'denied' : 'removed'} ${kind} ${value} in ${storage.description}`, { [name === 'add' ? 'denied' : 'removed']: { kind, value } });
      return EXIT_OK;
    },
  };
}

const listCommand: LeafCommand = {
  name: 'list',
  summary: 'print the deny list',
  options: { ...STORAGE_OPTIONS },
  async run(args, context) {
    const storage = await resolveClusterStorage(args, context);
    const list = await readDenyList(storage);
    const lines = DENY_KINDS.flatMap((kind) => denyEntries(list, kind).map((entry) => `${kind}\t${entry.value}\t${entry.addedAt ?? ''}\t${entry.reason ?? ''}`));
    context.emit(lines.length ? lines.join('\n') : '(the deny list is empty)', list);
    return EXIT_OK;
  },
};

/** The `deny` command group. */
export const denyCommand: CommandGroup = {
  name: 'deny',
  summary: 'manage the Verify API\'s deny list (tokens, pods, service accounts, keys)',
  description: 'Offline verification cannot see a deleted pod: its token stays valid until it expires. The deny list cuts it off sooner.',
  subcommands: [edit('add'), edit('remove'), listCommand],
};
