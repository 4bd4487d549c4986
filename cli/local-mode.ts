/**
 * Local mode: the whole system on one machine with no AWS account. The same sync core publishes
 * the documents into a folder, and one HTTP server on 127.0.0.1 serves the two discovery
 * documents (as CloudFront would: those two paths only, with their stored headers) and the
 * verify routes (through the same request handler as the Lambda).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { documentPaths } from '../core/documents';
import { parseKeyMaterial, type ParsedKey } from '../core/keys';
import { handleVerifyRequest } from '../core/verify-api';
import { KeyCache } from '../runtime/key-cache';
import { clusterJwksSource, KeySource, SourceReading } from '../runtime/key-sources';
import { FileObjectStore } from '../runtime/object-store';
import { runSync, SYNC_DEFAULTS, SyncReport, SyncSettings } from '../runtime/sync-runner';

/** Options of {@link startLocalMode}, one per command-line flag. */
export interface LocalModeOptions {
  /** Folder for the demo key and the published documents. @default `.kube-oidc-local` */
  readonly stateDir?: string;
  /** Public (or private) key files of a real cluster; none and no `jwksUrl` means the demo key. */
  readonly keyFiles?: readonly string[];
  /** A cluster's `/openid/v1/jwks`, read at start and every `syncIntervalSeconds`. */
  readonly jwksUrl?: string;
  readonly caFile?: string;
  readonly tokenFile?: string;
  /** The issuer tokens carry. @default - the server's own URL */
  readonly issuer?: string;
  /** Audiences callers may ask about. @default ['kube-oidc-local'] */
  readonly audiences?: readonly string[];
  /** @default 8787; 0 picks a free port */
  readonly port?: number;
  /** @default 60 */
  readonly syncIntervalSeconds?: number;
  /** Where log lines go. @default - none */
  readonly log?: (line: Record<string, unknown>) => void;
}

/** A running local mode. */
export interface LocalMode {
  readonly url: string;
  readonly issuer: string;
  readonly stateDir: string;
  readonly audiences: readonly string[];
  readonly usesDemoKey: boolean;
  /** Kids of the keys this run publishes: exactly those of its key source (the demo key's in demo mode). */
  readonly publishedKids: readonly string[];
  /** Whether the demo key is among the published keys (only ever in demo mode). */
  readonly publishesDemoKey: boolean;
  /** Private key (PEM) of the demo key, for minting demo tokens; absent with a real cluster's keys. */
  readonly demoPrivateKeyPem?: string;
  readonly lastSync: SyncReport;
  close(): Promise<void>;
}

/** The port local mode listens on unless told otherwise. */
export const DEFAULT_LOCAL_PORT = 8787;
/** The audience demo tokens carry and local mode accepts by default. */
export const DEFAULT_LOCAL_AUDIENCE = 'kube-oidc-local';
const DEMO_KEY_FILE = 'demo-sa.key';

/**
 * Local mode cannot start with what it was given (a key source or the state folder): nothing
 * listens yet. The CLI answers it with exit 2.
 */
export class LocalModeSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalModeSetupError';
  }
}

/**
 * Starts local mode. Rejects with a {@link LocalModeSetupError} before listening when a key file
 * or the state folder cannot be used, and with a clear message when the port is taken.
 *
 * The state folder never carries a key the user did not give in this run: its published
 * documents and rotation state are cleared at start, so exactly this run's keys are published
 * (the demo key only in demo mode). The deny list is kept.
 */
