/**
 * Which deny list each local issuer reads (cli/local-deny-lists.ts): the first issuer of a new
 * folder keeps the single-issuer name, the others take `-N` names, a recorded issuer keeps its list
 * whatever the order, and the CLI finds an issuer's list only under its exact spelling.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assignDenyListKeys,
  claimDenyLists,
  DENY_LIST_OWNERS_KEY,
  denyListOfIssuer,
  DenyListOwnersError,
  localPrivateStore,
  parseDenyListOwners,
  serializeDenyListOwners,
} from '../../cli/local-deny-lists';

const A = 'https://a.example/x';
const B = 'https://b.example/y';
const C = 'https://c.example/z';

describe('assignDenyListKeys', () => {
  it('gives a new folder\'s first issuer control/deny-list.json and the others -1, -2 in order', () => {
    expect(assignDenyListKeys([A], new Map())).toEqual(['control/deny-list.json']);
    expect(assignDenyListKeys([A, B, C], new Map())).toEqual(['control/deny-list.json', 'control/deny-list-1.json', 'control/deny-list-2.json']);
  });

  it('keeps a recorded issuer on its list whatever its place, and never hands a recorded list to another issuer', () => {
    const owners = new Map([[A, 'control/deny-list.json'], [B, 'control/deny-list-1.json']]);
    expect(assignDenyListKeys([B, A], owners)).toEqual(['control/deny-list-1.json', 'control/deny-list.json']);
    expect(assignDenyListKeys([C, B], owners)).toEqual(['control/deny-list-2.json', 'control/deny-list-1.json']);
    expect(assignDenyListKeys([C], owners)).toEqual(['control/deny-list-2.json']);
  });

  it('gives distinct issuers distinct lists, and keeps every recorded owner, for any record and order', () => {
    const issuer = fc.constantFrom(A, B, C, 'https://d.example', 'https://e.example/');
    fc.assert(fc.property(fc.uniqueArray(issuer, { minLength: 1 }), fc.uniqueArray(issuer), fc.nat(5), (run, recorded, offset) => {
      const owners = new Map(recorded.map((owner, i) => [owner, i + offset === 0 ? 'control/deny-list.json' : `control/deny-list-${i + offset}.json`]));
      const keys = assignDenyListKeys(run, owners);
      expect(new Set(keys).size).toBe(run.length);
      run.forEach((entry, i) => {
        const own = owners.get(entry);
        if (own !== undefined) expect(keys[i]).toBe(own);
        else expect([...owners.values()]).not.toContain(keys[i]);
      });
    }));
  });
});

describe('the owners record', () => {
  it('round-trips, issuers sorted', () => {
    const owners = new Map([[B, 'control/deny-list-1.json'], [A, 'control/deny-list.json']]);
    const text = serializeDenyListOwners(owners);
    expect(text).toBe(`${JSON.stringify({ version: 1, owners: { [A]: 'control/deny-list.json', [B]: 'control/deny-list-1.json' } }, null, 2)}\n`);
    expect(parseDenyListOwners(text)).toEqual(owners);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /not a JSON object/],
    ['an unknown member', '{"version":1,"owners":{},"extra":1}', /unknown member "extra"/],
    ['another version', '{"version":2,"owners":{}}', /version must be 1/],
    ['a key outside the deny-list names', `{"version":1,"owners":{"${A}":"state/rotation.json"}}`, /must be control\/deny-list\.json or control\/deny-list-N\.json/],
    ['a -0 name', `{"version":1,"owners":{"${A}":"control/deny-list-0.json"}}`, /must be control\/deny-list\.json/],
    ['two issuers on one list', `{"version":1,"owners":{"${A}":"control/deny-list-1.json","${B}":"control/deny-list-1.json"}}`, /recorded for two issuers/],
  ])('refuses %s', (_why, text, reason) => {
    expect(() => parseDenyListOwners(text)).toThrow(DenyListOwnersError);
    expect(() => parseDenyListOwners(text)).toThrow(reason);
  });
});

describe('denyListOfIssuer (the CLI\'s --state-dir and --issuer)', () => {
  const owners = new Map([[A, 'control/deny-list.json'], [B, 'control/deny-list-1.json']]);

  it('finds a recorded issuer\'s list under its exact spelling only', () => {
    expect(denyListOfIssuer(owners, B, '/s')).toBe('control/deny-list-1.json');
    expect(() => denyListOfIssuer(owners, `${B}/`, '/s')).toThrow(/has no deny list in \/s .*spell it exactly/);
  });

  it('needs --issuer once owners are recorded, and refuses it while none are', () => {
    expect(() => denyListOfIssuer(owners, undefined, '/s')).toThrow(/belong to issuers: .*name one with --issuer URL/);
    expect(denyListOfIssuer(new Map(), undefined, '/s')).toBe('control/deny-list.json');
    expect(() => denyListOfIssuer(new Map(), A, '/s')).toThrow(/leave out --issuer/);
  });
});

describe('claimDenyLists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-deny-owners-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records nothing for one issuer in a new folder, records a fleet, then records every later run', async () => {
    const store = localPrivateStore(join(dir, 'state'));
    expect(await claimDenyLists(store, [A])).toEqual(['control/deny-list.json']);
    expect(await store.get(DENY_LIST_OWNERS_KEY)).toBeUndefined();
    expect(await claimDenyLists(store, [A, B])).toEqual(['control/deny-list.json', 'control/deny-list-1.json']);
    expect(await claimDenyLists(store, [C])).toEqual(['control/deny-list-2.json']);
    expect(parseDenyListOwners((await store.get(DENY_LIST_OWNERS_KEY))!.body)).toEqual(new Map([[A, 'control/deny-list.json'], [B, 'control/deny-list-1.json'], [C, 'control/deny-list-2.json']]));
    expect(await claimDenyLists(store, [B, A])).toEqual(['control/deny-list-1.json', 'control/deny-list.json']);
  });
});
