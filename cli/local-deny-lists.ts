/**
 * Local mode's deny lists: one per issuer, as in AWS, where each cluster's private bucket holds
 * its own `control/deny-list.json` and the fleet verifier reads each cluster's list for that
 * cluster's tokens only. Local mode has one state folder for every issuer, so each issuer gets its
 * own object in it: the first issuer keeps `control/deny-list.json` (single-issuer local mode is
 * unchanged), the others `control/deny-list-N.json`, the naming the rotation state uses.
 *
 * Unlike the rotation state, deny lists outlive a run (the user wrote them), so which issuer owns
 * which list is recorded in the state folder (`control/deny-list-owners.json`) and an issuer keeps
 * its list whatever order the next run gives the issuers in: a reordered `--issuer` list never
 * hands one issuer's entries to another. The record is written by every run with several issuers
 * (and by every run once any owner is recorded); a single-issuer run in a folder with no owners
 * records nothing, so its one list stays `control/deny-list.json` whatever the issuer (the default
 * issuer changes with the port).
 */
import { join } from 'node:path';
import { FileObjectStore, PreconditionFailed, type ObjectStore } from '../runtime/object-store';
import { SYNC_DEFAULTS } from '../runtime/sync-runner';

/** Where the state folder records which issuer owns which deny list (in its private store). */
export const DENY_LIST_OWNERS_KEY = 'control/deny-list-owners.json';

/** The private store of a local-mode state folder (the same folder local mode uses). */
export function localPrivateStore(stateDir: string): FileObjectStore {
  return new FileObjectStore(join(stateDir, 'private'));
}

/** The deny list object of the N-th list: N = 0 is the single-issuer name. */
export function numberedDenyListKey(n: number): string {
  return n === 0 ? SYNC_DEFAULTS.denyListKey : SYNC_DEFAULTS.denyListKey.replace(/\.json$/, `-${n}.json`);
}

/** The owners record could not be read: the state folder is not usable until it is fixed. */
export class DenyListOwnersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DenyListOwnersError';
  }
}

const OWNED_KEY = /^control\/deny-list(-[1-9][0-9]*)?\.json$/;

/**
 * Reads the owners record text: `{"version": 1, "owners": {"ISSUER": "control/deny-list-N.json"}}`.
 * Refuses anything else (an unknown member, a key outside the deny-list names, two issuers on one
 * list), because a misread record would apply one issuer's entries to another.
 *
 * @throws DenyListOwnersError naming the problem
 */
export function parseDenyListOwners(text: string): Map<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DenyListOwnersError(`it is not JSON (${(err as Error).message})`);
  }
  const record = raw as { version?: unknown; owners?: unknown } | null;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new DenyListOwnersError('it is not a JSON object');
  const unknown = Object.keys(record).filter((name) => name !== 'version' && name !== 'owners');
  if (unknown.length > 0) throw new DenyListOwnersError(`it has unknown member ${JSON.stringify(unknown[0])}`);
  if (record.version !== 1) throw new DenyListOwnersError(`its version must be 1, got ${JSON.stringify(record.version)}`);
  const owners = record.owners;
  if (typeof owners !== 'object' || owners === null || Array.isArray(owners)) throw new DenyListOwnersError('"owners" must be an object of issuer to deny list');
  const map = new Map<string, string>();
  const byKey = new Map<string, string>();
  for (const [issuer, key] of Object.entries(owners as Record<string, unknown>)) {
    if (typeof key !== 'string' || !OWNED_KEY.test(key)) throw new DenyListOwnersError(`the deny list of ${issuer} must be control/deny-list.json or control/deny-list-N.json, got ${JSON.stringify(key)}`);
    const other = byKey.get(key);
    if (other !== undefined) throw new DenyListOwnersError(`${key} is recorded for two issuers, ${other} and ${issuer}`);
    byKey.set(key, issuer);
    map.set(issuer, key);
  }
  return map;
}