export async function startLocalMode(options: LocalModeOptions = {}): Promise<LocalMode> {
  const stateDir = resolve(options.stateDir ?? '.kube-oidc-local');
  await usableStateDir(stateDir);
  const audiences = options.audiences && options.audiences.length > 0 ? [...options.audiences] : [DEFAULT_LOCAL_AUDIENCE];
  const usesDemoKey = (options.keyFiles ?? []).length === 0 && !options.jwksUrl;
  // Key files are read and checked before anything listens: a bad one stops local mode.
  const givenKeys = usesDemoKey ? [] : await readKeyFiles(options.keyFiles ?? []);
  const demoPrivateKeyPem = usesDemoKey ? await demoKey(stateDir) : undefined;
  const sources = await keySources(options, stateDir, usesDemoKey);
  await clearPublishedState(stateDir);

  // Bind first: the default issuer is the server's own URL, which needs the port.
  let requestHandler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.writeHead(503).end(); };
  const server = createServer((req, res) => requestHandler(req, res));
  await listen(server, options.port ?? DEFAULT_LOCAL_PORT);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? url;

  const documents = new FileObjectStore(join(stateDir, 'documents'));
  const privateStore = new FileObjectStore(join(stateDir, 'private'));

  const settings: SyncSettings = {
    issuer,
    stateKey: SYNC_DEFAULTS.stateKey,
    denyListKey: SYNC_DEFAULTS.denyListKey,
    gracePeriodSeconds: SYNC_DEFAULTS.gracePeriodSeconds,
    cacheMaxAgeSeconds: SYNC_DEFAULTS.cacheMaxAgeSeconds,
    includeKidlessDuplicates: false,
  };
  const sync = () => runSync({ documents, privateStore, sources, now: () => Math.floor(Date.now() / 1000) }, settings);
  let lastSync = await sync();
  options.log?.({ message: 'jwks sync run', outcome: lastSync.outcome, failureReason: lastSync.failureReason, publishedKids: lastSync.plan?.publishedKids });
  if (lastSync.outcome === 'failed' && !(await documents.get(documentPaths(issuer).jwksKey))) {
    server.close();
    throw new LocalModeSetupError(`no key could be published: ${lastSync.failureReason}; ${lastSync.plan?.problems.map((p) => `${p.source}: ${p.reason}`).join('; ') ?? ''}`);
  }
  const publishedKids = lastSync.plan?.publishedKids ?? [];
  const demoKid = demoPrivateKeyPem === undefined ? undefined : parseKeyMaterial(demoPrivateKeyPem, 'demo').keys[0]?.jwk.kid;
  const expectedKids = usesDemoKey ? (demoKid === undefined ? [] : [demoKid]) : givenKeys.map((key) => key.jwk.kid);
  const unexpected = publishedKids.filter((kid) => !expectedKids.includes(kid));
  // With --jwks-url the cluster names its keys; otherwise anything else published is state that leaked in.
  if (!options.jwksUrl && unexpected.length > 0) {
    server.close();
    throw new Error(`local mode would publish keys it was not given in this run (${unexpected.join(', ')}): remove ${stateDir} and start again`);
  }
  const timer = options.jwksUrl ? setInterval(() => { void sync().then((report) => { lastSync = report; }); }, (options.syncIntervalSeconds ?? 60) * 1000) : undefined;
  timer?.unref();

  const paths = documentPaths(issuer);
  const servedDocuments = new Map([[`/${paths.discoveryKey}`, paths.discoveryKey], [`/${paths.jwksKey}`, paths.jwksKey]]);
  const keys = new KeyCache({
    loadJwks: async () => (await documents.get(paths.jwksKey))?.body,
    loadDenyList: async () => (await privateStore.get(SYNC_DEFAULTS.denyListKey))?.body,
    policy: { issuer, allowedAudiences: audiences, defaultAudiences: audiences, clockSkewSeconds: 60, maxTokenBytes: 16_384, kidlessCompat: false },
    nowMs: () => Date.now(),
    ttlSeconds: 5,
    unknownKidCooldownSeconds: 5,
  });

  requestHandler = (req, res) => {
    void serve(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal error"}');
    });
  };
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The raw request target, never `new URL(req.url)`: that would resolve `..`, `%2e%2e` and
    // backslashes before the core could refuse them.
    const target = req.url ?? '';
    const queryAt = target.indexOf('?');
    const rawPath = queryAt < 0 ? target : target.slice(0, queryAt);
    const documentKey = servedDocuments.get(rawPath);
    if (documentKey && (req.method === 'GET' || req.method === 'HEAD')) {
      const stored = await documents.get(documentKey);
      if (!stored) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not published yet"}');
        return;
      }
      res.writeHead(200, { 'content-type': stored.contentType ?? 'application/json', 'cache-control': stored.cacheControl ?? 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : stored.body);
      return;
    }
    const body = await readBody(req, 64 * 1024);
    const response = await handleVerifyRequest(
      { method: req.method ?? 'GET', path: target, headers: unmergedHeaders(req.rawHeaders), query: queryOf(target, queryAt), body: body.tooLarge ? undefined : body.text, bodyTooLarge: body.tooLarge },
      { keys, now: () => Math.floor(Date.now() / 1000), log: options.log, authAudiences: audiences, clockMs: () => performance.now() },
    );
    res.writeHead(response.status, response.headers).end(response.body);
  }

  return {
    url,
    issuer,
    stateDir,
    audiences,
    usesDemoKey,
    get publishedKids() { return lastSync.plan?.publishedKids ?? publishedKids; },
    get publishesDemoKey() { return demoKid !== undefined && (lastSync.plan?.publishedKids ?? publishedKids).includes(demoKid); },
    demoPrivateKeyPem,
    get lastSync() { return lastSync; },
    close: () => new Promise<void>((resolveClose) => {
      if (timer) clearInterval(timer);
      server.closeAllConnections?.();
      server.close(() => resolveClose());
    }),
  };
}

