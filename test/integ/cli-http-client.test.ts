import { createServer } from 'node:net';
import { HttpGetError, httpGet, isLoopbackHost } from '../../runtime/http-client';
import { IssuerServer, makeTestPki, startIssuerServer, TestPki } from '../support/issuer-server';

describe('httpGet', () => {
  let plain: IssuerServer;
  let tls: IssuerServer;
  let pki: TestPki;

  beforeAll(async () => {
    pki = makeTestPki();
    plain = await startIssuerServer();
    tls = await startIssuerServer({ tls: pki.server });
  });
  afterAll(async () => {
    await plain.close();
    await tls.close();
  });

  async function rejection(promise: Promise<unknown>): Promise<HttpGetError> {
    try {
      await promise;
    } catch (err) {
      if (err instanceof HttpGetError) return err;
      throw err;
    }
    throw new Error('expected httpGet to reject');
  }

  test('returns status, lower-case headers, body and the URL', async () => {
    plain.route('/doc', { headers: { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=60' }, body: '{"a":1}' });
    const res = await httpGet(`${plain.origin}/doc`, { allowHttp: true });
    expect(res).toMatchObject({ status: 200, body: '{"a":1}', url: `${plain.origin}/doc` });
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('max-age=60');
    expect(res.elapsedMs).toBeGreaterThanOrEqual(0);
  });

  test('returns a redirect as it is, without following it', async () => {
    plain.route('/moved', { status: 301, headers: { location: `${plain.origin}/doc` } });
    const before = plain.requests.length;
    const res = await httpGet(`${plain.origin}/moved`, { allowHttp: true });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe(`${plain.origin}/doc`);
    expect(plain.requests.slice(before).map((r) => r.path)).toEqual(['/moved']);
  });

  test('sends the bearer token and keeps it out of error messages', async () => {
    plain.route('/private', { body: 'ok' });
    await httpGet(`${plain.origin}/private`, { allowHttp: true, bearerToken: 'secret-token-value' });
    expect(plain.requests[plain.requests.length - 1].headers.authorization).toBe('Bearer secret-token-value');

    plain.route('/slow', { body: 'late', delayMs: 3000 });
    const err = await rejection(httpGet(`${plain.origin}/slow`, { allowHttp: true, bearerToken: 'secret-token-value', timeoutMs: 100 }));
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('/slow');
    expect(err.message).not.toContain('secret-token-value');
  });

  test('refuses plain http unless allowed, and then only for loopback hosts', async () => {
    plain.route('/doc', { body: '{}' });
    expect((await rejection(httpGet(`${plain.origin}/doc`))).code).toBe('http_not_allowed');
    const remote = await rejection(httpGet('http://example.com/doc', { allowHttp: true }));
    expect(remote.code).toBe('http_not_allowed');
    expect(remote.message).toContain('only for loopback');
    expect((await rejection(httpGet('ftp://127.0.0.1/doc'))).code).toBe('invalid_url');
    expect((await rejection(httpGet('not a url'))).code).toBe('invalid_url');
  });

  test('abandons a body over the size limit, declared or streamed', async () => {
    plain.route('/big', { body: 'x'.repeat(5000) });
    const declared = await rejection(httpGet(`${plain.origin}/big`, { allowHttp: true, maxBytes: 1000 }));
    expect(declared.code).toBe('too_large');
    plain.route('/big-chunked', { headers: { 'transfer-encoding': 'chunked' }, body: 'x'.repeat(5000) });
    const streamed = await rejection(httpGet(`${plain.origin}/big-chunked`, { allowHttp: true, maxBytes: 1000 }));
    expect(streamed.code).toBe('too_large');
    const fits = await httpGet(`${plain.origin}/big`, { allowHttp: true, maxBytes: 5000 });
    expect(fits.body).toHaveLength(5000);
  });

  test('reports a refused connection as a network error', async () => {
    const port = await freePort();
    const err = await rejection(httpGet(`http://127.0.0.1:${port}/x`, { allowHttp: true }));
    expect(err.code).toBe('network');
    expect(err.message).toContain('connection refused');
  });

  test('trusts a private CA only when it is given, and then instead of the default roots', async () => {
    tls.route('/doc', { body: '{"ok":true}' });
    const trusted = await httpGet(`${tls.origin}/doc`, { caPem: pki.caPem });
    expect(trusted.body).toBe('{"ok":true}');

    const untrusted = await rejection(httpGet(`${tls.origin}/doc`));
    expect(untrusted.code).toBe('tls');
    expect(untrusted.causeCode).toBeDefined();

    const otherCa = makeTestPki();
    const wrongCa = await rejection(httpGet(`${tls.origin}/doc`, { caPem: otherCa.caPem }));
    expect(wrongCa.code).toBe('tls');
  });
});

describe('isLoopbackHost', () => {
  test.each([
    ['127.0.0.1', true],
    ['127.10.0.3', true],
    ['localhost', true],
    ['[::1]', true],
    ['::1', true],
    ['10.0.0.1', false],
    ['128.0.0.1', false],
    ['example.com', false],
    ['127.0.0.1.nip.io', false],
    ['[::2]', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
