/**
 * examples/nginx/nginx.conf run for real: nginx (auth_request) on a free 127.0.0.1 port, in front
 * of a small upstream, asking local mode's /auth. Only three values of the example are replaced
 * (listen port, Verify API origin, application address), plus where nginx keeps its temporary
 * files; everything else runs as shipped.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { AddressInfo, createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_HEADERS } from '../../core/verify-api';
import { docBlock, projectFile } from './support/doc-blocks';
import { DocsLocalMode, startDocsLocalMode, TOOL_HINTS } from './support/run';
import { demoTokenFor, tampered } from './support/tokens';

const EXAMPLE = 'examples/nginx/nginx.conf';
const AUDIENCE = 'orders.example.internal';
const VERIFY_ORIGIN = 'https://abc123defg.execute-api.eu-west-1.amazonaws.com';
const APP_ORIGIN = 'http://127.0.0.1:3000';

/** The nginx binary: on PATH, or where Debian installs it (not on a non-root PATH). */
function nginxBinary(): string {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return candidate;
  }
  throw new Error(TOOL_HINTS.nginx);
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Replaces exactly one occurrence, so the test notices when the example changes shape. */
function replaceOnce(text: string, search: string, replacement: string): string {
  const count = text.split(search).length - 1;
  if (count !== 1) throw new Error(`${EXAMPLE}: expected "${search}" once, found it ${count} times`);
  return text.replace(search, replacement);
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function get(port: number, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path: '/orders/42?x=1', method: 'GET', headers, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += String(chunk); });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

async function waitForPort(port: number, nginx: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on 127.0.0.1:${port} within 5 s: ${stderr()}`);
}

describe('examples/nginx/nginx.conf with auth_request against local mode /auth', () => {
  let local: DocsLocalMode;
  let upstream: http.Server;
  let nginx: ChildProcess;
  let nginxStderr = '';
  let dir: string;
  let port: number;
  const seen: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    const binary = nginxBinary();
    local = await startDocsLocalMode([AUDIENCE, 'billing.example.internal']);
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream says hello');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;

    dir = mkdtempSync(join(tmpdir(), 'kube-oidc-nginx-'));
    // nginx's workers may run as another user than the test (root starts them as nobody).
    chmodSync(dir, 0o755);
    port = await freePort();
    let config = projectFile(EXAMPLE);
    config = replaceOnce(config, 'listen 8080;', `listen 127.0.0.1:${port};`);
    config = replaceOnce(config, VERIFY_ORIGIN, local.mode.url);
    config = replaceOnce(config, APP_ORIGIN, `http://127.0.0.1:${upstreamPort}`);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`).join('\n');
    config = replaceOnce(config, 'http {', `http {\n${temp}\n  access_log ${join(dir, 'access.log')};`);
    writeFileSync(join(dir, 'example.conf'), config);
    writeFileSync(join(dir, 'nginx.conf'), [`pid ${join(dir, 'nginx.pid')};`, 'error_log stderr notice;', `include ${join(dir, 'example.conf')};`, ''].join('\n'));

    nginx = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr?.on('data', (chunk) => { nginxStderr += String(chunk); });
    await waitForPort(port, nginx, () => nginxStderr);
  }, 30_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const pidFile = join(dir, 'nginx.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : nginx.pid;
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      if (pid) process.kill(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 5000); })]);
      clearTimeout(timer);
      if (nginx.exitCode === null && nginx.pid) process.kill(nginx.pid, 'SIGKILL');
    }
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
    await local?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a valid token passes, and the identity headers reach the application instead of the token', async () => {
    seen.length = 0;
    const answer = await get(port, { authorization: `Bearer ${local.token}` });
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: 'upstream says hello' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      [AUTH_HEADERS.user]: 'system:serviceaccount:default:demo',
      [AUTH_HEADERS.groups]: 'system:serviceaccounts,system:serviceaccounts:default,system:authenticated',
      [AUTH_HEADERS.namespace]: 'default',
      [AUTH_HEADERS.serviceAccount]: 'demo',
      [AUTH_HEADERS.podName]: 'demo-pod',
    });
    expect(seen[0][AUTH_HEADERS.uid]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0][AUTH_HEADERS.podUid]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0].authorization).toBeUndefined();
  });

  test('identity headers sent by the client are replaced by the verified ones, or dropped', async () => {
    seen.length = 0;
    const forged = Object.fromEntries(Object.values(AUTH_HEADERS).map((name) => [name, 'forged']));
    const answer = await get(port, { ...forged, authorization: `Bearer ${local.token}` });
    expect(answer.status).toBe(200);
    expect(seen[0][AUTH_HEADERS.user]).toBe('system:serviceaccount:default:demo');
    expect(seen[0][AUTH_HEADERS.audiences]).toBe(AUDIENCE);
    expect(seen[0][AUTH_HEADERS.expiresAt]).toMatch(/^\d+$/);
    expect(seen[0][AUTH_HEADERS.nodeName]).toBe('demo-node');
    expect(seen[0][AUTH_HEADERS.jti]).toMatch(/^[0-9a-f-]{36}$/);
    // Every identity header reaches the application, and none with the client's value.
    for (const name of Object.values(AUTH_HEADERS)) expect({ name, value: seen[0][name] }).not.toEqual({ name, value: 'forged' });
  });

  test('a forged identity header the answer lacks does not reach the application', async () => {
    seen.length = 0;
    // A token bound to no node: its answer has no node-name header.
    const noNode = await demoTokenFor(local.mode, AUDIENCE);
    const answer = await get(port, { authorization: `Bearer ${noNode}`, [AUTH_HEADERS.nodeName]: 'forged-node' });
    expect(answer.status).toBe(200);
    expect(seen[0][AUTH_HEADERS.nodeName]).toBeUndefined();
  });

  test('a badly signed token gets 401 with the reason, and never reaches the application', async () => {
    seen.length = 0;
    const answer = await get(port, { authorization: `Bearer ${tampered(local.token)}` });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="bad_signature"');
    expect(seen).toHaveLength(0);
  });

  test('no token gets 401', async () => {
    seen.length = 0;
    const answer = await get(port, {});
    expect(answer.status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  test('a valid token for another audience of the same Verify API gets 401: the audience is the example\'s, not the client\'s', async () => {
    seen.length = 0;
    const billing = await demoTokenFor(local.mode, 'billing.example.internal');
    const answer = await get(port, { authorization: `Bearer ${billing}` });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toContain('bad_audience');
    expect(seen).toHaveLength(0);
  });

  test('recv-nginx in docs/receiving-services.md is an excerpt of the example file', () => {
    expect(projectFile(EXAMPLE)).toContain(docBlock('recv-nginx').text.trimEnd());
  });
});
