/**
 * The guide's "Try a fleet locally" block (guide-fleet-local) runs as written: its openssl lines
 * make the keys, its `local` invocation serves both issuers (on a free port instead of 8787: the
 * issuers are only names to local mode), and its `check` invocation is a valid command line.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeyMaterial } from '../../core/keys';
import { bindLocalIssuers, startLocalMode, type LocalMode } from '../../cli/local-mode';
import { kubeClaims, kubeToken, type TestKey } from '../support/tokens';
import { cliProblems, docBlock, kubeOidcInvocations, shellCommands } from './support/doc-blocks';
import { requireTool, runBash } from './support/run';

function flagValues(args: readonly string[], flag: string): string[] {
  return args.flatMap((word, i) => (word === `--${flag}` && i + 1 < args.length ? [args[i + 1]] : []));
}

describe('guide-fleet-local', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-docs-fleet-'));
  let mode: LocalMode | undefined;
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
    mode = await startLocalMode({ port: 0, stateDir: join(dir, 'state'), issuers, audiences: flagValues(local, 'audience') });

    const keyOf = (name: string): TestKey => {
      const jwk = parseKeyMaterial(readFileSync(join(dir, `${name}.pub`)), `${name}.pub`).keys[0].jwk;
      return { alg: 'ES256', kid: jwk.kid, privateKey: createPrivateKey(readFileSync(join(dir, `${name}.key`))), jwk };
    };
    const verify = async (token: string) => (await (await fetch(`${mode!.url}/verify`, { method: 'POST', body: JSON.stringify({ token }) })).json()) as Record<string, unknown>;
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
});
