/**
 * A local OIDC issuer for tests: an HTTP or HTTPS server on 127.0.0.1 whose routes can be set,
 * so a test can publish a correct issuer and then break it one way at a time.
 *
 * Also makes a throw-away CA and server certificate with openssl, so HTTPS is tested with a real
 * chain rather than by turning verification off.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a route answers. */
export interface RouteResponse {
  /** @default 200 */
  readonly status?: number;
  /** @default - `content-type: application/json` */
  readonly headers?: Readonly<Record<string, string>>;
  /** @default '' */
  readonly body?: string;
  /** Wait this long before answering, in milliseconds. @default 0 */
  readonly delayMs?: number;
}

/** A request the server received. */
export interface RecordedRequest {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** A running test issuer server. */
export interface IssuerServer {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly origin: string;
  /** The requests received so far, oldest first. */
  readonly requests: RecordedRequest[];
  /** Sets (or replaces) what a path answers. Unknown paths answer 404. */
  route(path: string, response: RouteResponse): void;
  /** Removes every route. */
  clear(): void;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

/** TLS material for an HTTPS server. */
export interface ServerTls {
  readonly keyPem: string;
  readonly certPem: string;
}

/** Starts a server on 127.0.0.1 with a free port; HTTPS when `tls` is given. */
export async function startIssuerServer(options: { tls?: ServerTls } = {}): Promise<IssuerServer> {
  const routes = new Map<string, RouteResponse>();
  const requests: RecordedRequest[] = [];
  const pendingAnswers = new Set<NodeJS.Timeout>();
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push({ path, headers: req.headers });
    const route = routes.get(path);
    const answer = (): void => {
      if (!route) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
        return;
      }
      res.writeHead(route.status ?? 200, route.headers ?? { 'content-type': 'application/json' }).end(route.body ?? '');
    };
    if (!route?.delayMs) return answer();
    const timer = setTimeout(() => {
      pendingAnswers.delete(timer);
      answer();
    }, route.delayMs);
    pendingAnswers.add(timer);
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.keyPem, cert: options.tls.certPem }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    route: (path, response) => void routes.set(path, response),
    clear: () => routes.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pendingAnswers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What {@link publishIssuer} served, so a test can break one part of it. */
export interface PublishedIssuer {
  /** The issuer URL (origin plus path), as tokens would carry it in `iss`. */
  readonly issuer: string;
  readonly discoveryPath: string;
  readonly jwksPath: string;
  /** The discovery document as served. */
  readonly discovery: Record<string, unknown>;
}

/** Options of {@link publishIssuer}; each one lets a test break the issuer a specific way. */
export interface PublishIssuerOptions {
  /** The JWKS to serve (any JSON, so tests can serve broken keys). */
  readonly jwks: unknown;
  /** Issuer path below the origin. @default '/cluster-a' */
  readonly issuerPath?: string;
  /** Members merged over the correct discovery document. */
  readonly discoveryOverrides?: Record<string, unknown>;
  /** Headers of the JWKS response. @default - `application/json`, `max-age=300` */
  readonly jwksHeaders?: Record<string, string>;
  /** Headers of the discovery response. @default - `application/json`, `max-age=300` */
  readonly discoveryHeaders?: Record<string, string>;
}

const GOOD_HEADERS = { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' };

/** Serves a discovery document and a JWKS the way a correctly deployed issuer does. */
export function publishIssuer(server: IssuerServer, options: PublishIssuerOptions): PublishedIssuer {
  const issuerPath = options.issuerPath ?? '/cluster-a';
  const issuer = `${server.origin}${issuerPath}`;
  const discoveryPath = `${issuerPath}/.well-known/openid-configuration`;
  const jwksPath = `${issuerPath}/openid/v1/jwks`;
  const jwks = options.jwks as { keys?: { alg?: unknown }[] };
  const algs = [...new Set((jwks.keys ?? []).map((key) => key.alg).filter((alg) => typeof alg === 'string'))].sort();
  const discovery = {
    issuer,
    jwks_uri: `${issuer}/openid/v1/jwks`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
    ...options.discoveryOverrides,
  };
  server.route(discoveryPath, { headers: options.discoveryHeaders ?? GOOD_HEADERS, body: JSON.stringify(discovery) });
  server.route(jwksPath, { headers: options.jwksHeaders ?? GOOD_HEADERS, body: JSON.stringify(options.jwks) });
  return { issuer, discoveryPath, jwksPath, discovery };
}

/** A CA and a server certificate for 127.0.0.1 and localhost, as PEM, plus the CA file's path. */
export interface TestPki {
  readonly caPem: string;
  readonly caFile: string;
  readonly server: ServerTls;
  /** The temporary folder holding the files. */
  readonly dir: string;
}

/** Runs openssl, failing with an install hint when it is missing. */
export function openssl(args: string[], cwd?: string): string {
  try {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('openssl is required by this test: install it (apt-get install openssl / brew install openssl)');
    }
    throw err;
  }
}

/** Folders of the PKIs made in this test file, removed after it (callers may remove theirs sooner). */
const pkiDirs: string[] = [];
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const dir of pkiDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Makes a private CA and a server certificate signed by it (P-256 keys: fast to generate), valid
 * for IP 127.0.0.1, DNS localhost and each of `dnsNames`. Its folder is removed after the test file.
 */
export function makeTestPki(dnsNames: readonly string[] = []): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-pki-'));
  pkiDirs.push(dir);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(
    [
      'req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=kube-oidc test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(
    join(dir, 'server.ext'),
    `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...dnsNames.map((name) => `DNS:${name}`)].join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'],
    dir,
  );
  return {
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caFile: join(dir, 'ca.pem'),
    server: { keyPem: readFileSync(join(dir, 'server.key'), 'utf8'), certPem: readFileSync(join(dir, 'server.pem'), 'utf8') },
    dir,
  };
}
