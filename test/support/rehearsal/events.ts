/**
 * Lambda events exactly as AWS delivers them: an EventBridge scheduled event, an S3 event
 * notification record, and API Gateway HTTP API (payload format 2.0) requests.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, EventBridgeEvent, S3Event } from 'aws-lambda';

/** The event an EventBridge schedule rule sends its target. */
export function scheduledEvent(ruleArn: string, region: string, accountId: string, at = new Date()): EventBridgeEvent<'Scheduled Event', Record<string, never>> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: accountId,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [ruleArn],
    detail: {},
  };
}

/** What S3 reports about the object in an event record. */
export interface S3ObjectFacts {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly eTag: string;
  readonly versionId?: string;
}

/** An `ObjectCreated:Put` notification for one object (the key URL-encoded, as S3 sends it). */
export function s3PutEvent(object: S3ObjectFacts, region: string, configurationId: string, at = new Date()): S3Event {
  return {
    Records: [{
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: region,
      eventTime: at.toISOString(),
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:AROAEXAMPLEKEYPUBLISHER:operator' },
      requestParameters: { sourceIPAddress: '198.51.100.7' },
      responseElements: { 'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(), 'x-amz-id-2': randomBytes(32).toString('base64') },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId,
        bucket: { name: object.bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${object.bucket}` },
        object: {
          key: encodeURIComponent(object.key).replace(/%2F/g, '/').replace(/%20/g, '+'),
          size: object.size,
          eTag: object.eTag.replace(/"/g, ''),
          ...(object.versionId ? { versionId: object.versionId } : {}),
          sequencer: Date.now().toString(16).toUpperCase().padStart(16, '0'),
        },
      },
    }],
  };
}

/** One HTTP request to the API. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The payload-2.0 event API Gateway sends for a request matched by `routeKey`. */
export function httpApiEvent(routeKey: string, request: HttpRequest, apiId = 'a1b2c3d4e5', accountId = '123456789012'): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {
    accept: '*/*',
    host: `${apiId}.execute-api.us-east-1.amazonaws.com`,
    'user-agent': 'kube-oidc-rehearsal',
    'x-amzn-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`,
    'x-forwarded-for': '198.51.100.20',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)), 'content-type': 'application/json' } : {}),
    ...Object.fromEntries(Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
  };
  const query = request.query ?? {};
  const pathParameters = routeKey.endsWith('{proxy+}') ? { proxy: request.path.replace(/^\/[^/]+\/?/, '') } : undefined;
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: request.path,
    rawQueryString: new URLSearchParams(query).toString(),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: { ...query } } : {}),
    ...(pathParameters ? { pathParameters } : {}),
    requestContext: {
      accountId,
      apiId,
      domainName: headers.host,
      domainPrefix: apiId,
      http: { method: request.method, path: request.path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.20', userAgent: 'kube-oidc-rehearsal' },
      requestId: randomBytes(8).toString('base64url'),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(request.body !== undefined ? { body: request.body } : {}),
    isBase64Encoded: false,
  };
}
