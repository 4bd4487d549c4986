/**
 * The webhook's HTTPS adapter: `POST /mutate` hands the raw body to the pure core
 * (core/webhook/review.ts) with the ServiceAccount from the cache, and writes its answer.
 * Around it: certificate files reloaded in place when cert-manager rotates them (new handshakes
 * get the new pair, open connections keep theirs), `/healthz` and `/readyz`, Prometheus metrics
 * on a separate plain-http port, bounded bodies and timeouts, graceful shutdown, and one JSON log
 * line per review that never carries the pod spec or a token.
 */
import { readFileSync, watch, FSWatcher } from 'node:fs';
import { createServer as createHttpServer, IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RandomSource } from '../core/webhook/mutate';
import type { WebhookOptions } from '../core/webhook/options';
import { answerReview, parseAdmissionReview, podSubject, ServiceAccountLookup } from '../core/webhook/review';

/** Where the server gets ServiceAccounts (the watch cache, or a stub in tests). */
export interface ServiceAccountSource {
  lookup(namespace: string, name: string): Promise<ServiceAccountLookup>;
  synced(): boolean;
  size(): number;
}

/** Settings of {@link startWebhookServer}. */
export interface WebhookServerOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** HTTPS port; 0 picks a free one. */
  readonly port: number;
  /** Metrics port (plain http); 0 picks a free one. */
  readonly metricsPort: number;
  readonly webhook: WebhookOptions;
  readonly serviceAccounts: ServiceAccountSource;
  readonly random: RandomSource;
  /** Receives one object per log line. */
  readonly log: (entry: Record<string, unknown>) => void;
  /** Largest request body accepted. @default 3 MiB (a pod is at most 1.5 MiB in etcd; the review carries it once) */
  readonly maxBodyBytes?: number;
  /** Time allowed to receive a whole request. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** How often the certificate files are re-read in case a change notification was missed. @default 10000 */
  readonly certificatePollMs?: number;
  /** Time between turning not-ready and closing the listener, so endpoints drop the pod first. @default 5000 */
  readonly shutdownDelayMs?: number;
  /** Longest wait for in-flight reviews at shutdown. @default 15000 */
  readonly shutdownTimeoutMs?: number;
}

/** A running server. */
export interface RunningWebhookServer {
  readonly port: number;
  readonly metricsPort: number;
  /** Re-reads the certificate files now; true when a new pair was installed. */
  reloadCertificate(): boolean;
  /** Not ready, wait the delay, stop accepting, finish in-flight reviews, close. */
  shutdown(): Promise<void>;
}

const MIB = 1024 * 1024;

