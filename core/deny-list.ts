/**
 * The verifier's deny list: tokens to refuse before they expire, by key id (a revoked signing
 * key), token id (`jti`), pod uid or service account.
 *
 * Offline verification cannot see a deleted pod or service account: a token stays valid until
 * its `exp` unless it is listed here. The document is one JSON object kept in the private bucket
 * (`control/deny-list.json`), written by the CLI (`deny add|remove|list`) and read by the
 * verifier and, for `kids`, by the JWKS sync (a revoked key leaves the published JWKS).
 *
 * Every edit is pure: it returns a new document and takes the time as a parameter.
 */

import { isDnsLabel, isDnsSubdomain } from './kube-names';

/** What an entry names. */
export type DenyKind = 'kid' | 'jti' | 'podUid' | 'serviceAccount';

/** The kinds, in document order. */
export const DENY_KINDS: readonly DenyKind[] = ['kid', 'jti', 'podUid', 'serviceAccount'];

/** One denied value, with why and when it was added. */
export interface DenyEntry {
  /** The denied value; a service account is written `namespace/name`. */
  readonly value: string;
  /** Why it was denied, for the operator who reads the list later. */
  readonly reason?: string;
  /** When it was added, ISO 8601 UTC. */
  readonly addedAt?: string;
  /** Who added it (an ARN or user name), when the writer knows. */
  readonly addedBy?: string;
}

/** The deny-list document, version 1. */
export interface DenyList {
  readonly version: 1;
  /** Revoked signing keys: tokens they signed are refused and the sync stops publishing them. */
  readonly kids: readonly DenyEntry[];
  /** Individual tokens, by their `jti` claim. */
  readonly jtis: readonly DenyEntry[];
  /** Every token bound to a pod, by the pod's uid. */
  readonly podUids: readonly DenyEntry[];
  /** Every token of a service account, as `namespace/name`. */
  readonly serviceAccounts: readonly DenyEntry[];
  /** When the list last changed, ISO 8601 UTC. */
  readonly updatedAt: string;
}

/** Options of one edit. */
export interface DenyEditOptions {
  /** When the edit happens, epoch seconds (the core has no clock of its own). */
  readonly at: number;
  /** Why (for `addDenyEntry`). */
  readonly reason?: string;
  /** Who makes the edit (for `addDenyEntry`). */
  readonly by?: string;
}

/** A deny-list document or value that cannot be used; the message says what is wrong and where. */
export class DenyListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DenyListError';
  }
}

const LIST_MEMBER: Record<DenyKind, 'kids' | 'jtis' | 'podUids' | 'serviceAccounts'> = {
  kid: 'kids',
  jti: 'jtis',
  podUid: 'podUids',
  serviceAccount: 'serviceAccounts',
};

const TOP_LEVEL_MEMBERS = ['version', 'kids', 'jtis', 'podUids', 'serviceAccounts', 'updatedAt'];
const ENTRY_MEMBERS = ['value', 'reason', 'addedAt', 'addedBy'];
const MAX_VALUE_LENGTH = 512;
const MAX_NOTE_LENGTH = 1024;
const EPOCH_ISO = '1970-01-01T00:00:00.000Z';

/** A list with nothing denied. */
export function emptyDenyList(updatedAt: string = EPOCH_ISO): DenyList {
  return { version: 1, kids: [], jtis: [], podUids: [], serviceAccounts: [], updatedAt };
}

/**
 * Parses a deny-list document. Strings are accepted as shorthand entries (`"jtis": ["abc"]`).
 * Unknown members are refused rather than ignored: a misspelt list name (`"jti"`) would
 * otherwise deny nothing without anyone noticing.
 *
 * @throws DenyListError naming the first problem found
 */