/** Options of {@link mintDemoToken}. */
export interface DemoTokenOptions {
  /** @default - local mode's first audience */
  readonly audience?: string;
  /** @default 3600 */
  readonly lifetimeSeconds?: number;
  /** Bind the token to a node as well as a pod, as kube does since 1.30. @default true */
  readonly boundToNode?: boolean;
}

/**
 * Mints a token shaped exactly like a kube projected service-account token, signed with the demo
 * key, for trying the verify routes.
 */
export async function mintDemoToken(mode: LocalMode, nowSeconds: number, options: DemoTokenOptions = {}): Promise<string> {
  if (!mode.demoPrivateKeyPem) throw new Error('demo tokens need the demo key: local mode was started with a real cluster\'s keys');
  const { SignJWT, importPKCS8 } = await import('jose');
  const { createPrivateKey } = await import('node:crypto');
  const pkcs8 = createPrivateKey(mode.demoPrivateKeyPem).export({ type: 'pkcs8', format: 'pem' }) as string;
  const key = await importPKCS8(pkcs8, 'RS256');
  const kid = parseKeyMaterial(mode.demoPrivateKeyPem, 'demo').keys[0].jwk.kid;
  return new SignJWT({
    'kubernetes.io': {
      namespace: 'default',
      serviceaccount: { name: 'demo', uid: randomUUID() },
      pod: { name: 'demo-pod', uid: randomUUID() },
      ...(options.boundToNode === false ? {} : { node: { name: 'demo-node', uid: randomUUID() } }),
    },
  })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(mode.issuer)
    .setSubject('system:serviceaccount:default:demo')
    .setAudience([options.audience ?? mode.audiences[0]])
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + (options.lifetimeSeconds ?? 3600))
    .setJti(randomUUID())
    .sign(key);
}

/**
 * Headers from `rawHeaders`, lower-cased, a repeated one as the list of its values. Node's
 * `req.headers` drops repeats of some headers (Authorization among them: the first wins) and
 * joins others, which would hide a second Authorization header from the core.
 */
function unmergedHeaders(rawHeaders: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    const existing = headers[name];
    headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return headers;
}

/** Query parameters (first value of each), for the core's log only; never fails on bad encoding. */
function queryOf(target: string, queryAt: number): Record<string, string> {
  if (queryAt < 0) return {};
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(target.slice(queryAt + 1))) if (!(name in query)) query[name] = value;
  return query;
}

/**
 * Makes sure the state folder exists (creating it and missing parents one level at a time:
 * Node's recursive mkdir never returns for a path under /proc) and can be written to.
 */
async function usableStateDir(stateDir: string): Promise<void> {
  const refuse = (why: string) => new LocalModeSetupError(`--state-dir ${stateDir} cannot be used: ${why}`);
  await ensureFolder(stateDir, 0).catch((err: Error) => { throw refuse(err.message); });
  const probe = join(stateDir, `.write-check-${process.pid}`);
  await writeFile(probe, '').then(() => unlink(probe)).catch((err: Error) => { throw refuse(`it is not writable (${err.message})`); });
}

