/**
 * Local mode hardening (issue 12 §2, §4, §5): the raw request target reaches the core over real
 * HTTP on 127.0.0.1 (no `new URL()` normalisation), repeated headers stay repeated, and the keys
 * it publishes are exactly the ones given in this run, checked before it listens.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalMode, type LocalMode } from '../../cli/local-mode';
import { parseKeyMaterial } from '../../core/keys';
import { runCli, PROJECT_ROOT } from '../support/cli';
import { startIssuerServer } from '../support/issuer-server';
import { buildJwks } from '../../core/documents';
import { BILLING, NON_ORIGIN_TARGETS, ORDERS, UNDOCUMENTED_AUTH_TARGETS, UNSAFE_AUTH_TARGETS } from '../support/forward-auth-paths';
import { kubeClaims, kubeToken, newTestKey, TEST_ISSUER } from '../support/tokens';

const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-local-h-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = newTestKey('ES256');
const keyFile = join(dir, 'sa.pub');
writeFileSync(keyFile, createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }) as string);
const now = () => Math.floor(Date.now() / 1000);
const tokenFor = (audience: string) => kubeToken(key, kubeClaims({ audiences: [audience], iat: now() - 10 }));

/** Sends bytes as they are (any request target, repeated headers) and returns the status and body. */
function rawRequest(port: number, head: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${head.split('\r\n')[0]}`)); }, 10_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const headEnd = text.indexOf('\r\n\r\n');
      resolve({ status, body: /\r\ntransfer-encoding: chunked\r\n/i.test(text.slice(0, headEnd + 2)) ? unchunked(text.slice(headEnd + 4)) : text.slice(headEnd + 4) });
    });
    // Written, not ended: a half-closed socket would let the server drop the connection before answering.
    socket.write(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

/** The body of a chunked response. */
function unchunked(raw: string): string {
  let body = '';
  let rest = raw;
  for (let guard = 0; guard < 1000; guard += 1) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) break;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
  return body;
}

describe('local mode over real HTTP: the raw request target reaches the core', () => {
  let mode: LocalMode;
  let port: number;
  beforeAll(async () => {
    mode = await startLocalMode({ port: 0, stateDir: join(dir, 'http-state'), keyFiles: [keyFile], issuer: TEST_ISSUER, audiences: [ORDERS, BILLING] });
    port = Number(new URL(mode.url).port);
  });
  afterAll(async () => { await mode?.close(); });

  it('passes a billing token for billing, and for orders only on the path naming orders', async () => {
    const billing = tokenFor(BILLING);
    const passed = await rawRequest(port, `GET /auth/audience/${BILLING}/x HTTP/1.1\r\nAuthorization: Bearer ${billing}`);
    expect([passed.status, passed.body]).toEqual([200, expect.any(String)]);
    expect((await rawRequest(port, `GET /auth/audience/${ORDERS}/x HTTP/1.1\r\nAuthorization: Bearer ${billing}`)).status).toBe(401);
  });

  it.each(UNSAFE_AUTH_TARGETS.map((c) => [c.why, c.target, c.status] as const))('refuses %s (%s) with %s and a JSON reason', async (_why, target, status) => {
    const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nAuthorization: Bearer ${tokenFor(BILLING)}`);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body)).toEqual({ error: 'bad_request', message: expect.any(String) });
  });

  it.each(UNDOCUMENTED_AUTH_TARGETS.map((c) => [c.why, c.target] as const))('answers 404 for an undocumented form (%s): %s', async (_why, target) => {
    const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nAuthorization: Bearer ${tokenFor(ORDERS)}`);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body).error).toBe('not_found');
  });

  it.each(NON_ORIGIN_TARGETS.map((c) => [c.why, c.target] as const))('answers 400, never 500, to a target that is not origin-form (%s): %s', async (_why, target) => {
    const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nAuthorization: Bearer ${tokenFor(ORDERS)}`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: 'bad_request', message: expect.stringContaining('not origin-form') });
  });

  it('refuses two Authorization headers with 401 and no identity (Node would keep only the first)', async () => {
    const good = tokenFor(ORDERS);
    for (const [first, second] of [[good, good], [good, 'junk'], ['junk', good]]) {
      const answer = await rawRequest(port, `GET /auth HTTP/1.1\r\nAuthorization: Bearer ${first}\r\nauthorization: Bearer ${second}`);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({ authenticated: false, reason: 'malformed', message: 'more than one Authorization header' });
    }
    expect((await rawRequest(port, `GET /auth HTTP/1.1\r\nAuthorization: Bearer ${good}`)).status).toBe(200);
  });

  it('refuses a body that repeats the token member with 400', async () => {
    const answer = await rawRequest(port, 'POST /verify HTTP/1.1\r\nContent-Type: application/json', `{"token":"junk","token":"${tokenFor(ORDERS)}"}`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toBe('malformed_json');
  });

  it('serves the documents on their exact paths only', async () => {
    const jwksPath = `${new URL(TEST_ISSUER).pathname}/openid/v1/jwks`;
    expect((await rawRequest(port, `GET ${jwksPath} HTTP/1.1`)).status).toBe(200);
    expect((await rawRequest(port, `GET /x/..${jwksPath} HTTP/1.1`)).status).toBe(404);
  });

  it('serves the JWKS copy at /.well-known/jwks.json byte for byte (OAuth2-Proxy\'s fallback)', async () => {
    const base = new URL(TEST_ISSUER).pathname;
    const jwks = await rawRequest(port, `GET ${base}/openid/v1/jwks HTTP/1.1`);
    const copy = await rawRequest(port, `GET ${base}/.well-known/jwks.json HTTP/1.1`);
    expect(copy.status).toBe(200);
    expect(JSON.parse(copy.body).keys.length).toBeGreaterThan(0);
    expect(copy.body).toBe(jwks.body);
  });
});

