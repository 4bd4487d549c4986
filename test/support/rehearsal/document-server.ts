/**
 * Serves the issuer's documents on 127.0.0.1 the way the deployed CloudFront distribution would:
 * the origin bucket and path come from the distribution created in moto; an object is served only
 * when the documents bucket's policy, evaluated for `cloudfront.amazonaws.com` with the
 * distribution's ARN as `AWS:SourceArn` (what Origin Access Control signs as), allows it;
 * anything else is S3's 403 through CloudFront. Responses carry the object's stored
 * Content-Type and Cache-Control plus the headers of the template's response headers policy
 * (which moto cannot hold: this is its stub).
 *
 * Not emulated: CloudFront's cache (TTLs, invalidation completion), compression, TLS, HTTP/2.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFrontClient, GetDistributionConfigCommand, GetOriginAccessControlCommand } from '@aws-sdk/client-cloudfront';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Moto } from '../moto';
import type { Deployment } from './deploy';
import { evaluate } from './iam';
import type { Json } from './template';

/** A running document server. */
export interface DocumentServer {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** `https://<distribution domain>`: what the documents name. */
  readonly distributionOrigin: string;
  /** Requests served, oldest first. */
  readonly served: { readonly method: string; readonly path: string; readonly status: number }[];
  /**
   * A fetch for OIDC clients (openid-client's and jose's `customFetch`): requests to the
   * distribution's https origin are sent to this server; any other URL is refused.
   */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

const ACCESS_DENIED = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';

/** Starts the server for the stack's distribution. */
export async function startDocumentServer(deployment: Deployment, distributionLogicalId: string, clientConfig: Moto['clientConfig']): Promise<DocumentServer> {
  const cloudFront = new CloudFrontClient(clientConfig);
  const s3 = new S3Client(clientConfig);
  const distributionId = deployment.ref(distributionLogicalId);
  const { DistributionConfig: config } = await cloudFront.send(new GetDistributionConfigCommand({ Id: distributionId }));
  const behaviour = config!.DefaultCacheBehavior!;
  const origin = config!.Origins!.Items!.find((item) => item.Id === behaviour.TargetOriginId);
  if (!origin) throw new Error(`distribution ${distributionId}: no origin ${behaviour.TargetOriginId}`);
  const bucket = /^(.+)\.s3\.([a-z0-9-]+\.)?amazonaws\.com$/.exec(origin.DomainName ?? '')?.[1];
  if (!bucket) throw new Error(`distribution ${distributionId}: origin ${origin.DomainName} is not an S3 bucket`);
  // moto keeps no OriginAccessControlId on origins: take it from the template and check that
  // moto holds that OAC, signing every request.
  const templateOrigins = ((deployment.resolvedProperties(distributionLogicalId).DistributionConfig as Json).Origins ?? []) as Json[];
  const oacId = templateOrigins.find((item) => item.Id === origin.Id)?.OriginAccessControlId;
  if (typeof oacId !== 'string') throw new Error(`distribution ${distributionId}: the S3 origin has no Origin Access Control in the template`);
  const oac = await cloudFront.send(new GetOriginAccessControlCommand({ Id: oacId }));
  if (oac.OriginAccessControl?.OriginAccessControlConfig?.SigningBehavior !== 'always') throw new Error(`distribution ${distributionId}: OAC ${oacId} does not sign every request`);
  const originPath = (origin.OriginPath ?? '').replace(/^\//, '');
  const allowedMethods = behaviour.AllowedMethods?.Items ?? ['GET', 'HEAD'];
  const distributionArn = `arn:${deployment.pseudo.partition}:cloudfront::${deployment.pseudo.accountId}:distribution/${distributionId}`;
  const bucketPolicy = deployment.bucketPolicy(bucket);
  const securityHeaders = responseHeadersOf(deployment, behaviour.ResponseHeadersPolicyId);
  const domainName = String(deployment.resolver.resolve({ 'Fn::GetAtt': [distributionLogicalId, 'DomainName'] }));

  const readableByCloudFront = (key: string): boolean => bucketPolicy !== undefined && evaluate(
    { identity: [], resource: [bucketPolicy] },
    {
      principal: { type: 'Service', id: 'cloudfront.amazonaws.com' },
      action: 's3:GetObject',
      resource: `arn:aws:s3:::${bucket}/${key}`,
      context: { 'AWS:SourceArn': distributionArn, 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' },
    },
  ).decision === 'allow';

  const served: DocumentServer['served'] = [];
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const pathname = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const answer = (status: number, headers: Record<string, string>, body?: string) => {
      served.push({ method, path: pathname, status });
      const sent: Record<string, string> = { ...headers, ...securityHeaders.add };
      for (const name of securityHeaders.remove) delete sent[name];
      res.writeHead(status, sent);
      res.end(method === 'HEAD' ? undefined : body);
    };
    if (!allowedMethods.includes(method as 'GET')) return answer(403, { 'content-type': 'text/html' }, 'This distribution is not configured to allow the HTTP request method that was used for this request.');
    const key = `${originPath ? `${originPath}/` : ''}${pathname.replace(/^\//, '')}`;
    if (!readableByCloudFront(key)) return answer(403, { 'content-type': 'application/xml' }, ACCESS_DENIED);
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
      async (object) => {
        const body = (await object.Body?.transformToString('utf8')) ?? '';
        const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
        if (object.ContentType) headers['content-type'] = object.ContentType;
        if (object.CacheControl) headers['cache-control'] = object.CacheControl;
        if (object.ETag) headers.etag = object.ETag;
        if (object.LastModified) headers['last-modified'] = object.LastModified.toUTCString();
        answer(200, headers, body);
      },
      // Without s3:ListBucket, S3 answers a missing key with 403, and so does CloudFront.
      (err: unknown) => answer(err instanceof S3ServiceException && err.name === 'NoSuchKey' ? 403 : 502, { 'content-type': 'application/xml' }, ACCESS_DENIED),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const distributionOrigin = `https://${domainName}`;
  return {
    origin: local,
    distributionOrigin,
    served,
    fetch(url, init) {
      const target = new URL(url);
      if (target.origin !== distributionOrigin) return Promise.reject(new Error(`the rehearsal only reaches ${distributionOrigin}, not ${target.origin}`));
      return fetch(`${local}${target.pathname}${target.search}`, { ...init, redirect: 'manual' });
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The headers a response headers policy of the template adds (and removes), by the stub id moto holds. */
function responseHeadersOf(deployment: Deployment, policyId: string | undefined): { add: Record<string, string>; remove: string[] } {
  if (!policyId) return { add: {}, remove: [] };
  const logicalId = Object.entries(deployment.stack.resources)
    .find(([id, resource]) => resource.Type === 'AWS::CloudFront::ResponseHeadersPolicy' && deployment.ref(id) === policyId)?.[0];
  if (!logicalId) throw new Error(`response headers policy ${policyId} is not one of the template's`);
  const config = deployment.resolvedProperties(logicalId).ResponseHeadersPolicyConfig as Json;
  const add: Record<string, string> = {};
  const security = (config.SecurityHeadersConfig ?? {}) as Record<string, Json>;
  const supported = new Set(['StrictTransportSecurity', 'ContentTypeOptions', 'FrameOptions', 'ReferrerPolicy', 'ContentSecurityPolicy']);
  for (const name of Object.keys(security)) if (!supported.has(name)) throw new Error(`response headers policy: ${name} is not emulated by the rehearsal`);
  if (security.StrictTransportSecurity) {
    const hsts = security.StrictTransportSecurity;
    add['strict-transport-security'] = `max-age=${hsts.AccessControlMaxAgeSec}${hsts.IncludeSubdomains ? '; includeSubDomains' : ''}${hsts.Preload ? '; preload' : ''}`;
  }
  if (security.ContentTypeOptions) add['x-content-type-options'] = 'nosniff';
  if (security.FrameOptions) add['x-frame-options'] = String(security.FrameOptions.FrameOption);
  if (security.ReferrerPolicy) add['referrer-policy'] = String(security.ReferrerPolicy.ReferrerPolicy);
  if (security.ContentSecurityPolicy) add['content-security-policy'] = String(security.ContentSecurityPolicy.ContentSecurityPolicy);
  for (const item of ((config.CustomHeadersConfig as Json | undefined)?.Items ?? []) as Json[]) add[String(item.Header).toLowerCase()] = String(item.Value);
  if (config.CorsConfig) throw new Error('response headers policy: CORS is not emulated by the rehearsal');
  const remove = (((config.RemoveHeadersConfig as Json | undefined)?.Items ?? []) as Json[]).map((item) => String(item.Header).toLowerCase());
  return { add, remove };
}
