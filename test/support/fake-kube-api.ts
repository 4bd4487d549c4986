/**
 * A small local stand-in for kube-apiserver that speaks the list/watch protocol for
 * ServiceAccounts: `GET /api/v1/serviceaccounts` answers a ServiceAccountList with a
 * resourceVersion, and the same path with `?watch=true` streams one JSON event per line
 * (`{"type":"ADDED","object":{...}}`) until the test closes it. Plain http on 127.0.0.1.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A ServiceAccount as the API serves it. */
export interface FakeServiceAccount {
  readonly name: string;
  readonly namespace: string;
  readonly annotations?: Record<string, string>;
}

/** The running fake API server. */
export class FakeKubeApi {
  /** Requests seen, as "METHOD path?query". */
  readonly requests: string[] = [];
  /** Bearer tokens seen on requests. */
  readonly authorizations: string[] = [];
  /** When set, LIST answers this status instead of the list. */
  listFailure: number | undefined;
  private readonly accounts = new Map<string, FakeServiceAccount>();
  private readonly watchers = new Set<ServerResponse>();
  private resourceVersion = 100;
  private kubeconfigDir: string | undefined;

  private constructor(private readonly server: Server) {}

  /** Starts the server on a free port of 127.0.0.1. */
  static async start(initial: readonly FakeServiceAccount[] = []): Promise<FakeKubeApi> {
    let api: FakeKubeApi | undefined;
    const server = createServer((req, res) => api?.handle(req, res));
    api = new FakeKubeApi(server);
    for (const account of initial) api.accounts.set(`${account.namespace}/${account.name}`, account);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  /** The server URL. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Writes a kubeconfig pointing at this server (token `test-token`) and returns its path. */
  kubeconfig(): string {
    this.kubeconfigDir ??= mkdtempSync(join(tmpdir(), 'kube-oidc-fake-api-'));
    const path = join(this.kubeconfigDir, 'kubeconfig.yaml');
    writeFileSync(path, [
      'apiVersion: v1',
      'kind: Config',
      // client-node refuses plain http unless TLS verification is off; this server is loopback-only test scaffolding.
      'clusters: [{name: fake, cluster: {server: "' + this.url + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: tester, user: {token: test-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: tester}}]',
      'current-context: fake',
      '',
    ].join('\n'));
    return path;
  }

  /** Number of open watch streams. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** Adds (or updates) an account and tells every watcher. */
  put(account: FakeServiceAccount): void {
    const key = `${account.namespace}/${account.name}`;
    const type = this.accounts.has(key) ? 'MODIFIED' : 'ADDED';
    this.accounts.set(key, account);
    this.broadcast(type, account);
  }

  /** Deletes an account and tells every watcher. */
  remove(namespace: string, name: string): void {
    const account = this.accounts.get(`${namespace}/${name}`);
    if (!account) return;
    this.accounts.delete(`${namespace}/${name}`);
    this.broadcast('DELETED', account);
  }

  /** Ends every open watch, as kube-apiserver does when a watch times out. */
  closeWatches(): void {
    for (const watcher of this.watchers) watcher.end();
    this.watchers.clear();
  }

  /** Stops the server and removes the kubeconfig. */
  async stop(): Promise<void> {
    for (const watcher of this.watchers) watcher.destroy();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.kubeconfigDir) rmSync(this.kubeconfigDir, { recursive: true, force: true });
  }

  private object(account: FakeServiceAccount, resourceVersion: number): object {
    return {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: account.name, namespace: account.namespace, resourceVersion: String(resourceVersion), uid: `uid-${account.namespace}-${account.name}`, ...(account.annotations ? { annotations: account.annotations } : {}) },
    };
  }

  private broadcast(type: string, account: FakeServiceAccount): void {
    this.resourceVersion += 1;
    const line = `${JSON.stringify({ type, object: this.object(account, this.resourceVersion) })}\n`;
    for (const watcher of this.watchers) watcher.write(line);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    this.authorizations.push(req.headers.authorization ?? '');
    const url = new URL(req.url ?? '/', this.url);
    if (req.method !== 'GET' || url.pathname !== '/api/v1/serviceaccounts') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 404 }));
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    if (this.listFailure !== undefined) {
      res.writeHead(this.listFailure, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', code: this.listFailure }));
      return;
    }
    const items = [...this.accounts.values()].map((account) => this.object(account, this.resourceVersion));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccountList', metadata: { resourceVersion: String(this.resourceVersion) }, items }));
  }
}

/** Polls `condition` every 20 ms, at most `attempts` times; fails with `what` when it never holds. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, attempts = 250): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