async function ensureFolder(path: string, depth: number): Promise<void> {
  const found = await stat(path).then((stats) => ({ stats, error: undefined }), (error: NodeJS.ErrnoException) => ({ stats: undefined, error }));
  if (found.stats === undefined) {
    if (found.error.code !== 'ENOENT') throw found.error;
    const parent = dirname(path);
    if (parent === path || depth > 64) throw new Error('no existing parent folder');
    await ensureFolder(parent, depth + 1);
    await mkdir(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
    return;
  }
  if (!found.stats.isDirectory()) throw new Error(`${path} is not a folder`);
}

/**
 * Reads and checks every key file before local mode listens. A file that cannot be read, holds
 * no public key, or holds a key that would be refused (RSA under 2048 bits, an unsupported
 * curve, garbage) stops local mode, naming the file and the reason.
 */
async function readKeyFiles(files: readonly string[]): Promise<ParsedKey[]> {
  const keys: ParsedKey[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new LocalModeSetupError(`--key-file ${file} cannot be read: ${(err as Error).message}`);
    }
    const parsed = parseKeyMaterial(bytes, file);
    if (parsed.problems.length > 0) {
      throw new LocalModeSetupError(`--key-file ${file} cannot be used: ${parsed.problems.map((problem) => `${problem.source}: ${problem.reason}`).join('; ')}`);
    }
    if (parsed.keys.length === 0) throw new LocalModeSetupError(`--key-file ${file} cannot be used: it holds no public key`);
    keys.push(...parsed.keys);
  }
  return keys;
}

/**
 * Forgets what earlier runs published (documents, rotation state): local state never carries a
 * key the user did not give in this run, so a demo key cannot sit next to real keys. The deny
 * list, which the user wrote, stays.
 */
async function clearPublishedState(stateDir: string): Promise<void> {
  await rm(join(stateDir, 'documents'), { recursive: true, force: true });
  await rm(join(stateDir, 'private', 'state'), { recursive: true, force: true });
}

async function demoKey(stateDir: string): Promise<string> {
  const path = join(stateDir, DEMO_KEY_FILE);
  if (existsSync(path)) return readFile(path, 'utf8');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  await writeFile(path, `# DEMO KEY made by kube-oidc local mode. Not for any real cluster.\n${pem}`, { mode: 0o600 });
  return readFile(path, 'utf8');
}

async function keySources(options: LocalModeOptions, stateDir: string, usesDemoKey: boolean): Promise<KeySource[]> {
  const files = usesDemoKey ? [join(stateDir, DEMO_KEY_FILE)] : [...(options.keyFiles ?? [])];
  const sources: KeySource[] = [];
  if (files.length > 0) {
    sources.push({
      id: 'key-files',
      async read(): Promise<SourceReading> {
        const reading: SourceReading = { keys: [], problems: [], privateKeyInputs: [] };
        for (const file of files) {
          // The operator's own key files: a private key (kubeadm's sa.key) is fine, only its public half is used.
          const result = parseKeyMaterial(await readFile(file), file);
          reading.keys.push(...result.keys);
          reading.problems.push(...result.problems);
        }
        return reading;
      },
    });
  }
  if (options.jwksUrl) {
    const caFile = options.caFile;
    const caPem = caFile
      ? await readFile(caFile, 'utf8').catch((err: Error) => { throw new LocalModeSetupError(`--ca-file ${caFile} cannot be read: ${err.message}`); })
      : undefined;
    const tokenFile = options.tokenFile;
    sources.push(clusterJwksSource({
      url: options.jwksUrl,
      caPem,
      bearerToken: tokenFile ? async () => (await readFile(tokenFile, 'utf8')).trim() : undefined,
      allowHttp: true,
    }));
  }
  return sources;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new Error(`port ${port} on 127.0.0.1 is already in use: stop what uses it, or pick another port with --port N (--port 0 picks a free one)`)
        : err);
    });
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<{ text: string; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), tooLarge: size > maxBytes };
}
