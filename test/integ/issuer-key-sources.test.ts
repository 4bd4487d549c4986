/**
 * Keys of external issuers through OIDC discovery on a local issuer server: the document must
 * name the configured issuer byte for byte, its jwks_uri is reused until a JWKS fetch fails, and
 * nothing but a configured JWKS URL bypasses discovery.
 */
import { discoveryJwksLoader, jwksUrlLoader, jwksUriOf } from '../../runtime/issuer-key-sources';
import { publishIssuer, startIssuerServer, type IssuerServer } from '../support/issuer-server';
import { newTestKey } from '../support/tokens';

const key = newTestKey('ES256');
const jwks = { keys: [key.jwk] };
let server: IssuerServer;

beforeEach(async () => {
  server = await startIssuerServer();
});
afterEach(async () => {
  await server.close();
});

it('reads the JWKS through discovery, then reuses the jwks_uri until a JWKS fetch fails', async () => {
  const published = publishIssuer(server, { jwks, issuerPath: '/id/ABC' });
  const load = discoveryJwksLoader(published.issuer);
  expect(JSON.parse(await load())).toEqual(jwks);
  expect(JSON.parse(await load())).toEqual(jwks);
  expect(server.requests.map((request) => request.path)).toEqual([published.discoveryPath, published.jwksPath, published.jwksPath]);
  server.route(published.jwksPath, { status: 500 });
  await expect(load()).rejects.toThrow('answered HTTP 500');
  server.route(published.jwksPath, { body: JSON.stringify(jwks) });
  expect(JSON.parse(await load())).toEqual(jwks);
  expect(server.requests.slice(-2).map((request) => request.path)).toEqual([published.discoveryPath, published.jwksPath]);
});

it.each([
  ['a trailing slash', (issuer: string) => `${issuer}/`],
  ['the bare host', (issuer: string) => new URL(issuer).origin],
  ['another host', () => 'https://attacker.example/id/ABC'],
])('refuses a discovery document naming %s instead of the configured issuer, before any JWKS fetch', async (_label, named) => {
  const published = publishIssuer(server, { jwks, issuerPath: '/id/ABC' });
  server.route(published.discoveryPath, { body: JSON.stringify({ ...published.discovery, issuer: named(published.issuer) }) });
  await expect(discoveryJwksLoader(published.issuer)()).rejects.toThrow(`not ${JSON.stringify(published.issuer)}`);
  expect(server.requests.map((request) => request.path)).toEqual([published.discoveryPath]);
});

it('does not follow a redirect of the discovery document', async () => {
  const published = publishIssuer(server, { jwks, issuerPath: '/id/ABC' });
  server.route(published.discoveryPath, { status: 302, headers: { location: `${server.origin}/elsewhere` } });
  await expect(discoveryJwksLoader(published.issuer)()).rejects.toThrow('answered HTTP 302');
});

it('a configured JWKS URL is read as is', async () => {
  const published = publishIssuer(server, { jwks, issuerPath: '/id/ABC' });
  expect(JSON.parse(await jwksUrlLoader(`${server.origin}${published.jwksPath}`)())).toEqual(jwks);
  expect(server.requests.map((request) => request.path)).toEqual([published.jwksPath]);
});

it('refuses discovery documents that are not JSON objects or have no jwks_uri', () => {
  expect(() => jwksUriOf('https://i.example', 'u', 'nope')).toThrow('not JSON');
  expect(() => jwksUriOf('https://i.example', 'u', '[]')).toThrow('not a JSON object');
  expect(() => jwksUriOf('https://i.example', 'u', '{"issuer":"https://i.example"}')).toThrow('no jwks_uri');
});
