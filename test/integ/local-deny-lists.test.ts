/**
 * Local mode's deny lists are per issuer, as in AWS (each cluster's private bucket holds its own,
 * and the fleet verifier reads each cluster's list for that cluster's tokens only): over real HTTP
 * on 127.0.0.1, an entry on one issuer's list refuses that issuer's tokens and never another's,
 * the lists follow their issuers when the next run orders them differently, and
 * `kube-oidc deny --state-dir DIR [--issuer URL]` edits exactly the list of the issuer it names.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalMode, type LocalIssuerOptions, type LocalMode } from '../../cli/local-mode';
import { runCli, runCliInProcess } from '../support/cli';
import { kubeClaims, kubeToken, newTestKey, type TestKey } from '../support/tokens';

const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-local-deny-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ALPHA = 'http://127.0.0.1:8787/clusters/alpha';
const BETA = 'http://127.0.0.1:8787/clusters/beta';
const AUD = 'api.example';
const alpha = newTestKey('ES256');
const beta = newTestKey('ES256');
const alphaFile = join(dir, 'alpha.pub');
const betaFile = join(dir, 'beta.pub');
writeFileSync(alphaFile, createPublicKey(alpha.privateKey).export({ type: 'spki', format: 'pem' }) as string);
writeFileSync(betaFile, createPublicKey(beta.privateKey).export({ type: 'spki', format: 'pem' }) as string);
const now = () => Math.floor(Date.now() / 1000);
/** A token of payments/api, the same service account (and jti, pod uid) in both clusters. */
const tokenOf = (key: TestKey, issuer: string) => kubeToken(key, kubeClaims({ issuer, audiences: [AUD], iat: now() - 10 }));

/** The CLI in this process (no AWS is involved with --state-dir); `local` stops as soon as it has printed its banner. */
const cli = runCliInProcess;

async function verdict(mode: LocalMode, token: string): Promise<{ authenticated: boolean; reason?: string; issuer?: string }> {
  const response = await fetch(`${mode.url}/verify`, { method: 'POST', body: JSON.stringify({ token }) });
  expect(response.status).toBe(200);
  return (await response.json()) as { authenticated: boolean; reason?: string; issuer?: string };
}

/** Starts a fleet on the state folder, runs `check` against it, and always stops it. */
async function withFleet(stateDir: string, order: readonly LocalIssuerOptions[], check: (mode: LocalMode) => Promise<void>): Promise<void> {
  const mode = await startLocalMode({ port: 0, stateDir, audiences: [AUD], issuers: order });
  try {
    await check(mode);
  } finally {
    await mode.close();
  }
}