/** Starts the HTTPS and metrics servers; throws when the certificate files are unusable at start-up. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningWebhookServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    reviews: new Counter({ name: 'kube_oidc_webhook_reviews_total', help: 'Admission reviews answered, by outcome', labelNames: ['outcome'], registers: [registry] }),
    duration: new Histogram({ name: 'kube_oidc_webhook_review_duration_seconds', help: 'Time to answer a review, ServiceAccount lookup included', labelNames: ['outcome'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    injections: new Counter({ name: 'kube_oidc_webhook_injections_total', help: 'Pods given an identity, by kind (aws, service-token)', labelNames: ['kind'], registers: [registry] }),
    lookupFailures: new Counter({ name: 'kube_oidc_webhook_service_account_lookup_failures_total', help: 'Pods admitted unchanged because the ServiceAccount cache could not answer', registers: [registry] }),
    warnings: new Counter({ name: 'kube_oidc_webhook_annotation_warnings_total', help: 'Annotation problems reported back to the pod creator', registers: [registry] }),
    badRequests: new Counter({ name: 'kube_oidc_webhook_bad_requests_total', help: 'Requests refused before review, by HTTP status', labelNames: ['status'], registers: [registry] }),
    reloads: new Counter({ name: 'kube_oidc_webhook_certificate_reloads_total', help: 'Certificate reload attempts, by result', labelNames: ['result'], registers: [registry] }),
    notAfter: new Gauge({ name: 'kube_oidc_webhook_certificate_not_after_seconds', help: 'Expiry of the serving certificate (Unix time)', registers: [registry] }),
  };
  new Gauge({ name: 'kube_oidc_webhook_service_accounts', help: 'ServiceAccounts held by the watch cache', registers: [registry], collect() { this.set(options.serviceAccounts.size()); } });
  new Gauge({ name: 'kube_oidc_webhook_cache_synced', help: '1 once the ServiceAccount cache has listed', registers: [registry], collect() { this.set(options.serviceAccounts.synced() ? 1 : 0); } });

  // Start-up fails loudly on an unusable pair; later reloads keep the old pair instead.
  let current = readPair(options.certFile, options.keyFile);
  metrics.notAfter.set(current.notAfter);
  let shuttingDown = false;
  const maxBodyBytes = options.maxBodyBytes ?? 3 * MIB;

  const server: HttpsServer = createHttpsServer({ cert: current.cert, key: current.key, minVersion: 'TLSv1.2' }, (req, res) => {
    route(req, res).catch((err: unknown) => {
      // A bug, not bad input: say so once, keep serving; kube-apiserver admits the pod (failurePolicy Ignore).
      metrics.badRequests.inc({ status: '500' });
      options.log({ time: new Date().toISOString(), level: 'error', msg: 'internal error', reason: err instanceof Error ? err.message : String(err) });
      sendJson(res, 500, { error: 'internal error' });
    });
  });
  server.requestTimeout = options.requestTimeoutMs ?? 10_000;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  // kube-apiserver keeps connections to webhooks open; outlive its idle timeout on our side.
  server.keepAliveTimeout = 75_000;

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return sendText(res, 200, 'ok');
    if (req.method === 'GET' && path === '/readyz') {
      const reasons = [shuttingDown ? 'shutting down' : '', options.serviceAccounts.synced() ? '' : 'ServiceAccount cache not synced'].filter(Boolean);
      return reasons.length ? sendJson(res, 503, { ready: false, reasons }) : sendText(res, 200, 'ok');
    }
    if (path !== '/mutate') return refuse(res, 404, `no route ${path}`);
    if (req.method !== 'POST') return refuse(res, 405, 'use POST');
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (contentType !== 'application/json') return refuse(res, 415, `content-type ${JSON.stringify(contentType)}, expected application/json`);
    const body = await readBody(req, maxBodyBytes);
    if (body === 'too-large') return refuse(res, 413, `body larger than ${maxBodyBytes} bytes`, true);
    if (body === 'aborted') return;
    const started = process.hrtime.bigint();
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) return refuse(res, 400, parsed.reason);
    const subject = podSubject(parsed.review);
    const lookup: ServiceAccountLookup = subject ? await options.serviceAccounts.lookup(subject.namespace, subject.serviceAccountName) : { status: 'not-found' };
    const { response, record } = answerReview(parsed.review, lookup, options.webhook, options.random);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.reviews.inc({ outcome: record.outcome });
    metrics.duration.observe({ outcome: record.outcome }, seconds);
    if (record.outcome === 'lookup-failed') metrics.lookupFailures.inc();
    if (record.roleArn) metrics.injections.inc({ kind: 'aws' });
    if (record.audiences.length > 0) metrics.injections.inc({ kind: 'service-token' });
    if (record.warnings.length > 0) metrics.warnings.inc(record.warnings.length);
    options.log({ time: new Date().toISOString(), level: record.outcome === 'lookup-failed' ? 'warn' : 'info', msg: 'review', ...record, durationMs: Math.round(seconds * 1e4) / 10 });
    sendJson(res, 200, response);
  };

  const refuse = (res: ServerResponse, status: number, reason: string, close = false): void => {
    metrics.badRequests.inc({ status: String(status) });
    options.log({ time: new Date().toISOString(), level: 'warn', msg: 'refused', status, reason });
    if (close) res.setHeader('connection', 'close');
    sendJson(res, status, { error: reason });
  };

  const reloadCertificate = (): boolean => {
    let next: CertificatePair;
    try {
      next = readPair(options.certFile, options.keyFile);
    } catch (err) {
      // Mid-rotation the two files can briefly disagree; the next event or poll retries.
      metrics.reloads.inc({ result: 'failure' });
      options.log({ time: new Date().toISOString(), level: 'warn', msg: 'certificate reload failed; keeping the current one', reason: (err as Error).message });
      return false;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return false;
    server.setSecureContext({ cert: next.cert, key: next.key });
    current = next;
    metrics.reloads.inc({ result: 'success' });
    metrics.notAfter.set(next.notAfter);
    options.log({ time: new Date().toISOString(), level: 'info', msg: 'certificate reloaded', notAfter: new Date(next.notAfter * 1000).toISOString(), fingerprint256: next.fingerprint256 });
    return true;
  };

  // cert-manager's secret volume swaps a `..data` symlink: watch the directories, and poll as a backstop.
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;
  for (const directory of new Set([dirname(options.certFile), dirname(options.keyFile)])) {
    try {
      const watcher = watch(directory, () => {
        clearTimeout(debounce);
        debounce = setTimeout(reloadCertificate, 100);
      });
      watcher.on('error', () => undefined);
      watchers.push(watcher);
    } catch {
      // Polling still covers it.
    }
  }
  const poll = setInterval(reloadCertificate, options.certificatePollMs ?? 10_000);
  poll.unref();

  const metricsServer: HttpServer = createHttpServer(async (req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      try {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      } catch (err) {
        sendJson(res, 500, { error: (err as Error).message });
      }
      return;
    }
    sendJson(res, 404, { error: 'only /metrics is served here' });
  });
  metricsServer.requestTimeout = 10_000;

  await listen(server, options.port, options.host ?? '0.0.0.0');
  await listen(metricsServer, options.metricsPort, options.host ?? '0.0.0.0');

  let shutdownPromise: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    metricsPort: (metricsServer.address() as AddressInfo).port,
    reloadCertificate,
    shutdown() {
      shutdownPromise ??= (async () => {
        shuttingDown = true;
        options.log({ time: new Date().toISOString(), level: 'info', msg: 'shutting down: not ready, draining' });
        await delay(options.shutdownDelayMs ?? 5000);
        clearInterval(poll);
        clearTimeout(debounce);
        for (const watcher of watchers) watcher.close();
        const closed = Promise.all([closeServer(server), closeServer(metricsServer)]);
        server.closeIdleConnections();
        metricsServer.closeIdleConnections();
        const forced = delay(options.shutdownTimeoutMs ?? 15_000).then(() => {
          server.closeAllConnections();
          metricsServer.closeAllConnections();
        });
        await Promise.race([closed, forced]);
        await closed;
        options.log({ time: new Date().toISOString(), level: 'info', msg: 'stopped' });
      })();
      return shutdownPromise;
    },
  };
}

/** A certificate and key that belong together, with facts for metrics and logs. */
interface CertificatePair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly notAfter: number;
  readonly fingerprint256: string;
}

function readPair(certFile: string, keyFile: string): CertificatePair {
  const cert = readFileSync(certFile);
  const key = readFileSync(keyFile);
  // Throws on a key that does not match the certificate ("key values mismatch").
  createSecureContext({ cert, key });
  const x509 = new X509Certificate(cert);
  return { cert, key, notAfter: Math.floor(new Date(x509.validTo).getTime() / 1000), fingerprint256: x509.fingerprint256 };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return 'too-large';
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
    req.on('error', () => {
      if (!done) {
        done = true;
        resolve('aborted');
      }
    });
    req.on('aborted', () => {
      if (!done) {
        done = true;
        resolve('aborted');
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

