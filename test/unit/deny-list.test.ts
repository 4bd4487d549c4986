/**
 * The deny-list document (core/deny-list.ts): parsing with clear errors, canonical bytes, and
 * pure edits with injected time.
 */
import {
  addDenyEntry,
  DenyListError,
  denyEntries,
  emptyDenyList,
  isDenied,
  normalizeDenyValue,
  parseDenyList,
  removeDenyEntry,
  serializeDenyList,
} from '../../core/deny-list';

const AT = 1798761600; // 2027-01-01T00:00:00Z

describe('emptyDenyList', () => {
  it('denies nothing and serializes to a fixed document', () => {
    expect(serializeDenyList(emptyDenyList())).toBe(
      '{\n  "version": 1,\n  "kids": [],\n  "jtis": [],\n  "podUids": [],\n  "serviceAccounts": [],\n  "updatedAt": "1970-01-01T00:00:00.000Z"\n}\n',
    );
  });
});

describe('edits', () => {
  it('adds entries with the given time, reason and author, and stamps the list', () => {
    const list = addDenyEntry(emptyDenyList(), 'jti', 'abc', { at: AT, reason: 'leaked in a log', by: 'arn:aws:iam::123456789012:role/ops' });
    expect(list.jtis).toEqual([{ value: 'abc', reason: 'leaked in a log', addedAt: '2027-01-01T00:00:00.000Z', addedBy: 'arn:aws:iam::123456789012:role/ops' }]);
    expect(list.updatedAt).toBe('2027-01-01T00:00:00.000Z');
  });

  it('keeps one entry per value, updating it when added again', () => {
    let list = addDenyEntry(emptyDenyList(), 'kid', 'k1', { at: AT, reason: 'first' });
    list = addDenyEntry(list, 'kid', 'k1', { at: AT + 60, reason: 'second' });
    expect(list.kids).toEqual([{ value: 'k1', reason: 'second', addedAt: '2027-01-01T00:01:00.000Z' }]);
  });

  it('does not change its input', () => {
    const empty = emptyDenyList();
    addDenyEntry(empty, 'podUid', 'p', { at: AT });
    expect(empty.podUids).toEqual([]);
  });

  it('writes service accounts as namespace/name, from either form', () => {
    let list = addDenyEntry(emptyDenyList(), 'serviceAccount', 'system:serviceaccount:payments:api', { at: AT });
    list = addDenyEntry(list, 'serviceAccount', 'payments/api', { at: AT });
    expect(denyEntries(list, 'serviceAccount').map((entry) => entry.value)).toEqual(['payments/api']);
    expect(isDenied(list, 'serviceAccount', 'system:serviceaccount:payments:api')).toBe(true);
    expect(isDenied(list, 'serviceAccount', 'payments/other')).toBe(false);
  });

  it('removes entries, and returns the same list when the value was not there', () => {
    const list = addDenyEntry(emptyDenyList(), 'jti', 'abc', { at: AT });
    const removed = removeDenyEntry(list, 'jti', 'abc', { at: AT + 1 });
    expect(removed.jtis).toEqual([]);
    expect(removed.updatedAt).toBe('2027-01-01T00:00:01.000Z');
    expect(removeDenyEntry(removed, 'jti', 'abc', { at: AT + 2 })).toBe(removed);
  });

  it.each([
    ['jti', 'empty', '', 'must be a non-empty string'],
    ['kid', 'with a space', 'has space', 'contains whitespace'],
    ['podUid', 'with a NUL', 'a\u0000b', 'control characters'],
    ['jti', 'of 513 characters', 'x'.repeat(513), 'longer than 512'],
    ['serviceAccount', 'without namespace', 'payments', 'must be written namespace/name'],
    ['serviceAccount', 'with an invalid namespace', 'Payments/api', 'not a valid Kubernetes namespace name'],
    ['serviceAccount', 'with an invalid name', 'payments/API', 'not a valid Kubernetes service account name'],
    ['serviceAccount', 'with two slashes', 'a/b/c', 'must be written namespace/name'],
  ] as const)('refuses a %s %s', (kind, _label, value, message) => {
    expect(() => normalizeDenyValue(kind, value)).toThrow(message);
    expect(() => addDenyEntry(emptyDenyList(), kind, value, { at: AT })).toThrow(DenyListError);
  });

  it('refuses an edit time that is not a number of seconds', () => {
    expect(() => addDenyEntry(emptyDenyList(), 'jti', 'a', { at: Number.NaN })).toThrow('edit time');
  });
});

describe('serializeDenyList', () => {
  it('gives the same bytes for the same entries in any order', () => {
    const forward = ['b', 'a', 'c'].reduce((list, value) => addDenyEntry(list, 'jti', value, { at: AT }), emptyDenyList());
    const backward = ['c', 'a', 'b'].reduce((list, value) => addDenyEntry(list, 'jti', value, { at: AT }), emptyDenyList());
    expect(serializeDenyList(forward)).toBe(serializeDenyList(backward));
    expect(forward.jtis.map((entry) => entry.value)).toEqual(['a', 'b', 'c']);
  });

  it('round-trips through parseDenyList', () => {
    let list = addDenyEntry(emptyDenyList(), 'kid', 'k', { at: AT, reason: 'compromised' });
    list = addDenyEntry(list, 'serviceAccount', 'payments/api', { at: AT, by: 'alice' });
    const text = serializeDenyList(list);
    expect(serializeDenyList(parseDenyList(text))).toBe(text);
    expect(parseDenyList(text)).toEqual(list);
  });
});

describe('parseDenyList', () => {
  it('accepts strings as shorthand entries, missing lists as empty, and merges repeated values', () => {
    const list = parseDenyList(JSON.stringify({ version: 1, jtis: ['b', 'a', { value: 'b', reason: 'again' }], serviceAccounts: ['system:serviceaccount:ns:sa'] }));
    expect(list.jtis).toEqual([{ value: 'a' }, { value: 'b', reason: 'again' }]);
    expect(list.serviceAccounts).toEqual([{ value: 'ns/sa' }]);
    expect(list.kids).toEqual([]);
    expect(list.updatedAt).toBe('1970-01-01T00:00:00.000Z');
  });

  it.each([
    ['{', 'not valid JSON'],
    ['[]', 'must be a JSON object'],
    ['{"version":2}', 'version must be 1, got 2'],
    ['{"kids":[]}', 'version must be 1, got undefined'],
    ['{"version":1,"jti":["a"]}', 'unknown member "jti"'],
    ['{"version":1,"jtis":"a"}', '"jtis" must be an array'],
    ['{"version":1,"jtis":[5]}', 'deny list "jtis"[0] must be a string or an object'],
    ['{"version":1,"jtis":[{"value":"a","why":"x"}]}', 'deny list "jtis"[0] has unknown member "why"'],
    ['{"version":1,"podUids":[{"reason":"x"}]}', '"value" must be a string'],
    ['{"version":1,"serviceAccounts":["nope"]}', 'deny list "serviceAccounts"[0] service account "nope" must be written'],
    ['{"version":1,"kids":[{"value":"k","addedAt":"yesterday"}]}', '"addedAt" must be an ISO 8601 date string'],
    ['{"version":1,"updatedAt":5}', '"updatedAt" must be an ISO 8601 date string'],
  ])('refuses %s with a clear error', (text, message) => {
    expect(() => parseDenyList(text)).toThrow(DenyListError);
    expect(() => parseDenyList(text)).toThrow(message);
  });
});
