/**
 * The guide's "Try a fleet locally" block (guide-fleet-local) runs as written: its openssl lines
 * make the keys, its `local` invocation serves both issuers (on a free port instead of 8787: the
 * issuers are only names to local mode), and its `check` invocation is a valid command line.
 * guide-fleet-local-deny's commands, run against that fleet's state folder, edit alpha's own deny
 * list only.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeyMaterial } from '../../core/keys';
import { bindLocalIssuers, startLocalMode, type LocalMode, type LocalModeOptions } from '../../cli/local-mode';
import { localCommand } from '../../cli/commands/local';
import { runCliInProcess } from '../support/cli';
import { kubeClaims, kubeToken, type TestKey } from '../support/tokens';
import { cliProblems, docBlock, kubeOidcInvocations, shellCommands } from './support/doc-blocks';
import { requireTool, runBash } from './support/run';


function flagValues(args: readonly string[], flag: string): string[] {
  return args.flatMap((word, i) => (word === `--${flag}` && i + 1 < args.length ? [args[i + 1]] : []));
}

describe('guide-fleet-local', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-docs-fleet-'));
  const stateDir = join(dir, 'state');
  let mode: LocalMode | undefined;
  let options: LocalModeOptions | undefined;
  const keyOf = (name: string): TestKey => {
    const jwk = parseKeyMaterial(readFileSync(join(dir, `${name}.pub`)), `${name}.pub`).keys[0].jwk;
    return { alg: 'ES256', kid: jwk.kid, privateKey: createPrivateKey(readFileSync(join(dir, `${name}.key`))), jwk };
  };
  const verify = async (token: string) => (await (await fetch(`${mode!.url}/verify`, { method: 'POST', body: JSON.stringify({ token }) })).json()) as Record<string, unknown>;
  afterAll(async () => {
    await mode?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is valid CLI, and the fleet it starts serves and verifies both issuers, each with its own keys', async () => {
    requireTool('openssl', 'openssl', ['version']);
    const text = docBlock('guide-fleet-local').text;
    const invocations = kubeOidcInvocations(text);
    expect(invocations.map((args) => args[0])).toEqual(['local', 'check']);
    expect(invocations.flatMap(cliProblems)).toEqual([]);
    const [local, check] = invocations;
    expect(flagValues(check, 'issuer')).toEqual(flagValues(local, 'issuer'));

    // The openssl lines, as written, in a scratch folder.
    const openssl = shellCommands(text).filter((line) => line.startsWith('openssl '));
    expect(openssl).toHaveLength(4);
    const made = await runBash(openssl.join('\n'), { cwd: dir });
    expect([made.status, made.stderr]).toEqual([0, '']);

    const bound = bindLocalIssuers({ issuers: flagValues(local, 'issuer'), keyFiles: flagValues(local, 'key-file'), jwksUrls: [] });
    const issuers = (bound.issuers ?? []).map((entry) => ({ ...entry, keyFiles: (entry.keyFiles ?? []).map((file) => join(dir, file)) }));
    expect(issuers.map((entry) => entry.issuer)).toEqual(['http://127.0.0.1:8787/clusters/alpha', 'http://127.0.0.1:8787/clusters/beta']);
    options = { port: 0, stateDir, issuers, audiences: flagValues(local, 'audience') };
    mode = await startLocalMode(options);

    const now = Math.floor(Date.now() / 1000);
    for (const [index, name] of ['alpha', 'beta'].entries()) {
      const { issuer } = issuers[index];
      const discovery = (await (await fetch(`${mode.url}${new URL(issuer).pathname}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(issuer);
      const token = kubeToken(keyOf(name), kubeClaims({ issuer, audiences: ['api.example'], iat: now - 10 }));
      expect(await verify(token)).toMatchObject({ authenticated: true, issuer });
    }
    const crossed = kubeToken(keyOf('beta'), kubeClaims({ issuer: issuers[0].issuer, audiences: ['api.example'], iat: now - 10 }));
    expect(await verify(crossed)).toMatchObject({ authenticated: false });
  });

  it('guide-fleet-local-deny: its deny commands edit alpha\'s own list, which refuses alpha\'s payments/api and not beta\'s', async () => {
    expect(mode).toBeDefined();
    const local = kubeOidcInvocations(docBlock('guide-fleet-local').text)[0];
    const invocations = kubeOidcInvocations(docBlock('guide-fleet-local-deny').text);
    expect(invocations.map((args) => args.slice(0, 2))).toEqual([['deny', 'add'], ['deny', 'list']]);
    expect(invocations.flatMap(cliProblems)).toEqual([]);
    const alpha = flagValues(local, 'issuer')[0];
    for (const args of invocations) {
      // The folder `local` uses when no --state-dir is given, and alpha exactly as `local` was given it.
      expect(flagValues(args, 'state-dir')).toEqual(['.kube-oidc-local']);
      expect(flagValues(args, 'issuer')).toEqual([alpha]);
    }
    expect(localCommand.options['state-dir'].defaultText).toBe('.kube-oidc-local');

    // The banner names each issuer's file, as the guide says.
    expect(mode!.issuers.map((entry) => entry.denyListFile)).toEqual([join(stateDir, 'private', 'control', 'deny-list.json'), join(stateDir, 'private', 'control', 'deny-list-1.json')]);
    const outputs: string[] = [];
    for (const args of invocations) {
      const run = await runCliInProcess(args.map((word) => (word === '.kube-oidc-local' ? stateDir : word)));
      expect([args[1], run.status, run.stderr]).toEqual([args[1], 0, '']);
      outputs.push(run.stdout);
    }
    expect(outputs[1]).toMatch(/serviceAccount\tpayments\/api\t.*\ttrying the deny list/);

    // A fresh run reads the lists at its first token (the running one would within its 5 s).
    await mode!.close();
    mode = await startLocalMode(options!);
    const now = Math.floor(Date.now() / 1000);
    const tokenOf = (name: string, issuer: string) => kubeToken(keyOf(name), kubeClaims({ issuer, namespace: 'payments', serviceAccount: 'api', audiences: ['api.example'], iat: now - 10 }));
    expect(await verify(tokenOf('alpha', alpha))).toMatchObject({ authenticated: false, reason: 'revoked' });
    expect(await verify(tokenOf('beta', flagValues(local, 'issuer')[1]))).toMatchObject({ authenticated: true });
  });
});
