/**
 * AWS Signature Version 4 for the one request the verifier Lambda signs: a GET without a body.
 *
 * Written here rather than taken from the `aws4` package because loading `aws4` cost about 2 ms of
 * the verifier's cold module load, about a tenth of it (BENCHMARKS.md), on the path every caller
 * waits on after idle time. The tests hold this signer to AWS's published example and to `aws4`
 * itself on generated requests.
 *
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { createHash, createHmac } from 'node:crypto';

/** AWS credentials as Lambda provides them in its environment. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** A bodiless request to sign. */
export interface SigV4Request {
  readonly method: string;
  /** The Host header as sent, with the port when it is not the scheme's default. */
  readonly host: string;
  /** The path as sent: already URI-encoded (see {@link encodeS3Key}). */
  readonly path: string;
  readonly region: string;
  readonly service: string;
  /** Further headers to send and sign. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** SHA-256 of the empty body, which S3 also wants in `x-amz-content-sha256`. */
const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Encodes an S3 object key for a request path the way SigV4 canonicalizes it for S3: each
 * `/`-separated segment RFC 3986-encoded (so `!'()*` too), the slashes kept, nothing normalized.
 */
export function encodeS3Key(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/**
 * Returns the headers to send: the caller's, `host`, `x-amz-date`, `x-amz-content-sha256`,
 * `x-amz-security-token` with temporary credentials, and `authorization`.
 */
export function signRequestV4(request: SigV4Request, credentials: AwsCredentials, now: Date): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  headers.host = request.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = EMPTY_BODY_SHA256;
  if (credentials.sessionToken !== undefined && credentials.sessionToken !== '') headers['x-amz-security-token'] = credentials.sessionToken;

  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalHeaders = names.map((name) => `${name}:${headers[name].trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [request.method, request.path, '', canonicalHeaders, signedHeaders, EMPTY_BODY_SHA256].join('\n');
  const scope = `${day}/${request.region}/${request.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');

  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [request.region, request.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