export function parseDenyList(text: string): DenyList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DenyListError(`deny list is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isPlainObject(value)) throw new DenyListError('deny list must be a JSON object');
  for (const member of Object.keys(value)) {
    if (!TOP_LEVEL_MEMBERS.includes(member)) {
      throw new DenyListError(`deny list has unknown member ${JSON.stringify(member)} (expected ${TOP_LEVEL_MEMBERS.join(', ')})`);
    }
  }
  if (value.version !== 1) throw new DenyListError(`deny list version must be 1, got ${JSON.stringify(value.version)}`);
  const updatedAt = value.updatedAt === undefined ? EPOCH_ISO : value.updatedAt;
  if (typeof updatedAt !== 'string' || Number.isNaN(Date.parse(updatedAt))) {
    throw new DenyListError('deny list "updatedAt" must be an ISO 8601 date string');
  }
  const lists = {} as Record<DenyKind, DenyEntry[]>;
  for (const kind of DENY_KINDS) lists[kind] = parseEntries(value[LIST_MEMBER[kind]], kind);
  return {
    version: 1,
    kids: lists.kid,
    jtis: lists.jti,
    podUids: lists.podUid,
    serviceAccounts: lists.serviceAccount,
    updatedAt,
  };
}

/**
 * Serializes a deny list to canonical bytes: fixed member order, entries sorted by value, two
 * spaces of indentation and a final newline, so that equal lists are equal files.
 */
export function serializeDenyList(list: DenyList): string {
  const canonical = {
    version: 1,
    kids: sortedEntries(list.kids),
    jtis: sortedEntries(list.jtis),
    podUids: sortedEntries(list.podUids),
    serviceAccounts: sortedEntries(list.serviceAccounts),
    updatedAt: list.updatedAt,
  };
  return `${JSON.stringify(canonical, null, 2)}\n`;
}

/**
 * Adds an entry, or updates the reason of an existing one. A service account may be given as
 * `namespace/name` or as its username `system:serviceaccount:namespace:name`.
 *
 * @throws DenyListError when the value is not valid for its kind
 */
export function addDenyEntry(list: DenyList, kind: DenyKind, value: string, options: DenyEditOptions): DenyList {
  const normalized = normalizeDenyValue(kind, value);
  const addedAt = isoTime(options.at);
  const entry: DenyEntry = {
    value: normalized,
    ...(options.reason !== undefined ? { reason: checkNote(options.reason, 'reason') } : {}),
    addedAt,
    ...(options.by !== undefined ? { addedBy: checkNote(options.by, 'by') } : {}),
  };
  const member = LIST_MEMBER[kind];
  const others = list[member].filter((existing) => existing.value !== normalized);
  return { ...list, [member]: sortedEntries([...others, entry]), updatedAt: addedAt };
}

/**
 * Removes an entry. Returns the same list object when the value was not listed, so that a
 * caller can tell (and avoid rewriting an unchanged document).
 *
 * @throws DenyListError when the value is not valid for its kind
 */
export function removeDenyEntry(list: DenyList, kind: DenyKind, value: string, options: Pick<DenyEditOptions, 'at'>): DenyList {
  const normalized = normalizeDenyValue(kind, value);
  const member = LIST_MEMBER[kind];
  const remaining = list[member].filter((existing) => existing.value !== normalized);
  if (remaining.length === list[member].length) return list;
  return { ...list, [member]: remaining, updatedAt: isoTime(options.at) };
}

/** Whether a value is on the list (service accounts in either accepted form). */
export function isDenied(list: DenyList, kind: DenyKind, value: string): boolean {
  let normalized: string;
  try {
    normalized = normalizeDenyValue(kind, value);
  } catch {
    return false;
  }
  return list[LIST_MEMBER[kind]].some((entry) => entry.value === normalized);
}

/** The entries of one kind. */
export function denyEntries(list: DenyList, kind: DenyKind): readonly DenyEntry[] {
  return list[LIST_MEMBER[kind]];
}

/**
 * Checks and normalizes a value for its kind: trims nothing (a kid or jti is compared byte for
 * byte with the token), refuses empty values, control characters and over-long values, and
 * brings a service account to `namespace/name` with Kubernetes' name rules.
 *
 * @throws DenyListError saying what is wrong
 */
export function normalizeDenyValue(kind: DenyKind, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new DenyListError(`${kind} must be a non-empty string`);
  if (value.length > MAX_VALUE_LENGTH) throw new DenyListError(`${kind} is longer than ${MAX_VALUE_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new DenyListError(`${kind} contains control characters`);
  if (kind !== 'serviceAccount') {
    if (/\s/.test(value)) throw new DenyListError(`${kind} ${JSON.stringify(value)} contains whitespace`);
    return value;
  }
  const username = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(value);
  const parts = username ? [username[1], username[2]] : value.split('/');
  if (parts.length !== 2) {
    throw new DenyListError(`service account ${JSON.stringify(value)} must be written namespace/name or system:serviceaccount:namespace:name`);
  }
  const [namespace, name] = parts;
  if (!isDnsLabel(namespace)) {
    throw new DenyListError(`service account namespace ${JSON.stringify(namespace)} is not a valid Kubernetes namespace name`);
  }
  if (!isDnsSubdomain(name)) {
    throw new DenyListError(`service account name ${JSON.stringify(name)} is not a valid Kubernetes service account name`);
  }
  return `${namespace}/${name}`;
}

function parseEntries(raw: unknown, kind: DenyKind): DenyEntry[] {
  const member = LIST_MEMBER[kind];
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new DenyListError(`deny list "${member}" must be an array`);
  const byValue = new Map<string, DenyEntry>();
  raw.forEach((item, index) => {
    const where = `deny list "${member}"[${index}]`;
    const entry = parseEntry(item, kind, where);
    byValue.set(entry.value, entry);
  });
  return sortedEntries([...byValue.values()]);
}

function parseEntry(item: unknown, kind: DenyKind, where: string): DenyEntry {
  try {
    if (typeof item === 'string') return { value: normalizeDenyValue(kind, item) };
    if (!isPlainObject(item)) throw new DenyListError('must be a string or an object with a "value"');
    for (const member of Object.keys(item)) {
      if (!ENTRY_MEMBERS.includes(member)) throw new DenyListError(`has unknown member ${JSON.stringify(member)} (expected ${ENTRY_MEMBERS.join(', ')})`);
    }
    if (typeof item.value !== 'string') throw new DenyListError('"value" must be a string');
    const entry: { value: string; reason?: string; addedAt?: string; addedBy?: string } = { value: normalizeDenyValue(kind, item.value) };
    if (item.reason !== undefined) entry.reason = checkNote(item.reason, 'reason');
    if (item.addedAt !== undefined) {
      if (typeof item.addedAt !== 'string' || Number.isNaN(Date.parse(item.addedAt))) throw new DenyListError('"addedAt" must be an ISO 8601 date string');
      entry.addedAt = item.addedAt;
    }
    if (item.addedBy !== undefined) entry.addedBy = checkNote(item.addedBy, 'addedBy');
    return entry;
  } catch (err) {
    if (err instanceof DenyListError) throw new DenyListError(`${where} ${err.message}`);
    throw err;
  }
}

function checkNote(value: unknown, label: string): string {
  if (typeof value !== 'string') throw new DenyListError(`"${label}" must be a string`);
  if (value.length > MAX_NOTE_LENGTH) throw new DenyListError(`"${label}" is longer than ${MAX_NOTE_LENGTH} characters`);
  return value;
}

function sortedEntries(entries: readonly DenyEntry[]): DenyEntry[] {
  // Member order inside an entry is fixed here too, so serialization is canonical.
  return entries
    .map((entry) => ({
      value: entry.value,
      ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
      ...(entry.addedAt !== undefined ? { addedAt: entry.addedAt } : {}),
      ...(entry.addedBy !== undefined ? { addedBy: entry.addedBy } : {}),
    }))
    .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

function isoTime(epochSeconds: number): string {
  if (!Number.isFinite(epochSeconds)) throw new DenyListError('edit time must be a finite number of epoch seconds');
  const date = new Date(epochSeconds * 1000);
  if (Number.isNaN(date.getTime())) throw new DenyListError('edit time is out of range');
  return date.toISOString();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
