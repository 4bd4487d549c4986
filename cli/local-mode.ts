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
import { handleVerifyRequest, type VerifyApiDeps } from '../core/verify-api';
import { createIssuerKeyCaches } from '../runtime/issuer-key-caches';
import { KeyCache } from '../runtime/key-cache';
import { clusterJwksSource, KeySource, SourceReading } from '../runtime/key-sources';
import { FileObjectStore } from '../runtime/object-store';
import { runSync, SYNC_DEFAULTS, SyncReport, SyncSettings } from '../runtime/sync-runner';
import { claimDenyLists, DenyListOwnersError, localPrivateStore } from './local-deny-lists';

/** One issuer of a local fleet and where its keys come from (key files, a JWKS URL, or both). */
export interface LocalIssuerOptions {
  /** The issuer, byte for byte as its tokens carry it in `iss`. */
  readonly issuer: string;
  /** Key files of this issuer's cluster. */
  readonly keyFiles?: readonly string[];
  /** This issuer's cluster `/openid/v1/jwks`, read at start and every `syncIntervalSeconds`. */
  readonly jwksUrl?: string;
}

/** Options of {@link startLocalMode}, one per command-line flag. */
export interface LocalModeOptions {
  /**
   * Several issuers on one port (a fleet), each with its own keys; when given, `issuer`,
   * `keyFiles` and `jwksUrl` must not be. Every issuer needs a key source, and each serves its
   * documents under its own URL path (two issuers with the same path are refused). Tokens are
   * routed by their `iss` to their issuer's key cache (runtime/issuer-key-caches.ts), so a key
   * of one issuer never verifies a token of another. Each issuer has its own deny list in the
   * state folder, as each cluster has its own in AWS (cli/local-deny-lists.ts): the first issuer
   * keeps `control/deny-list.json`, the others `control/deny-list-N.json`, and an issuer keeps its
   * list across runs whatever the order of the issuers. A list applies to its issuer's tokens only.
   */
  readonly issuers?: readonly LocalIssuerOptions[];
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

/** One issuer a running local mode serves. */
export interface LocalIssuer {
  readonly issuer: string;
  /** Path of its discovery document on the local server. */
  readonly discoveryPath: string;
  /** Path of its JWKS on the local server. */
  readonly jwksPath: string;
  /** Kids of the keys published for this issuer. */
  readonly publishedKids: readonly string[];
  /** This issuer's deny list in the state folder's private store (`control/deny-list.json` for the first issuer of a new folder). */
  readonly denyListKey: string;
  /** The file of that deny list, which `kube-oidc deny --state-dir DIR --issuer ISSUER` edits. */
  readonly denyListFile: string;
}

/** A running local mode. */
export interface LocalMode {
  readonly url: string;
  /** The (first) issuer. */
  readonly issuer: string;
  /** Every issuer served, in the order given. */
  readonly issuers: readonly LocalIssuer[];
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
 * (the demo key only in demo mode). The deny lists, one per issuer, are kept.
 */
export async function startLocalMode(options: LocalModeOptions = {}): Promise<LocalMode> {
  const stateDir = resolve(options.stateDir ?? '.kube-oidc-local');
  await usableStateDir(stateDir);
  const audiences = options.audiences && options.audiences.length > 0 ? [...options.audiences] : [DEFAULT_LOCAL_AUDIENCE];
  const planned = plannedIssuers(options);
  const usesDemoKey = planned.length === 1 && (planned[0].keyFiles ?? []).length === 0 && !planned[0].jwksUrl;
  // Key files are read and checked before anything listens: a bad one stops local mode.
  const givenKeys = await Promise.all(planned.map((entry) => (usesDemoKey ? Promise.resolve([]) : readKeyFiles(entry.keyFiles ?? []))));
  const demoPrivateKeyPem = usesDemoKey ? await demoKey(stateDir) : undefined;
  const sources = await Promise.all(planned.map((entry) => keySources(entry, options, stateDir, usesDemoKey)));
  await clearPublishedState(stateDir);

  // Bind first: the default issuer is the server's own URL, which needs the port.
  let requestHandler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.writeHead(503).end(); };
  const server = createServer((req, res) => requestHandler(req, res));
  await listen(server, options.port ?? DEFAULT_LOCAL_PORT);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuers = planned.map((entry) => entry.issuer ?? url);

