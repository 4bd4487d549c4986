/**
 * docs/receiving-services.md and the examples it points at: proxy configurations parsed and checked
 * for the fields that matter, documented answers regenerated exactly from the request handler over
 * the fixture keys, and the curl commands and clients run against local mode.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REASON_CODES } from '../../core/verifier';
import { AUTH_HEADERS } from '../../core/verify-api';
import { FIXTURE_AUDIENCES, fixtureAnswer, fixtureToken } from './support/fixture-api';
import { bashSyntaxError, DocsLocalMode, requireTool, runBash, startDocsLocalMode } from './support/run';
import { docBlock, projectFile, REPO_ROOT, shapeDifferences, shellAssignments } from './support/doc-blocks';
import { exampleConfig } from './support/example-config';
import { parseSimpleToml } from './support/toml';
import { demoTokenFor, tampered } from './support/tokens';
import { FIXTURE_IAT } from '../support/tokens';

type Json = Record<string, unknown>;

const [prodEu, staging] = exampleConfig().clusters as (Json & { issuer?: { url: string }; apiServerAudiences?: string[]; env: { region: string }; verifyApi: { audiences: string[]; iamAuth?: boolean } })[];
const AUDIENCE = 'orders.example.internal';
const IDENTITY_HEADERS: string[] = Object.values(AUTH_HEADERS);

function expectExcerpt(id: string, file: string): void {
  expect(projectFile(file)).toContain(docBlock(id).text.trimEnd());
}

describe('OAuth2-Proxy examples', () => {
  const machine = parseSimpleToml(projectFile('examples/oauth2-proxy/machine-only.cfg'));
  const both = parseSimpleToml(projectFile('examples/oauth2-proxy/machine-and-sso.cfg'));

  test.each([
    ['machine-only.cfg', machine],
    ['machine-and-sso.cfg', both],
  ])('%s: bearer JWTs of the cluster issuer for one dedicated audience, no secret in the file', (_name, config) => {
    expect(config.skip_jwt_bearer_tokens).toBe(true);
    const issuers = config.extra_jwt_issuers as string[];
    expect(issuers).toHaveLength(1);
    const [issuer, audience, ...rest] = issuers[0].split('=');
    expect(rest).toEqual([]);
    expect(issuer).toBe(prodEu.issuer?.url);
    expect(audience).toBe(AUDIENCE);
    expect(audience).not.toBe('sts.amazonaws.com');
    expect(prodEu.apiServerAudiences).not.toContain(audience);
    for (const secret of ['cookie_secret', 'client_secret']) expect(config).not.toHaveProperty(secret);
    expect(config.pass_user_headers).toBe(true);
  });

  test('machine-only.cfg: every service account by email "*", 401 instead of a login redirect', () => {
    expect(machine.email_domains).toEqual(['*']);
    expect(machine.api_routes).toEqual(['^/']);
    expect(machine).not.toHaveProperty('authenticated_emails_file');
  });

  test('machine-and-sso.cfg: people by domain, machines by the subs in service-accounts.txt', () => {
    expect(both.email_domains).toEqual(['example.com']);
    expect(both.authenticated_emails_file).toBe('/etc/oauth2-proxy/service-accounts.txt');
    expect(both).not.toHaveProperty('api_routes');
    expect(String(both.redirect_url)).toMatch(/^https:\/\/[^/]+\/oauth2\/callback$/);
    const subs = projectFile('examples/oauth2-proxy/service-accounts.txt').split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(subs.length).toBeGreaterThan(0);
    for (const sub of subs) expect(sub).toMatch(/^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });

  test('people-by-group.cfg: allowed_groups only on an instance that admits no machine', () => {
    const people = parseSimpleToml(projectFile('examples/oauth2-proxy/people-by-group.cfg'));
    expect(people.allowed_groups).toEqual(['orders-admins']);
    expect(people).not.toHaveProperty('skip_jwt_bearer_tokens');
    expect(people).not.toHaveProperty('extra_jwt_issuers');
    for (const secret of ['cookie_secret', 'client_secret']) expect(people).not.toHaveProperty(secret);
    // OAuth2-Proxy checks allowed_groups for bearer sessions too, and service-account tokens have no
    // groups: an instance that admits machines must never set it.
    for (const config of [machine, both]) expect(config).not.toHaveProperty('allowed_groups');
    // Two instances in front of the same application: the same upstream, different listeners.
    expect(people.upstreams).toEqual(machine.upstreams);
    expect(people.http_address).not.toBe(machine.http_address);
    expectExcerpt('recv-oauth2-groups', 'examples/oauth2-proxy/people-by-group.cfg');
  });

  test('the OAuth2-Proxy blocks are excerpts of the example files', () => {
    expectExcerpt('recv-oauth2-machine', 'examples/oauth2-proxy/machine-only.cfg');
    expectExcerpt('recv-oauth2-sso', 'examples/oauth2-proxy/machine-and-sso.cfg');
    expect(docBlock('recv-oauth2-emails').text).toBe(projectFile('examples/oauth2-proxy/service-accounts.txt'));
    const run = docBlock('recv-oauth2-run').text;
    expect(bashSyntaxError(run)).toBe('');
    expect([...shellAssignments(run.replace(/^export /gm, '')).keys()]).toEqual(['OAUTH2_PROXY_COOKIE_SECRET', 'OAUTH2_PROXY_CLIENT_SECRET']);
  });
});

describe('Traefik forwardAuth example', () => {
  const config = parseYaml(projectFile('examples/traefik/dynamic.yml')) as {
    http: {
      middlewares: Record<string, { forwardAuth?: Json & { address: string; authRequestHeaders: string[]; authResponseHeaders: string[] }; headers?: { customRequestHeaders: Record<string, string> } }>;
      routers: Record<string, { middlewares: string[]; service: string }>;
      services: Record<string, unknown>;
    };
  };

  test('forwardAuth asks /auth for a fixed audience and copies every identity header', () => {
    const forwardAuth = config.http.middlewares['kube-oidc-auth'].forwardAuth;
    const address = new URL(String(forwardAuth?.address));
    expect(address.protocol).toBe('https:');
    const fixed = /^\/auth\/audience\/([^/]+)$/.exec(address.pathname);
    expect(fixed).not.toBeNull();
    expect(address.search).toBe('');
    expect(prodEu.verifyApi.audiences).toContain(decodeURIComponent(fixed![1]));
    expect(forwardAuth?.trustForwardHeader).toBe(false);
    expect(forwardAuth?.authRequestHeaders).toEqual(['Authorization']);
    // Every identity header: Traefik removes a listed header the client sent, and only those.
    const copied = (forwardAuth?.authResponseHeaders ?? []).map((h) => h.toLowerCase());
    expect(copied.sort()).toEqual([...IDENTITY_HEADERS].sort());
  });

  test('the router authenticates first, then drops the token, then reaches a defined service', () => {
    const router = config.http.routers.orders;
    expect(router.middlewares).toEqual(['kube-oidc-auth', 'kube-oidc-drop-token']);
    expect(config.http.middlewares['kube-oidc-drop-token'].headers?.customRequestHeaders).toEqual({ Authorization: '' });
    expect(config.http.services).toHaveProperty(router.service);
    expectExcerpt('recv-traefik', 'examples/traefik/dynamic.yml');
  });
});

describe('Envoy ext_authz example', () => {
  type Filter = { name: string; typed_config: Json };
  const config = parseYaml(projectFile('examples/envoy/envoy.yaml')) as {
    static_resources: {
      listeners: { name: string; address: { socket_address: { address: string } }; filter_chains: { filters: { typed_config: { http_filters: Filter[]; route_config: { virtual_hosts: { routes: Json[] }[] } } }[] }[] }[];
      clusters: (Json & { name: string })[];
    };
  };
  const listener = (name: string) => {
    const found = config.static_resources.listeners.find((l) => l.name === name);
    if (!found) throw new Error(`no listener ${name}`);
    return found.filter_chains[0].filters[0].typed_config;
  };
  const cluster = (name: string) => config.static_resources.clusters.find((c) => c.name === name) as Json | undefined;

  test('ext_authz: HTTP service below /auth, the Authorization header, identity headers upstream, fail closed', () => {
    const filters = listener('orders').http_filters;
    expect(filters.map((f) => f.name)).toEqual(['envoy.filters.http.header_mutation', 'envoy.filters.http.ext_authz', 'envoy.filters.http.router']);
    const extAuthz = filters[1].typed_config as { failure_mode_allow: boolean; allowed_headers: Json; http_service: Json & { path_prefix: string; server_uri: { cluster: string }; authorization_request: Json; authorization_response: Json } };
    expect(extAuthz.failure_mode_allow).toBe(false);
    expect(extAuthz.http_service.path_prefix).toBe(`/auth/audience/${AUDIENCE}`);
    // The top-level allowed_headers, not the deprecated authorization_request.allowed_headers.
    expect(extAuthz.allowed_headers).toEqual({ patterns: [{ exact: 'authorization' }] });
    expect(extAuthz.http_service).not.toHaveProperty('authorization_request');
    expect(extAuthz.http_service.authorization_response).toEqual({
      allowed_upstream_headers: { patterns: [{ prefix: 'x-auth-request-' }] },
      allowed_client_headers: { patterns: [{ exact: 'www-authenticate' }] },
    });
    expect(cluster(extAuthz.http_service.server_uri.cluster)).toBeDefined();
    expectExcerpt('recv-envoy', 'examples/envoy/envoy.yaml');
  });

  test('the connection manager settles path tricks before ext_authz sees the path', () => {
    // The audience is chosen by path prefix: ext_authz, the route and the application must see one
    // path. Field names and the enum value are those of HttpConnectionManager (v3).
    expect(listener('orders')).toMatchObject({ normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'REJECT_REQUEST' });
  });

  test('client-sent identity headers are removed before ext_authz, the token after it', () => {
    const mutation = listener('orders').http_filters[0].typed_config as { mutations: { request_mutations: { remove: string }[] } };
    expect(mutation.mutations.request_mutations.map((m) => m.remove).sort()).toEqual([...IDENTITY_HEADERS].sort());
    const route = listener('orders').route_config.virtual_hosts[0].routes[0] as { request_headers_to_remove: string[] };
    expect(route.request_headers_to_remove).toEqual(['authorization']);
  });

  test('the forwarder gives API Gateway its own Host, TLS name and certificate check', () => {
    const forwarder = config.static_resources.listeners.find((l) => l.name === 'verify_forwarder');
    expect(forwarder?.address.socket_address.address).toBe('127.0.0.1');
    const route = listener('verify_forwarder').route_config.virtual_hosts[0].routes[0] as { route: { cluster: string; host_rewrite_literal: string } };
    const host = route.route.host_rewrite_literal;
    expect(host).toMatch(/^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/);
    const api = cluster(route.route.cluster) as { load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] }; transport_socket: { typed_config: { sni: string; common_tls_context: { validation_context: { trusted_ca: unknown; match_typed_subject_alt_names: { matcher: { exact: string } }[] } } } } };
    expect(api.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: host, port_value: 443 });
    const tls = api.transport_socket.typed_config;
    expect(tls.sni).toBe(host);
    expect(tls.common_tls_context.validation_context.trusted_ca).toBeDefined();
    expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher.exact).toBe(host);
  });

  test('behind ext_authz the client cannot pick the audience: the prefix fixes it, the query is ignored', async () => {
    // What Envoy sends for a client request to /orders/42?audience=billing.example.internal.
    const billing = fixtureToken('billing.example.internal');
    const picked = await fixtureAnswer({ method: 'GET', path: `/auth/audience/${AUDIENCE}/orders/42`, query: { audience: 'billing.example.internal' }, headers: { authorization: `Bearer ${billing}` } });
    expect(picked.status).toBe(401);
    expect(picked.headers['www-authenticate']).toContain('bad_audience');
    const orders = await fixtureAnswer({ method: 'GET', path: `/auth/audience/${AUDIENCE}/orders/42`, query: { audience: 'billing.example.internal' }, headers: { authorization: `Bearer ${fixtureToken()}` } });
    expect(orders.status).toBe(200);
  });
});

describe('documented answers are the handler\'s answers (fixture keys, injected time)', () => {
  const token = fixtureToken();
  const verifyBody = JSON.stringify({ token, audiences: [AUDIENCE] });

  test('recv-verify-valid', async () => {
    const answer = await fixtureAnswer({ method: 'POST', path: '/verify', body: verifyBody });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(JSON.parse(docBlock('recv-verify-valid').text));
  });

  test('recv-verify-refused: the same token a minute past its expiry and the clock skew', async () => {
    const answer = await fixtureAnswer({ method: 'POST', path: '/verify', body: verifyBody }, { now: FIXTURE_IAT + 3600 + 61 });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(JSON.parse(docBlock('recv-verify-refused').text));
  });

  test('recv-tokenreview-valid', async () => {
    const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [AUDIENCE] } };
    const answer = await fixtureAnswer({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: JSON.stringify(review) });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(JSON.parse(docBlock('recv-tokenreview-valid').text));
  });

  test('recv-auth-valid: the status line and headers of /auth', async () => {
    const answer = await fixtureAnswer({ method: 'GET', path: `/auth/audience/${AUDIENCE}`, headers: { authorization: `Bearer ${token}` } });
    const [statusLine, ...headerLines] = docBlock('recv-auth-valid').text.trim().split('\n');
    expect(statusLine).toBe(`HTTP/1.1 ${answer.status} OK`);
    const documented = Object.fromEntries(headerLines.map((line) => line.split(': ') as [string, string]));
    const shown = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => name in documented || name.startsWith('x-auth-request-')));
    expect(shown).toEqual(documented);
  });

  test('the reason list and the identity header table name exactly what the code has', () => {
    const page = projectFile('docs/receiving-services.md');
    const sentence = /`reason` is one of ([^(]+)\(/.exec(page)?.[1] ?? '';
    expect([...sentence.matchAll(/`([a-z_]+)`/g)].map((m) => m[1])).toEqual([...REASON_CODES]);
    const tableHeaders = [...page.matchAll(/^\| (`x-auth-request-[^|]+)\|/gm)].flatMap((m) => [...m[1].matchAll(/`(x-auth-request-[a-z-]+)`/g)].map((h) => h[1]));
    expect(tableHeaders.sort()).toEqual([...IDENTITY_HEADERS].sort());
  });
});

describe('commands and clients against local mode', () => {
  let local: DocsLocalMode;
  let env: Record<string, string>;
  beforeAll(async () => {
    requireTool('bash');
    requireTool('curl');
    local = await startDocsLocalMode([AUDIENCE]);
    env = { VERIFY_API: local.mode.url, AUDIENCE, TOKEN: local.token };
  });
  afterAll(async () => {
    await local?.close();
  });

  test('recv-env sets exactly the variables the commands use', () => {
    expect(bashSyntaxError(docBlock('recv-env').text)).toBe('');
    const assigned = shellAssignments(docBlock('recv-env').text);
    expect([...assigned.keys()]).toEqual(['VERIFY_API', 'AUDIENCE', 'TOKEN']);
    expect(assigned.get('AUDIENCE')).toBe(AUDIENCE);
  });

  test('recv-curl-verify and recv-curl-tokenreview answer in the documented shapes', async () => {
    const verify = await runBash(docBlock('recv-curl-verify').text, { env });
    expect(verify.status).toBe(0);
    expect(shapeDifferences(JSON.parse(verify.stdout), JSON.parse(docBlock('recv-verify-valid').text))).toEqual([]);
    const review = await runBash(docBlock('recv-curl-tokenreview').text, { env });
    expect(review.status).toBe(0);
    expect(shapeDifferences(JSON.parse(review.stdout), JSON.parse(docBlock('recv-tokenreview-valid').text))).toEqual([]);
  });

  test('recv-curl-auth: 200 with the documented identity headers; 401 for a bad token', async () => {
    const run = await runBash(docBlock('recv-curl-auth').text, { env });
    expect(run.status).toBe(0);
    const [status, ...lines] = run.stdout.split('\r\n\r\n')[0].split('\r\n');
    expect(status).toBe('HTTP/1.1 200 OK');
    const names = lines.map((line) => line.split(':')[0].toLowerCase()).filter((name) => name.startsWith('x-auth-request-'));
    const documented = docBlock('recv-auth-valid').text.split('\n').map((line) => line.split(':')[0]).filter((name) => name.startsWith('x-auth-request-'));
    expect(names.sort()).toEqual(documented.sort());
    const refused = await runBash(docBlock('recv-curl-auth').text, { env: { ...env, TOKEN: tampered(local.token) } });
    expect(refused.stdout.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
  });

  test('recv-curl-sigv4 is valid shell for the cluster that requires SigV4', () => {
    const text = docBlock('recv-curl-sigv4').text;
    expect(bashSyntaxError(text)).toBe('');
    expect(staging.verifyApi.iamAuth).toBe(true);
    expect(text).toContain(`--aws-sigv4 "aws:amz:${staging.env.region}:execute-api"`);
  });

  test.each([
    ['recv-node-run', 'node'],
    ['recv-python-run', 'python3'],
  ])('%s: 0 with the identity, 1 with the reason, 2 without a Verify API', async (id, tool) => {
    if (tool === 'python3') requireTool('python3');
    const script = docBlock(id).text;
    const valid = await runBash(script, { env });
    expect({ status: valid.status, stderr: valid.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(valid.stdout)).toMatchObject({ authenticated: true, user: { username: 'system:serviceaccount:default:demo' }, audiences: [AUDIENCE] });
    const refused = await runBash(script, { env: { ...env, TOKEN: tampered(local.token) } });
    expect({ status: refused.status, stdout: refused.stdout.trim() }).toEqual({ status: 1, stdout: 'refused: bad_signature: signature does not verify' });
    const other = await demoTokenFor(local.mode, 'billing.example.internal');
    const wrongAudience = await runBash(script, { env: { ...env, TOKEN: other } });
    expect(wrongAudience.status).toBe(1);
    expect(wrongAudience.stdout).toMatch(/^refused: bad_audience: /);
    const unreachable = await runBash(script, { env: { ...env, VERIFY_API: 'http://127.0.0.1:9' } });
    expect(unreachable.status).toBe(2);
    expect(unreachable.stderr).toMatch(/^error: /);
  });

  test('recv-inprocess: the library snippet verifies against the served JWKS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-inprocess-'));
    try {
      const snippet = docBlock('recv-inprocess').text.replace("from './core/verifier'", `from '${join(REPO_ROOT, 'core', 'verifier')}'`);
      writeFileSync(join(dir, 'auth.ts'), snippet);
      writeFileSync(join(dir, 'main.ts'), "import { authenticate } from './auth';\nauthenticate(process.env.TOKEN ?? '').then((r) => console.log(JSON.stringify(r)));\n");
      const run = (token: string) => runBash(`"${REPO_ROOT}/node_modules/.bin/tsx" main.ts`, { cwd: dir, env: { ISSUER: local.mode.issuer, AUDIENCE, TOKEN: token } });
      const valid = await run(local.token);
      expect(valid.status).toBe(0);
      expect(JSON.parse(valid.stdout)).toMatchObject({ ok: true, identity: { username: 'system:serviceaccount:default:demo', audiences: [AUDIENCE] } });
      const refused = await run(await demoTokenFor(local.mode, 'billing.example.internal'));
      expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, reason: 'bad_audience' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('the fixture API allows the audiences of the example cluster prod-eu', () => {
  expect(FIXTURE_AUDIENCES).toEqual(prodEu.verifyApi.audiences);
});
