/**
 * A single signed S3 GET over `node:https`, for the verifier Lambda: the AWS SDK's S3 client
 * bundles to about 580 KB and costs about 170 ms to load, which a cold start would pay to read
 * two small objects. Signing is SigV4 by `runtime/sigv4.ts`.
 */
// Named imports: a namespace import makes the bundle copy every export of both modules at load.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { encodeS3Key, signRequestV4, type AwsCredentials } from './sigv4';

export type { AwsCredentials } from './sigv4';

/** Where and how to read. */
export interface S3GetSettings {
  readonly region: string;
  readonly credentials: AwsCredentials;
  /** A custom endpoint such as moto (`http://127.0.0.1:PORT`): path-style addressing. */
  readonly endpoint?: string;
  /** @default 2000 */
  readonly timeoutMs?: number;
  /** @default 1 MiB */
  readonly maxBytes?: number;
}

/** Reads one object; `undefined` when it does not exist; rejects on any other failure. */
export async function s3GetObjectText(bucket: string, key: string, settings: S3GetSettings): Promise<string | undefined> {
  const encodedKey = encodeS3Key(key);
  const base = settings.endpoint ? new URL(settings.endpoint) : undefined;
  const request = base
    ? { host: base.host, path: `/${bucket}/${encodedKey}`, protocol: base.protocol }
    : { host: `${bucket}.s3.${settings.region}.amazonaws.com`, path: `/${encodedKey}`, protocol: 'https:' };
  const headers = signRequestV4({ service: 's3', region: settings.region, method: 'GET', host: request.host, path: request.path }, settings.credentials, new Date());
  const send = request.protocol === 'http:' ? httpRequest : httpsRequest;
  const timeoutMs = settings.timeoutMs ?? 2000;
  const maxBytes = settings.maxBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = send(
      { host: base ? base.hostname : request.host, port: base?.port || undefined, path: request.path, method: 'GET', headers, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) req.destroy(new Error(`s3://${bucket}/${key} is larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const errorCode = /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
          if (res.statusCode === 200) resolve(body);
          // Only a missing key means "no object"; a missing bucket is a deployment fault.
          else if (res.statusCode === 404 && errorCode === 'NoSuchKey') resolve(undefined);
          else reject(new Error(`s3://${bucket}/${key}: HTTP ${res.statusCode} ${errorCode ?? ''}`.trim()));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`s3://${bucket}/${key}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