  const documents = new FileObjectStore(join(stateDir, 'documents'));
  const privateStore = localPrivateStore(stateDir);
  const demoKid = demoPrivateKeyPem === undefined ? undefined : parseKeyMaterial(demoPrivateKeyPem, 'demo').keys[0]?.jwk.kid;
  // One deny list per issuer, as one per cluster in AWS; an owners record keeps each issuer on its own list across runs.
  const denyListKeys = await claimDenyLists(privateStore, issuers).catch((err: Error) => {
    server.close();
    throw err instanceof DenyListOwnersError ? new LocalModeSetupError(err.message) : err;
  });

  const members = issuers.map((issuer, index) => {
    const settings: SyncSettings = {
      issuer,
      // One rotation state per issuer; the first keeps the single-issuer name.
      stateKey: index === 0 ? SYNC_DEFAULTS.stateKey : SYNC_DEFAULTS.stateKey.replace(/\.json$/, `-${index}.json`),
      denyListKey: denyListKeys[index],
      gracePeriodSeconds: SYNC_DEFAULTS.gracePeriodSeconds,
      cacheMaxAgeSeconds: SYNC_DEFAULTS.cacheMaxAgeSeconds,
      includeKidlessDuplicates: false,
    };
    const sync = () => runSync({ documents, privateStore, sources: sources[index], now: () => Math.floor(Date.now() / 1000) }, settings);
    const loadDenyList = async () => (await privateStore.get(denyListKeys[index]))?.body;
    return { issuer, index, sync, loadDenyList, denyListKey: denyListKeys[index], paths: documentPaths(issuer), lastSync: undefined as SyncReport | undefined, jwksUrl: planned[index].jwksUrl };
  });
  for (const member of members) {
    const report = await member.sync();
    member.lastSync = report;
    options.log?.({ message: 'jwks sync run', issuer: member.issuer, outcome: report.outcome, failureReason: report.failureReason, publishedKids: report.plan?.publishedKids });
    const named = members.length > 1 ? ` for issuer ${member.issuer}` : '';
    if (report.outcome === 'failed' && !(await documents.get(member.paths.jwksKey))) {
      server.close();
      throw new LocalModeSetupError(`no key could be published${named}: ${report.failureReason}; ${report.plan?.problems.map((p) => `${p.source}: ${p.reason}`).join('; ') ?? ''}`);
    }
    const kids = report.plan?.publishedKids ?? [];
    const expectedKids = usesDemoKey ? (demoKid === undefined ? [] : [demoKid]) : givenKeys[member.index].map((key) => key.jwk.kid);
    const unexpected = kids.filter((kid) => !expectedKids.includes(kid));
    // With a JWKS URL the cluster names its keys; otherwise anything else published is state that leaked in.
    if (!member.jwksUrl && unexpected.length > 0) {
      server.close();
      throw new Error(`local mode would publish keys it was not given in this run${named} (${unexpected.join(', ')}): remove ${stateDir} and start again`);
    }
  }
  const fetched = members.filter((member) => member.jwksUrl);
  const timer = fetched.length > 0
    ? setInterval(() => { for (const member of fetched) void member.sync().then((report) => { member.lastSync = report; }); }, (options.syncIntervalSeconds ?? 60) * 1000)
    : undefined;
  timer?.unref();

  const servedDocuments = new Map<string, string>();
  for (const { paths } of members) {
    servedDocuments.set(`/${paths.discoveryKey}`, paths.discoveryKey);
    servedDocuments.set(`/${paths.jwksKey}`, paths.jwksKey);
    // OAuth2-Proxy's fallback when discovery fails: the sync writes the same bytes there.
    servedDocuments.set(`/${paths.jwksAliasKey}`, paths.jwksAliasKey);
  }
  const policyOf = (issuer: string) => ({ issuer, allowedAudiences: audiences, defaultAudiences: audiences, clockSkewSeconds: 60, maxTokenBytes: 16_384, kidlessCompat: false });
  // One issuer: its key cache, as the single-cluster Lambda. Several: the fleet's per-issuer
  // caches behind the core's issuer router, as the fleet Lambda; each token meets only the keys
  // of the issuer its `iss` names.
  const keys: VerifyApiDeps['keys'] = members.length === 1
    ? new KeyCache({
      loadJwks: async () => (await documents.get(members[0].paths.jwksKey))?.body,
      loadDenyList: members[0].loadDenyList,
      policy: policyOf(members[0].issuer),
      nowMs: () => Date.now(),
      ttlSeconds: 5,
      unknownKidCooldownSeconds: 5,
    })
    : createIssuerKeyCaches(members.map((member) => ({
      policy: policyOf(member.issuer),
      loadJwks: async () => (await documents.get(member.paths.jwksKey))?.body,
      // Its own list only: an entry on another issuer's list never refuses this issuer's tokens.
      loadDenyList: member.loadDenyList,
      ttlSeconds: 5,
      unknownKidCooldownSeconds: 5,
    })), { nowMs: () => Date.now() });

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