/** A local mode run through the real CLI, stopped with Ctrl-C. */
interface RunningCli {
  readonly child: ChildProcess;
  readonly output: () => string;
  stop(): Promise<void>;
}

async function startCli(args: readonly string[]): Promise<RunningCli> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bin', 'cli.ts'), 'local', '--port', '0', ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  for (let i = 0; i < 300 && !output.includes('Press Ctrl-C') && child.exitCode === null; i += 1) await new Promise((r) => setTimeout(r, 100));
  if (!output.includes('Press Ctrl-C')) {
    child.kill('SIGKILL');
    throw new Error(`local mode did not start: ${output}`);
  }
  return { child, output: () => output, stop: async () => { child.kill('SIGINT'); await exited; } };
}

async function publishedKids(run: RunningCli): Promise<string[]> {
  const url = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())![1];
  const jwks = (await (await fetch(`${url}/openid/v1/jwks`)).json()) as { keys: { kid: string }[] };
  return jwks.keys.map((entry) => entry.kid);
}

describe('local mode keys (issue 12 §4), through the real CLI', () => {
  const kid = parseKeyMaterial(createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }) as string, 'k').keys[0].jwk.kid;

  it('publishes the demo key only in demo mode, and exactly the given keys otherwise, whatever the state folder holds', async () => {
    const stateDir = join(dir, 'shared-state');
    const demo = await startCli(['--state-dir', stateDir]);
    let demoKid: string;
    let demoToken: string;
    try {
      [demoKid] = await publishedKids(demo);
      expect(await publishedKids(demo)).toEqual([demoKid]);
      expect(demo.output()).toContain(`1 published: ${demoKid}`);
      expect(demo.output()).toContain('the DEMO key is published');
      demoToken = /TOKEN=(\S+)/.exec(demo.output())![1];
    } finally {
      await demo.stop();
    }

    const real = await startCli(['--state-dir', stateDir, '--key-file', keyFile]);
    try {
      expect(await publishedKids(real)).toEqual([kid]);
      expect(real.output()).toContain(`1 published: ${kid}`);
      expect(real.output()).toContain('the demo key is NOT published');
      expect(real.output()).not.toContain(demoKid);
      const url = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(real.output())![1];
      const verdict = (await (await fetch(`${url}/verify`, { method: 'POST', body: JSON.stringify({ token: demoToken }) })).json()) as { authenticated: boolean; reason: string };
      expect(verdict).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
    } finally {
      await real.stop();
    }

    // Back to demo mode: the real key of the previous run is not carried over either.
    const again = await startCli(['--state-dir', stateDir]);
    try {
      expect(await publishedKids(again)).toEqual([demoKid]);
    } finally {
      await again.stop();
    }
  });

  it('stops before listening, with exit 2 naming the file and the reason, when a key file cannot be used', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const files = {
      missing: [join(dir, 'nope.pub'), /cannot be read: ENOENT/],
      folder: [dir, /cannot be read: EISDIR/],
      garbage: [join(dir, 'garbage.pub'), /not a PEM key, JWK or JWKS/],
      weak: [join(dir, 'weak.pub'), /1024 bits/],
      symmetric: [join(dir, 'hmac.jwk'), /cannot be used/],
      empty: [join(dir, 'empty.pub'), /empty input/],
    } as const;
    writeFileSync(files.garbage[0], 'this is not a key\n');
    writeFileSync(files.weak[0], weak.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    writeFileSync(files.symmetric[0], JSON.stringify({ kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' }));
    writeFileSync(files.empty[0], '');
    for (const [name, [file, reason]] of Object.entries(files)) {
      // A good key next to a bad one does not help: every given file must be usable.
      const run = await runCli(['local', '--port', '0', '--state-dir', join(dir, `bad-key-${name}`), '--key-file', keyFile, '--key-file', file], { timeoutMs: 20_000 });
      expect([name, run.status]).toEqual([name, 2]);
      expect(run.stderr).toContain(`--key-file ${file}`);
      expect(run.stderr).toMatch(reason);
      expect(run.stdout).not.toContain('serving on');
    }
    // A cluster endpoint that cannot be read at start is the same: nothing to publish, exit 2.
    const unreachable = await runCli(['local', '--port', '0', '--state-dir', join(dir, 'bad-url'), '--jwks-url', 'http://127.0.0.1:1/openid/v1/jwks'], { timeoutMs: 60_000 });
    expect(unreachable.status).toBe(2);
    expect(unreachable.stderr).toContain('http://127.0.0.1:1/openid/v1/jwks');
    expect(unreachable.stdout).not.toContain('serving on');
  });

  it('stops with exit 2 and a clear error when the state folder cannot be used, never hanging', async () => {
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, 'x');
    const cases: [string, RegExp][] = [
      ['/proc/nope', /ENOENT/],
      [aFile, /is not a folder/],
      [join(aFile, 'below'), /is not a folder|ENOTDIR/],
      ['/proc', /not writable/],
    ];
    for (const [stateDir, reason] of cases) {
      const run = await runCli(['local', '--port', '0', '--state-dir', stateDir], { timeoutMs: 20_000 });
      expect([stateDir, run.status]).toEqual([stateDir, 2]);
      expect(run.stderr).toContain(`--state-dir ${stateDir} cannot be used`);
      expect(run.stderr).toMatch(reason);
      expect(run.stdout).not.toContain('serving on');
    }
  });
});

