/** `deny add|remove|list`: the Verify API's deny list, for cutting a token off before it expires. */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { addDenyEntry, DENY_KINDS, DenyKind, denyEntries, DenyListError, removeDenyEntry } from '../../core/deny-list';
import type { ObjectStore } from '../../runtime/object-store';
import { SYNC_DEFAULTS } from '../../runtime/sync-runner';
import { CommandContext, CommandGroup, EXIT_OK, LeafCommand, OptionSpec, ParsedArgs, requiredFlag, stringFlag, UsageError } from '../command';
import { resolveClusterStorage, STORAGE_OPTIONS } from '../cluster-storage';
import { denyListOfIssuer, DenyListOwnersError, localPrivateStore, readDenyListOwners } from '../local-deny-lists';
import { editDenyList, readDenyList } from './keys';

/** `--state-dir` and `--issuer`: local mode's deny lists, one per local issuer, instead of a cluster's. */
const LOCAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'state-dir': { type: 'string', valueName: 'DIR', description: 'local mode\'s state folder (as given to `local --state-dir`), instead of --cluster or --bucket: no AWS' },
  issuer: { type: 'string', valueName: 'URL', description: 'with --state-dir: the local issuer whose deny list this is, exactly as given to `local --issuer` (needed once a local fleet has run in the folder)' },
};

/** One deny list the command edits or prints. */
interface DenyTarget {
  readonly privateStore: ObjectStore;
  readonly key: string;
  /** What was resolved, for messages. */
  readonly description: string;
}

const AWS_FLAGS = ['cluster', 'bucket', 'region', 'profile', 'config'] as const;

/**
 * A deployed cluster's deny list (`--cluster`, `--bucket`), or a local issuer's (`--state-dir`,
 * `--issuer`): in AWS each cluster has its own, and so has each issuer of local mode.
 */
async function resolveDenyTarget(args: ParsedArgs, context: CommandContext): Promise<DenyTarget> {
  const stateDirFlag = stringFlag(args, 'state-dir');
  const issuer = stringFlag(args, 'issuer');
  if (stateDirFlag === undefined) {
    if (issuer !== undefined) throw new UsageError('--issuer picks a local issuer\'s deny list and needs --state-dir DIR; a deployed cluster has one deny list: name the cluster with --cluster or --bucket');
    const storage = await resolveClusterStorage(args, context);
    return { privateStore: storage.privateStore, key: SYNC_DEFAULTS.denyListKey, description: storage.description };
  }
  const awsFlag = AWS_FLAGS.find((flag) => args.values[flag] !== undefined);
  if (awsFlag !== undefined) throw new UsageError(`--state-dir names local mode's deny lists, which need no AWS: give --state-dir or --${awsFlag}, not both`);
  const stateDir = resolve(stateDirFlag);
  // A mistyped folder would take entries no local mode ever reads.
  const found = await Promise.all(['documents', 'private'].map((name) => stat(join(stateDir, name)).then((s) => s.isDirectory(), () => false)));
  if (!found.some(Boolean)) throw new UsageError(`--state-dir ${stateDirFlag} is not a local-mode state folder (no documents/ or private/ in it): start \`kube-oidc local --state-dir ${stateDirFlag}\` once, or fix the path`);
  const privateStore = localPrivateStore(stateDir);
  try {
    const { owners } = await readDenyListOwners(privateStore);
    const key = denyListOfIssuer(owners, issuer, stateDir);
    return {
      privateStore,
      key,
      description: `${join(stateDir, 'private', key)}${issuer !== undefined ? ` (issuer ${issuer})` : ''}`,
    };
  } catch (err) {
    throw err instanceof DenyListOwnersError ? new UsageError(err.message) : err;
  }
}

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
    options: { ...STORAGE_OPTIONS, ...LOCAL_OPTIONS, ...kindOption, ...(name === 'add' ? { reason: { type: 'string' as const, description: 'why (kept in the list)' } } : {}) },
    positionals: { min: 1, max: 1 },
    examples: name === 'add'
      ? ['deny add --cluster dev --kind pod-uid 1b4e28ba-2fa1-11d2-883f-0016d3cca427 --reason "pod compromised"', 'deny add --state-dir .kube-oidc-local --issuer http://127.0.0.1:8787/clusters/alpha --kind service-account payments/api']
      : ['deny remove --cluster dev --kind jti 0f8fad5b-d9cb-469f-a165-70867728950e'],
    async run(args, context) {
      const kind = kindOf(requiredFlag(args, 'kind'));
      const value = args.positionals[0];
      const target = await resolveDenyTarget(args, context);
      const at = Math.floor(context.io.now().getTime() / 1000);
      try {
        await editDenyList(target, (list) => name === 'add'
          ? addDenyEntry(list, kind, value, { at, reason: stringFlag(args, 'reason') })
          : removeDenyEntry(list, kind, value, { at }), target.key);
      } catch (err) {
        if (err instanceof DenyListError) throw new UsageError(err.message);
        throw err;
      }
      context.emit(`${name === 'add' ? 'denied' : 'removed'} ${kind} ${value} in ${target.description}`, { [name === 'add' ? 'denied' : 'removed']: { kind, value } });
      return EXIT_OK;
    },
  };
}

const listCommand: LeafCommand = {
  name: 'list',
  summary: 'print the deny list',
  options: { ...STORAGE_OPTIONS, ...LOCAL_OPTIONS },
  async run(args, context) {
    const target = await resolveDenyTarget(args, context);
    const list = await readDenyList(target, target.key);
    const lines = DENY_KINDS.flatMap((kind) => denyEntries(list, kind).map((entry) => `${kind}\t${entry.value}\t${entry.addedAt ?? ''}\t${entry.reason ?? ''}`));
    context.emit(lines.length ? lines.join('\n') : '(the deny list is empty)', list);
    return EXIT_OK;
  },
};

/** The `deny` command group. */
export const denyCommand: CommandGroup = {
  name: 'deny',
  summary: 'manage the Verify API\'s deny list (tokens, pods, service accounts, keys)',
  description: [
    'Offline verification cannot see a deleted pod: its token stays valid until it expires. The deny list cuts it off sooner.',
    'Each deployed cluster has its own (--cluster or --bucket); so has each issuer of local mode (--state-dir DIR, and',
    '--issuer URL once a local fleet has run there). A list applies to its own cluster\'s or issuer\'s tokens only.',
  ].join('\n'),
  subcommands: [edit('add'), edit('remove'), listCommand],
};