/** The owners record as written: issuers sorted, 2-space indentation, final newline. */
export function serializeDenyListOwners(owners: ReadonlyMap<string, string>): string {
  const sorted = Object.fromEntries([...owners.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ version: 1, owners: sorted }, null, 2)}\n`;
}

/**
 * The deny list of each issuer of a run, in order. An issuer with a recorded list keeps it. An
 * issuer without one takes `control/deny-list.json` when it is the first issuer and no other
 * issuer owns that list, else the lowest `control/deny-list-N.json` (N from 1) that no issuer owns
 * and no earlier issuer of this run took. Issuers are compared byte for byte, as `iss` is.
 */
export function assignDenyListKeys(issuers: readonly string[], owners: ReadonlyMap<string, string>): string[] {
  const taken = new Set(owners.values());
  return issuers.map((issuer, index) => {
    const owned = owners.get(issuer);
    if (owned !== undefined) return owned;
    let n = index === 0 && !taken.has(numberedDenyListKey(0)) ? 0 : 1;
    while (taken.has(numberedDenyListKey(n))) n += 1;
    const key = numberedDenyListKey(n);
    taken.add(key);
    return key;
  });
}

/**
 * Reads the owners record of a private store (empty when there is none yet).
 *
 * @throws DenyListOwnersError naming the file and the fix when it cannot be used
 */
export async function readDenyListOwners(store: ObjectStore): Promise<{ owners: Map<string, string>; etag?: string }> {
  const object = await store.get(DENY_LIST_OWNERS_KEY);
  if (!object) return { owners: new Map() };
  try {
    return { owners: parseDenyListOwners(object.body), etag: object.etag };
  } catch (err) {
    throw new DenyListOwnersError(`${store.location}/${DENY_LIST_OWNERS_KEY} cannot be used: ${(err as Error).message}; fix it, or remove it together with the deny lists beside it`);
  }
}

/**
 * The deny list of each issuer of a local run, recorded in the state folder when the run has
 * several issuers or the folder already records owners (see the module comment).
 *
 * @throws DenyListOwnersError when the owners record cannot be used
 */
export async function claimDenyLists(store: ObjectStore, issuers: readonly string[]): Promise<string[]> {
  for (let attempt = 1; ; attempt += 1) {
    const { owners, etag } = await readDenyListOwners(store);
    const keys = assignDenyListKeys(issuers, owners);
    if (issuers.length < 2 && owners.size === 0) return keys;
    const next = new Map(owners);
    issuers.forEach((issuer, index) => next.set(issuer, keys[index]));
    if (etag !== undefined && serializeDenyListOwners(next) === serializeDenyListOwners(owners)) return keys;
    try {
      await store.put(DENY_LIST_OWNERS_KEY, serializeDenyListOwners(next), { contentType: 'application/json', ...(etag !== undefined ? { ifMatch: etag } : { ifAbsent: true }) });
      return keys;
    } catch (err) {
      if (!(err instanceof PreconditionFailed) || attempt >= 5) throw err;
    }
  }
}

/**
 * The deny list `kube-oidc deny --state-dir DIR [--issuer URL]` edits: with no issuer, the one list
 * of single-issuer local mode (only while the folder records no owners); with an issuer, the list
 * recorded for it, byte for byte (a misspelt issuer must not get a list no run reads).
 *
 * @throws DenyListOwnersError naming the fix when the issuer has no list, or is needed and missing
 */
export function denyListOfIssuer(owners: ReadonlyMap<string, string>, issuer: string | undefined, stateDir: string): string {
  const recorded = () => [...owners.entries()].map(([owner, key]) => `${owner} (${key})`).join(', ');
  if (issuer === undefined) {
    if (owners.size === 0) return numberedDenyListKey(0);
    throw new DenyListOwnersError(`the deny lists in ${stateDir} belong to issuers: ${recorded()}; name one with --issuer URL`);
  }
  const key = owners.get(issuer);
  if (key !== undefined) return key;
  if (owners.size === 0) {
    throw new DenyListOwnersError(`${stateDir} records no issuer's deny list: single-issuer local mode has one deny list, so leave out --issuer (a local fleet records each issuer's list when it starts)`);
  }
  throw new DenyListOwnersError(`issuer ${issuer} has no deny list in ${stateDir} (issuers with one: ${recorded()}): spell it exactly as given to \`kube-oidc local --issuer\`, or start local mode with it first`);
}