describe('local mode serves a fleet on one port (issue 14), each issuer with its own keys only', () => {
  const ALPHA = 'http://127.0.0.1:8787/clusters/alpha';
  const BETA = 'http://127.0.0.1:8787/clusters/beta';
  const AUD = 'api.example';
  const alpha = newTestKey('ES256');
  const beta = newTestKey('RS256');
  const alphaFile = join(dir, 'alpha.pub');
  // A file path holding "=" stays a file path: only values starting with http(s):// are bindings.
  const betaFile = join(dir, 'beta=key.pub');
  writeFileSync(alphaFile, createPublicKey(alpha.privateKey).export({ type: 'spki', format: 'pem' }) as string);
  writeFileSync(betaFile, createPublicKey(beta.privateKey).export({ type: 'spki', format: 'pem' }) as string);
  const claimsOf = (issuer: string) => kubeClaims({ issuer, audiences: [AUD], iat: now() - 10 });
  let mode: LocalMode;
  beforeAll(async () => {
    mode = await startLocalMode({ port: 0, stateDir: join(dir, 'fleet-state'), audiences: [AUD], issuers: [{ issuer: ALPHA, keyFiles: [alphaFile] }, { issuer: BETA, keyFiles: [betaFile] }] });
  });
  afterAll(async () => { await mode?.close(); });
  const verify = async (token: string) => (await (await fetch(`${mode.url}/verify`, { method: 'POST', body: JSON.stringify({ token }) })).json()) as Record<string, unknown>;

  it('serves each issuer\'s discovery document and JWKS under its own path, the issuer byte-equal', async () => {
    for (const [issuer, key] of [[ALPHA, alpha], [BETA, beta]] as const) {
      const path = new URL(issuer).pathname;
      const discoveryResponse = await fetch(`${mode.url}${path}/.well-known/openid-configuration`);
      expect(discoveryResponse.status).toBe(200);
      const text = await discoveryResponse.text();
      const discovery = JSON.parse(text) as { issuer: string; jwks_uri: string };
      expect(discovery.issuer).toBe(issuer);
      expect(text).toContain(`"issuer":${JSON.stringify(issuer)}`);
      expect(discovery.jwks_uri).toBe(`${issuer}/openid/v1/jwks`);
      const jwks = (await (await fetch(`${mode.url}${path}/openid/v1/jwks`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((entry) => entry.kid)).toEqual([key.kid]);
    }
    expect(mode.issuers.map((entry) => [entry.issuer, entry.publishedKids])).toEqual([[ALPHA, [alpha.kid]], [BETA, [beta.kid]]]);
    // The root paths serve nothing: no issuer there.
    expect((await fetch(`${mode.url}/.well-known/openid-configuration`)).status).toBe(404);
  });

  it('verifies a token of each issuer on /verify, TokenReview and /auth', async () => {
    for (const [issuer, key] of [[ALPHA, alpha], [BETA, beta]] as const) {
      const token = kubeToken(key, claimsOf(issuer));
      expect(await verify(token)).toMatchObject({ authenticated: true, issuer });
      const review = (await (await fetch(`${mode.url}/apis/authentication.k8s.io/v1/tokenreviews`, { method: 'POST', body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }) })).json()) as { status: { authenticated: boolean } };
      expect(review.status.authenticated).toBe(true);
      expect((await fetch(`${mode.url}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
  });

  it('refuses a token claiming alpha signed by beta\'s key (beta\'s kid or alpha\'s), and an unknown issuer', async () => {
    const withBetaKid = await verify(kubeToken(beta, claimsOf(ALPHA)));
    expect(withBetaKid).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
    const withAlphaKid = await verify(kubeToken(beta, claimsOf(ALPHA), { alg: alpha.alg, kid: alpha.kid }));
    expect(withAlphaKid.authenticated).toBe(false);
    expect(withAlphaKid.reason).toMatch(/bad_signature|malformed/);
    expect(await verify(kubeToken(alpha, claimsOf(`${ALPHA}/`)))).toMatchObject({ authenticated: false, reason: 'unknown_issuer' });
    expect(await verify(kubeToken(alpha, claimsOf('http://127.0.0.1:8787')))).toMatchObject({ authenticated: false, reason: 'unknown_issuer' });
    expect((await fetch(`${mode.url}/auth`, { headers: { authorization: `Bearer ${kubeToken(beta, claimsOf(ALPHA))}` } })).status).toBe(401);
  });

  it('runs the fleet from the CLI with --key-file ISSUER=PATH, listing each issuer with its kids', async () => {
    const run = await startCli(['--state-dir', join(dir, 'fleet-cli'), '--issuer', ALPHA, '--key-file', `${ALPHA}=${alphaFile}`, '--issuer', BETA, '--key-file', `${BETA}=${betaFile}`, '--audience', AUD]);
    try {
      const output = run.output();
      expect(output).toMatch(new RegExp(`issuer: +${ALPHA}\\n.*\\n.*\\n +kids: +${alpha.kid}`));
      expect(output).toMatch(new RegExp(`issuer: +${BETA}\\n.*\\n.*\\n +kids: +${beta.kid}`));
      expect(output).toContain('the demo key is NOT published');
      const url = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
      const discovery = (await (await fetch(`${url}/clusters/beta/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(BETA);
      const verdict = (await (await fetch(`${url}/verify`, { method: 'POST', body: JSON.stringify({ token: kubeToken(beta, claimsOf(BETA)) }) })).json()) as { authenticated: boolean };
      expect(verdict.authenticated).toBe(true);
    } finally {
      await run.stop();
    }
  });

  it('fetches an issuer\'s keys from --jwks-url ISSUER=URL, next to another issuer\'s key file', async () => {
    const cluster = await startIssuerServer();
    // A query holding "=" stays part of the JWKS URL.
    cluster.route('/openid/v1/jwks', { body: JSON.stringify(buildJwks([beta.jwk])) });
    const run = await startCli(['--state-dir', join(dir, 'fleet-jwks'), '--issuer', ALPHA, '--key-file', `${ALPHA}=${alphaFile}`, '--issuer', BETA, '--jwks-url', `${BETA}=${cluster.origin}/openid/v1/jwks?x=y`, '--audience', AUD]);
    try {
      const url = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())![1];
      const jwks = (await (await fetch(`${url}/clusters/beta/openid/v1/jwks`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((entry) => entry.kid)).toEqual([beta.kid]);
      const verdictOf = async (token: string) => (await (await fetch(`${url}/verify`, { method: 'POST', body: JSON.stringify({ token }) })).json()) as { authenticated: boolean; reason?: string };
      expect((await verdictOf(kubeToken(beta, claimsOf(BETA)))).authenticated).toBe(true);
      expect((await verdictOf(kubeToken(alpha, claimsOf(ALPHA)))).authenticated).toBe(true);
      expect(await verdictOf(kubeToken(alpha, claimsOf(BETA)))).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
      expect(cluster.requests.map((request) => request.path)).toContain('/openid/v1/jwks');
    } finally {
      await run.stop();
      await cluster.close();
    }
  });

  it('refuses bad bindings with exit 2 naming the fix, before listening', async () => {
    const fleet = ['--issuer', ALPHA, '--issuer', BETA];
    const cases: [string, string[], RegExp][] = [
      ['binding without a file', [...fleet, '--key-file', ALPHA, '--key-file', `${BETA}=${betaFile}`], /--key-file ISSUER=PATH/],
      ['binding with an empty file', [...fleet, '--key-file', `${ALPHA}=`, '--key-file', `${BETA}=${betaFile}`], /names no file/],
      ['plain path with several issuers', [...fleet, '--key-file', alphaFile], /names no issuer.*--key-file ISSUER=PATH/],
      ['issuer not listed', [...fleet, '--key-file', `${ALPHA}=${alphaFile}`, '--key-file', `${BETA}=${betaFile}`, '--key-file', `http://127.0.0.1:8787/clusters/gamma=${alphaFile}`], /not given with --issuer/],
      ['issuer spelt with a trailing slash', [...fleet, '--key-file', `${ALPHA}/=${alphaFile}`, '--key-file', `${BETA}=${betaFile}`], /not given with --issuer/],
      ['binding and no --issuer', ['--key-file', `${ALPHA}=${alphaFile}`], /no --issuer is given/],
      ['an issuer without keys', [...fleet, '--key-file', `${ALPHA}=${alphaFile}`], new RegExp(`--issuer ${BETA} has no keys`)],
      ['an issuer given twice', ['--issuer', ALPHA, '--issuer', ALPHA, '--key-file', `${ALPHA}=${alphaFile}`], /given twice/],
      ['a bound key file that cannot be read', [...fleet, '--key-file', `${ALPHA}=${join(dir, 'nope.pub')}`, '--key-file', `${BETA}=${betaFile}`], /cannot be read/],
      ['two issuers at the same path', ['--issuer', 'https://a.example/x', '--issuer', 'https://b.example/x', '--key-file', `https://a.example/x=${alphaFile}`, '--key-file', `https://b.example/x=${betaFile}`], /same path \/x\/\.well-known/],
      ['plain JWKS URL with several issuers', [...fleet, '--jwks-url', 'http://127.0.0.1:1/openid/v1/jwks'], /names no issuer/],
    ];
    for (const [why, args, reason] of cases) {
      const run = await runCli(['local', '--port', '0', '--state-dir', join(dir, 'fleet-bad'), ...args], { timeoutMs: 20_000 });
      expect([why, run.status]).toEqual([why, 2]);
      expect([why, run.stderr]).toEqual([why, expect.stringMatching(reason)]);
      expect(run.stdout).not.toContain('serving on');
    }
  });
});
