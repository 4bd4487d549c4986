/**
 * A recording, fault-injecting HTTP proxy on 127.0.0.1 in front of moto: the handlers' and the
 * pod's `AWS_ENDPOINT_URL` point here. Every request is recorded with the access key that signed
 * it (so each call can be attributed to a role and checked against its IAM policy); rules can
 * answer an error, cut the connection, or hold a request until the test releases it.
 *
 * Recorded bodies stay in this process's memory (tests read them, for example the web identity
 * token STS received); nothing here prints them.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy received. */
export interface ProxiedCall {
  /** Order of arrival, from 1. */
  readonly seq: number;
  /** When the request had been read, epoch milliseconds with sub-millisecond precision. */
  readonly atMs: number;
  readonly method: string;
  /** Path and query string as sent. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** Access key id of the SigV4 signature (absent for unsigned calls such as AssumeRoleWithWebIdentity). */
  readonly accessKeyId?: string;
  /** Service of the SigV4 credential scope (`s3`, `sts`, `cloudfront`, ...). */
  readonly signedService?: string;
  /** Status moto answered, or the injected status; absent when the connection was cut. */
  status?: number;
  /** The fault rule that handled the call instead of moto. */
  fault?: string;
  /** Response body when it was an STS answer (the access keys it hands out identify later callers). */
  stsResponse?: string;
}

/** What a fault rule does to a matching call. */
export type FaultAction =
  | { readonly kind: 'status'; readonly status: number; readonly code: string; readonly message?: string }
  | { readonly kind: 'reset' }
  | { readonly kind: 'hold'; readonly until: Promise<void> };

/** A fault rule: calls it matches get its action (holds are forwarded once released). */
export interface FaultRule {
  readonly name: string;
  matches(call: ProxiedCall): boolean;
  readonly action: FaultAction;
}

/** A running proxy. */
export interface RecordingProxy {
  /** `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  /** Every call so far, oldest first. */
  readonly calls: readonly ProxiedCall[];
  /** Adds a rule in front of the others; returns a function removing it. */
  addFault(rule: FaultRule): () => void;
  clearFaults(): void;
  /** Seq of the newest call (0 before any), to slice `calls` per step. */
  lastSeq(): number;
  close(): Promise<void>;
}

const SIGV4_CREDENTIAL = /Credential=([A-Z0-9]+)\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/;

/** Starts a proxy forwarding to `target` (moto's endpoint). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const calls: ProxiedCall[] = [];
  let rules: FaultRule[] = [];
  let seq = 0;

  const forward = (call: ProxiedCall, res: http.ServerResponse): void => {
    const headers = { ...call.headers, host: upstream.host };
    const request = http.request(
      { host: upstream.hostname, port: upstream.port, method: call.method, path: call.url, headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          call.status = answer.statusCode;
          if (call.signedService === 'sts' || /Action=AssumeRole/.test(call.body.toString('utf8', 0, 200))) call.stsResponse = body.toString('utf8');
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(body);
        });
      },
    );
    request.on('error', (err) => {
      call.fault = `upstream error: ${err.message}`;
      res.socket?.destroy();
    });
    request.end(call.body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const credential = SIGV4_CREDENTIAL.exec(String(req.headers.authorization ?? ''));
      seq += 1;
      const call: ProxiedCall = {
        seq,
        atMs: performance.timeOrigin + performance.now(),
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        ...(credential ? { accessKeyId: credential[1], signedService: credential[2] } : {}),
      };
      calls.push(call);
      const rule = rules.find((candidate) => candidate.matches(call));
      if (!rule) return forward(call, res);
      call.fault = rule.name;
      const action = rule.action;
      if (action.kind === 'reset') {
        req.socket.destroy();
      } else if (action.kind === 'status') {
        call.status = action.status;
        res.writeHead(action.status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>${action.message ?? 'injected by the rehearsal proxy'}</Message></Error>`);
      } else {
        void action.until.then(() => forward(call, res));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    addFault(rule) {
      rules = [rule, ...rules];
      return () => { rules = rules.filter((candidate) => candidate !== rule); };
    },
    clearFaults() {
      rules = [];
    },
    lastSeq: () => seq,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The object key of a path-style S3 call (`/bucket/key`), URL-decoded; `undefined` for bucket-level calls. */
export function s3ObjectOf(call: ProxiedCall): { bucket: string; key?: string } | undefined {
  if (call.signedService !== 's3') return undefined;
  const pathname = call.url.split('?')[0];
  const [, bucket, ...rest] = pathname.split('/');
  const key = rest.join('/');
  return { bucket: decodeURIComponent(bucket), ...(key ? { key: decodeURIComponent(key) } : {}) };
}

/** Matches S3 calls of one method on one object key (any bucket). */
export function s3Call(method: string, key: string): (call: ProxiedCall) => boolean {
  return (call) => call.method === method && s3ObjectOf(call)?.key === key;
}

/**
 * A rule that trips on the first call matching `trigger` and from then on cuts every
 * connection: the store going away at that exact point of a run.
 */
export function cutFrom(name: string, trigger: (call: ProxiedCall) => boolean): FaultRule {
  let tripped = false;
  return {
    name,
    matches(call) {
      if (!tripped && trigger(call)) tripped = true;
      return tripped;
    },
    action: { kind: 'reset' },
  };
}
