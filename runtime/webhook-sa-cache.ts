/**
 * ServiceAccounts for the webhook, from the Kubernetes API through a watch-backed cache
 * (`@kubernetes/client-node` ListWatch: one LIST, then a WATCH from its resourceVersion, restarted
 * when the API server ends it). A lookup never waits on the API server: it answers from memory,
 * except for a short grace period when the account is missing, because a chart often creates the
 * ServiceAccount just before the pods that use it (upstream pkg/handler/handler.go
 * `--service-account-lookup-grace-period`, 100ms by default).
 *
 * When the cache cannot answer (never listed yet, or the watch broke and the account is unknown),
 * the lookup says `unavailable`: the webhook then admits the pod unchanged and counts it.
 */
import type { KubeConfig, KubernetesObject, V1ServiceAccount } from '@kubernetes/client-node';
import type { ServiceAccountLookup } from '../core/webhook/review';
import type { ServiceAccount } from '../core/webhook/types';

/** Where the cache gets its API server and credentials. */
export interface ServiceAccountCacheOptions {
  /** A kubeconfig file (out of cluster, tests); in-cluster configuration when absent. */
  readonly kubeconfigPath?: string;
  /** How long a lookup waits for a missing account to appear, in milliseconds. @default 100 */
  readonly lookupGraceMs?: number;
  /** First delay before re-listing after an error; doubles up to 30 s. @default 1000 */
  readonly retryBaseMs?: number;
  /** Told about connection changes and errors (for logs and metrics). */
  readonly onEvent?: (event: CacheEvent) => void;
}

/** What the cache reports about itself. */
export type CacheEvent =
  | { readonly type: 'synced'; readonly serviceAccounts: number }
  | { readonly type: 'error'; readonly message: string; readonly retryInMs: number };

/** A running cache. */
export interface ServiceAccountCache {
  /** Answers from memory, waiting at most the grace period for an account that is not there yet. */
  lookup(namespace: string, name: string): Promise<ServiceAccountLookup>;
  /** True once the first LIST has completed. */
  synced(): boolean;
  /** Number of accounts held. */
  size(): number;
  /** Stops the watch. */
  stop(): Promise<void>;
}

/** Starts listing and watching ServiceAccounts in every namespace; resolves once started (not necessarily synced). */
export async function startServiceAccountCache(options: ServiceAccountCacheOptions = {}): Promise<ServiceAccountCache> {
  // Loaded only by `webhook serve`, so other commands (and the Lambda bundles) never pay for it.
  const k8s = await import('@kubernetes/client-node');
  const config: KubeConfig = new k8s.KubeConfig();
  if (options.kubeconfigPath) config.loadFromFile(options.kubeconfigPath);
  else config.loadFromCluster();
  const api = config.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer<V1ServiceAccount>(config, '/api/v1/serviceaccounts', () => api.listServiceAccountForAllNamespaces());

  const graceMs = options.lookupGraceMs ?? 100;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const waiters = new Map<string, Set<() => void>>();
  let synced = false;
  let healthy = false;
  let stopped = false;
  let failures = 0;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const notify = (object: KubernetesObject): void => {
    const key = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    const pending = waiters.get(key);
    if (!pending) return;
    waiters.delete(key);
    for (const wake of pending) wake();
  };
  informer.on('add', notify);
  informer.on('update', notify);

  const run = async (): Promise<void> => {
    const thisAttempt = ++attempt;
    try {
      await informer.start();
    } catch (err) {
      failed(err);
      return;
    }
    // ListWatch reports LIST and WATCH failures through its error event and still resolves.
    if (thisAttempt !== attempt || stopped || !informerOk) return;
    synced = true;
    healthy = true;
    failures = 0;
    options.onEvent?.({ type: 'synced', serviceAccounts: informer.list().length });
  };
  let informerOk = true;
  const failed = (err: unknown): void => {
    healthy = false;
    informerOk = false;
    if (stopped) return;
    failures += 1;
    const retryInMs = Math.min(retryBaseMs * 2 ** (failures - 1), 30_000);
    options.onEvent?.({ type: 'error', message: describe(err), retryInMs });
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      informerOk = true;
      void run();
    }, retryInMs);
    retryTimer.unref();
  };
  informer.on('error', failed);
  void run();

  const answer = (namespace: string, name: string): ServiceAccountLookup | undefined => {
    const object = informer.get(name, namespace);
    if (object) return { status: 'found', serviceAccount: toServiceAccount(object) };
    if (!synced) return { status: 'unavailable', reason: 'the ServiceAccount cache has not completed its first list' };
    return undefined;
  };

  return {
    async lookup(namespace, name) {
      const first = answer(namespace, name);
      if (first) return first;
      if (graceMs > 0) {
        const key = `${namespace}/${name}`;
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            waiters.get(key)?.delete(wake);
            resolve();
          }, graceMs);
          const set = waiters.get(key) ?? new Set<() => void>();
          set.add(wake);
          waiters.set(key, set);
        });
        const second = answer(namespace, name);
        if (second) return second;
      }
      // Missing while the watch is broken may only mean we missed its creation.
      if (!healthy) return { status: 'unavailable', reason: `ServiceAccount ${namespace}/${name} is not cached and the watch is reconnecting` };
      return { status: 'not-found' };
    },
    synced: () => synced,
    size: () => informer.list().length,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await informer.stop();
    },
  };
}

function toServiceAccount(object: V1ServiceAccount): ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: object.metadata?.name ?? '', namespace: object.metadata?.namespace, annotations: { ...(object.metadata?.annotations ?? {}) } },
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown; statusCode?: unknown }).statusCode ?? (err as { code?: unknown }).code;
    return `watch failed${code !== undefined ? ` (${String(code)})` : ''}`;
  }
  return String(err);
}