  const kidsOf = (member: (typeof members)[number]) => member.lastSync?.plan?.publishedKids ?? [];
  const allKids = () => members.flatMap(kidsOf);
  return {
    url,
    issuer: issuers[0],
    get issuers() {
      return members.map((member) => ({
        issuer: member.issuer,
        discoveryPath: `/${member.paths.discoveryKey}`,
        jwksPath: `/${member.paths.jwksKey}`,
        publishedKids: kidsOf(member),
        denyListKey: member.denyListKey,
        denyListFile: join(stateDir, 'private', member.denyListKey),
      }));
    },
    stateDir,
    audiences,
    usesDemoKey,
    get publishedKids() { return allKids(); },
    get publishesDemoKey() { return demoKid !== undefined && allKids().includes(demoKid); },
    demoPrivateKeyPem,
    get lastSync() { return members[0].lastSync as SyncReport; },
    close: () => new Promise<void>((resolveClose) => {
      if (timer) clearInterval(timer);
      server.closeAllConnections?.();
      server.close(() => resolveClose());
    }),
  };
}

/**
 * The issuers of this run, checked before anything is read or listens: with `issuers`, each must
 * be given once, have a key source, and serve its documents at its own paths.
 */
function plannedIssuers(options: LocalModeOptions): { issuer?: string; keyFiles?: readonly string[]; jwksUrl?: string }[] {
  if (options.issuers === undefined || options.issuers.length === 0) {
    return [{ issuer: options.issuer, keyFiles: options.keyFiles, jwksUrl: options.jwksUrl }];
  }
  if (options.issuer !== undefined || (options.keyFiles ?? []).length > 0 || options.jwksUrl !== undefined) {
    throw new LocalModeSetupError('give either issuers (each with its keys) or one issuer with keyFiles/jwksUrl, not both');
  }
  const seenPaths = new Map<string, string>();
  for (const entry of options.issuers) {
    if (options.issuers.filter((other) => other.issuer === entry.issuer).length > 1) throw new LocalModeSetupError(`--issuer ${entry.issuer} is given twice`);
    const noKeys = (entry.keyFiles ?? []).length === 0 && !entry.jwksUrl;
    if (noKeys && options.issuers.length > 1) {
      throw new LocalModeSetupError(`--issuer ${entry.issuer} has no keys: give --key-file ${entry.issuer}=PATH or --jwks-url ${entry.issuer}=URL (the demo key serves only a single issuer)`);
    }
    const discoveryKey = documentPaths(entry.issuer).discoveryKey;
    const other = seenPaths.get(discoveryKey);
    if (other !== undefined) throw new LocalModeSetupError(`--issuer ${entry.issuer} and --issuer ${other} would serve their documents at the same path /${discoveryKey}: give them different paths`);
    seenPaths.set(discoveryKey, entry.issuer);
  }
  return options.issuers.map((entry) => ({ ...entry }));
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
 * lists, which the user wrote, and the record of which issuer owns each, stay.
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

async function keySources(entry: { keyFiles?: readonly string[]; jwksUrl?: string }, options: LocalModeOptions, stateDir: string, usesDemoKey: boolean): Promise<KeySource[]> {
  const files = usesDemoKey ? [join(stateDir, DEMO_KEY_FILE)] : [...(entry.keyFiles ?? [])];
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
  if (entry.jwksUrl) {
    const caFile = options.caFile;
    const caPem = caFile
      ? await readFile(caFile, 'utf8').catch((err: Error) => { throw new LocalModeSetupError(`--ca-file ${caFile} cannot be read: ${err.message}`); })
      : undefined;
    const tokenFile = options.tokenFile;
    sources.push(clusterJwksSource({
      url: entry.jwksUrl,
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

/** The `local` command's key flags as given: `--issuer`, `--key-file` and `--jwks-url`, each repeatable. */
export interface LocalKeyFlags {
  readonly issuers: readonly string[];
  readonly keyFiles: readonly string[];
  readonly jwksUrls: readonly string[];
}

const ISSUER_URL = /^https?:\/\//i;

/**
 * Binds key files and JWKS URLs to issuers. The rule, which cannot misread a file path:
 * - an issuer is an http(s) URL with no `=` in it (kube issuers have no query);
 * - a `--key-file` value that starts with `http://` or `https://` is `ISSUER=PATH`, split at its
 *   first `=`; any other value is a file path, `=` and all (a file path never starts with `http://`);
 * - a `--jwks-url` value is `ISSUER=URL` when the text before its first `=` is an http(s) URL with
 *   no `?` or `#` and the text after it starts with `http://` or `https://`; otherwise it is a
 *   plain JWKS URL (whose query may hold `=`).
 * A plain value belongs to the only issuer; with several issuers it is a usage error.
 *
 * @throws LocalModeSetupError naming the flag, the value and the fix
 */
export function bindLocalIssuers(flags: LocalKeyFlags): Pick<LocalModeOptions, 'issuer' | 'keyFiles' | 'jwksUrl' | 'issuers'> {
  const listed = flags.issuers;
  const twice = listed.find((issuer, index) => listed.indexOf(issuer) !== index);
  if (twice !== undefined) throw new LocalModeSetupError(`--issuer ${twice} is given twice`);
  const byIssuer = new Map<string, { keyFiles: string[]; jwksUrls: string[] }>(listed.map((issuer) => [issuer, { keyFiles: [], jwksUrls: [] }]));
  const plain = { keyFiles: [] as string[], jwksUrls: [] as string[] };
  let bound = false;
  const bind = (flag: string, value: string, issuer: string, target: string, kind: 'keyFiles' | 'jwksUrls') => {
    const slot = byIssuer.get(issuer);
    if (slot === undefined) {
      throw new LocalModeSetupError(`--${flag} ${value} binds to issuer ${issuer}, which is not given with --issuer (${listed.length === 0 ? 'no --issuer is given' : `given: ${listed.join(', ')}`}): add --issuer ${issuer}, or spell the issuer exactly as given`);
    }
    slot[kind].push(target);
    bound = true;
  };
  for (const value of flags.keyFiles) {
    if (!ISSUER_URL.test(value)) {
      plain.keyFiles.push(value);
      continue;
    }
    const at = value.indexOf('=');
    if (at < 0 || at === value.length - 1) {
      throw new LocalModeSetupError(`--key-file ${value} starts with an issuer URL but names no file: write --key-file ISSUER=PATH (an issuer never holds "=")`);
    }
    bind('key-file', value, value.slice(0, at), value.slice(at + 1), 'keyFiles');
  }
  for (const value of flags.jwksUrls) {
    const at = value.indexOf('=');
    const left = at < 0 ? '' : value.slice(0, at);
    const right = at < 0 ? '' : value.slice(at + 1);
    if (ISSUER_URL.test(left) && !/[?#]/.test(left) && ISSUER_URL.test(right)) bind('jwks-url', value, left, right, 'jwksUrls');
    else plain.jwksUrls.push(value);
  }
  const firstPlain = plain.keyFiles[0] !== undefined ? `--key-file ${plain.keyFiles[0]}` : plain.jwksUrls[0] !== undefined ? `--jwks-url ${plain.jwksUrls[0]}` : undefined;
  if (firstPlain !== undefined && listed.length > 1) {
    throw new LocalModeSetupError(`${firstPlain} names no issuer, and ${listed.length} issuers are given: bind it to one, as --key-file ISSUER=PATH or --jwks-url ISSUER=URL`);
  }
  if (!bound && listed.length <= 1) {
    if (plain.jwksUrls.length > 1) throw new LocalModeSetupError('--jwks-url is given more than once: give one per issuer (--jwks-url ISSUER=URL)');
    return { issuer: listed[0], keyFiles: plain.keyFiles, jwksUrl: plain.jwksUrls[0] };
  }
  if (listed.length === 1) {
    byIssuer.get(listed[0])!.keyFiles.push(...plain.keyFiles);
    byIssuer.get(listed[0])!.jwksUrls.push(...plain.jwksUrls);
  }
  return {
    issuers: [...byIssuer.entries()].map(([issuer, slot]) => {
      if (slot.jwksUrls.length > 1) throw new LocalModeSetupError(`--jwks-url is given ${slot.jwksUrls.length} times for issuer ${issuer}: give one`);
      return { issuer, keyFiles: slot.keyFiles, ...(slot.jwksUrls[0] !== undefined ? { jwksUrl: slot.jwksUrls[0] } : {}) };
    }),
  };
}