describe('a local fleet has one deny list per issuer, as each cluster has in AWS', () => {
  const stateDir = join(dir, 'fleet');
  const alphaFirst = [{ issuer: ALPHA, keyFiles: [alphaFile] }, { issuer: BETA, keyFiles: [betaFile] }];
  const betaFirst = [...alphaFirst].reverse();
  // "--" before the value: a kid is base64url and may start with "-".
  const deny = (verb: 'add' | 'remove', issuer: string, kind: string, value: string) => cli(['deny', verb, '--state-dir', stateDir, '--issuer', issuer, '--kind', kind, '--', value]);

  it('refuses a token of alpha once alpha\'s list denies it, while the same entry on beta\'s list leaves alpha alone (and the reverse)', async () => {
    await withFleet(stateDir, alphaFirst, async (mode) => {
      // The first issuer keeps the single-issuer list; the second gets the -1 name, as the rotation state does.
      expect(mode.issuers.map((entry) => [entry.issuer, entry.denyListKey])).toEqual([[ALPHA, 'control/deny-list.json'], [BETA, 'control/deny-list-1.json']]);
      // Written before the first token: the key caches first read their lists then.
      const added = await deny('add', ALPHA, 'service-account', 'payments/api');
      expect([added.status, added.stderr]).toEqual([0, '']);
      expect(added.stdout).toContain(`denied serviceAccount payments/api in ${join(stateDir, 'private', 'control', 'deny-list.json')} (issuer ${ALPHA})`);
      expect(await verdict(mode, tokenOf(alpha, ALPHA))).toMatchObject({ authenticated: false, reason: 'revoked' });
      expect(await verdict(mode, tokenOf(beta, BETA))).toMatchObject({ authenticated: true, issuer: BETA });
    });

    // Now the equal entry on beta's list only; beta's list also names alpha's kid, which must not
    // take alpha's key out of alpha's JWKS.
    expect((await deny('remove', ALPHA, 'service-account', 'payments/api')).status).toBe(0);
    expect((await deny('add', BETA, 'service-account', 'payments/api')).status).toBe(0);
    const deniedKid = await deny('add', BETA, 'kid', alpha.kid);
    expect([deniedKid.status, deniedKid.stderr]).toEqual([0, '']);
    await withFleet(stateDir, alphaFirst, async (mode) => {
      expect(mode.issuers.map((entry) => entry.publishedKids)).toEqual([[alpha.kid], [beta.kid]]);
      expect(await verdict(mode, tokenOf(alpha, ALPHA))).toMatchObject({ authenticated: true, issuer: ALPHA });
      expect(await verdict(mode, tokenOf(beta, BETA))).toMatchObject({ authenticated: false, reason: 'revoked' });
      expect((await fetch(`${mode.url}/auth`, { headers: { authorization: `Bearer ${tokenOf(beta, BETA)}` } })).status).toBe(401);
      expect((await fetch(`${mode.url}/auth`, { headers: { authorization: `Bearer ${tokenOf(alpha, ALPHA)}` } })).status).toBe(200);
    });

    const listed = await cli(['deny', 'list', '--state-dir', stateDir, '--issuer', BETA, '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject({ kids: [expect.objectContaining({ value: alpha.kid })], serviceAccounts: [expect.objectContaining({ value: 'payments/api' })] });
    const alphaList = JSON.parse((await cli(['deny', 'list', '--state-dir', stateDir, '--issuer', ALPHA, '--json'])).stdout) as Record<string, unknown[]>;
    expect([alphaList.kids, alphaList.serviceAccounts]).toEqual([[], []]);
  });

  it('names each issuer\'s deny list file, and the command that edits it, in the banner of `local`', async () => {
    const run = await cli(['local', '--port', '0', '--state-dir', stateDir, '--issuer', BETA, '--key-file', `${BETA}=${betaFile}`, '--issuer', ALPHA, '--key-file', `${ALPHA}=${alphaFile}`, '--audience', AUD]);
    expect([run.status, run.stderr]).toEqual([0, expect.stringContaining('stopped (SIGINT)')]);
    for (const [issuer, file] of [[BETA, 'deny-list-1.json'], [ALPHA, 'deny-list.json']]) {
      expect(run.stdout).toMatch(new RegExp(`issuer: +${issuer}\\n(.*\\n){3} +deny list: ${join(stateDir, 'private', 'control', file).replace(/[.]/g, '\\.')} \\(kube-oidc deny add --state-dir ${stateDir} --issuer ${issuer} \\.\\.\\.\\)\\n`));
    }
  });

  it('keeps each issuer on its own list when the next run gives the issuers in another order', async () => {
    await withFleet(stateDir, betaFirst, async (mode) => {
      expect(mode.issuers.map((entry) => [entry.issuer, entry.denyListKey])).toEqual([[BETA, 'control/deny-list-1.json'], [ALPHA, 'control/deny-list.json']]);
      expect(await verdict(mode, tokenOf(beta, BETA))).toMatchObject({ authenticated: false, reason: 'revoked' });
      expect(await verdict(mode, tokenOf(alpha, ALPHA))).toMatchObject({ authenticated: true, issuer: ALPHA });
    });
  });

  it('makes the CLI name the issuer, exactly as local mode was given it, and refuses the rest with exit 2', async () => {
    const cases: [string, string[], RegExp][] = [
      ['no --issuer in a fleet\'s folder', ['deny', 'add', '--state-dir', stateDir, '--kind', 'jti', 'x'], new RegExp(`belong to issuers: .*${ALPHA}.*name one with --issuer URL`)],
      ['an issuer spelt with a trailing slash', ['deny', 'add', '--state-dir', stateDir, '--issuer', `${ALPHA}/`, '--kind', 'jti', 'x'], /has no deny list in .*spell it exactly as given/],
      ['an issuer never served', ['deny', 'list', '--state-dir', stateDir, '--issuer', 'http://127.0.0.1:8787/clusters/gamma'], /has no deny list/],
      ['--issuer without --state-dir', ['deny', 'add', '--issuer', ALPHA, '--kind', 'jti', 'x'], /--issuer .* needs --state-dir DIR/],
      ['--state-dir with --cluster', ['deny', 'add', '--state-dir', stateDir, '--cluster', 'dev', '--kind', 'jti', 'x'], /give --state-dir or --cluster, not both/],
      ['a folder local mode never used', ['deny', 'add', '--state-dir', join(dir, 'typo'), '--kind', 'jti', 'x'], /is not a local-mode state folder/],
    ];
    for (const [why, argv, reason] of cases) {
      const run = await cli(argv);
      expect([why, run.status, run.stderr]).toEqual([why, 2, expect.stringMatching(reason)]);
    }
    expect(existsSync(join(dir, 'typo'))).toBe(false);
    // The real executable, once: same rule, same exit status.
    const spawned = await runCli(['deny', 'add', '--state-dir', stateDir, '--kind', 'jti', 'x']);
    expect([spawned.status, spawned.stderr]).toEqual([2, expect.stringContaining('name one with --issuer URL')]);
  });

  it('stops local mode with a clear error when the record of the lists\' owners is unusable', async () => {
    const broken = join(dir, 'broken-owners');
    await withFleet(broken, alphaFirst, async () => undefined);
    const ownersFile = join(broken, 'private', 'control', 'deny-list-owners.json');
    const record = JSON.parse(readFileSync(ownersFile, 'utf8')) as { owners: Record<string, string> };
    expect(record.owners).toEqual({ [ALPHA]: 'control/deny-list.json', [BETA]: 'control/deny-list-1.json' });
    // Two issuers on one list would apply one's entries to the other.
    writeFileSync(ownersFile, JSON.stringify({ version: 1, owners: { [ALPHA]: 'control/deny-list.json', [BETA]: 'control/deny-list.json' } }));
    await expect(startLocalMode({ port: 0, stateDir: broken, audiences: [AUD], issuers: alphaFirst })).rejects.toThrow(/deny-list-owners\.json cannot be used: control\/deny-list\.json is recorded for two issuers/);
  });
});

describe('single-issuer local mode keeps its one deny list, control/deny-list.json', () => {
  it('is edited with deny --state-dir and no --issuer, and refuses that issuer\'s token', async () => {
    const stateDir = join(dir, 'single');
    const start = () => startLocalMode({ port: 0, stateDir, audiences: [AUD], keyFiles: [alphaFile], issuer: ALPHA });
    let mode = await start();
    try {
      expect(mode.issuers.map((entry) => entry.denyListKey)).toEqual(['control/deny-list.json']);
      const added = await cli(['deny', 'add', '--state-dir', stateDir, '--kind', 'jti', '0f8fad5b-d9cb-469f-a165-70867728950e', '--reason', 'leaked']);
      expect([added.status, added.stderr]).toEqual([0, '']);
      expect(await verdict(mode, tokenOf(alpha, ALPHA))).toMatchObject({ authenticated: false, reason: 'revoked' });
    } finally {
      await mode.close();
    }
    // No owner is recorded for one issuer, so a run with another issuer (the port-dependent default, say) reads the same list, as before.
    expect(existsSync(join(stateDir, 'private', 'control', 'deny-list-owners.json'))).toBe(false);
    const named = await cli(['deny', 'list', '--state-dir', stateDir, '--issuer', ALPHA]);
    expect([named.status, named.stderr]).toEqual([2, expect.stringContaining('leave out --issuer')]);
    const removed = await cli(['deny', 'remove', '--state-dir', stateDir, '--kind', 'jti', '0f8fad5b-d9cb-469f-a165-70867728950e']);
    expect(removed.status).toBe(0);
    mode = await start();
    try {
      expect(await verdict(mode, tokenOf(alpha, ALPHA))).toMatchObject({ authenticated: true });
    } finally {
      await mode.close();
    }
  });
});
