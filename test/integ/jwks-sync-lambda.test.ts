/**
 * The sync Lambda handler in-process on moto: environment read once, an EventBridge scheduled
 * event and an S3 put event each run a sync, and every run writes one log line whose EMF
 * metrics carry the names the stack's alarms watch.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SYNC_METRICS } from '../../core/metrics';
import { buildJwks, serializeJwks } from '../../core/documents';
import { jwkFromPublicKey } from '../../core/keys';
import { S3ObjectStore } from '../../runtime/s3-object-store';
import type { SyncReport } from '../../runtime/sync-runner';
import { Moto, startMoto } from '../support/moto';

const ISSUER = 'https://oidc.example.com';
let moto: Moto;
let handler: (event: unknown) => Promise<SyncReport>;
let privateStore: S3ObjectStore;
let documents: S3ObjectStore;
const configKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const uploadedKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

function captureStdout<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk).trim());
    return true;
  });
  return run().then((result) => ({ result, lines })).finally(() => spy.mockRestore());
}

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBuckets('docs-bucket', 'private-bucket');
  documents = new S3ObjectStore(moto.s3(), 'docs-bucket');
  privateStore = new S3ObjectStore(moto.s3(), 'private-bucket');
  Object.assign(process.env, moto.env, {
    ISSUER_URL: ISSUER,
    DOCUMENTS_BUCKET: 'docs-bucket',
    PRIVATE_BUCKET: 'private-bucket',
    CONFIG_JWKS: serializeJwks(buildJwks([jwkFromPublicKey(configKey.publicKey)])),
    METRICS_NAMESPACE: 'KubeOidc/test',
  });
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda/jwks-sync/index').handler;
  });
});
afterAll(async () => {
  await moto?.stop();
});

it('publishes on a scheduled event and reports the run with the alarmed metric names', async () => {
  const scheduled = { version: '0', id: 'x', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: '2027-01-01T00:00:00Z', region: 'us-east-1', resources: [], detail: {} };
  const { result, lines } = await captureStdout(() => handler(scheduled));
  expect(result.outcome).toBe('published');
  expect(JSON.parse((await documents.get('openid/v1/jwks'))!.body).keys[0].kid).toBe(jwkFromPublicKey(configKey.publicKey).kid);
  const line = JSON.parse(lines.find((l) => l.includes('jwks sync run'))!);
  expect(line.trigger).toBe('schedule');
  expect(line._aws.CloudWatchMetrics[0].Namespace).toBe('KubeOidc/test');
  expect(line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort()).toEqual(Object.values(SYNC_METRICS).sort());
  expect(line[SYNC_METRICS.outcome]).toBe(1);
  expect(line[SYNC_METRICS.newKids]).toBe(1);
});

it('adds an uploaded key when invoked by the S3 put event', async () => {
  await privateStore.put('keys/new.pub', uploadedKey.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const put = { Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'private-bucket' }, object: { key: 'keys/new.pub' } } }] };
  const { result, lines } = await captureStdout(() => handler(put));
  expect(result.plan?.addedKids).toEqual([jwkFromPublicKey(uploadedKey.publicKey).kid]);
  const line = JSON.parse(lines.find((l) => l.includes('jwks sync run'))!);
  expect(line.trigger).toBe('upload');
  expect(line[SYNC_METRICS.publishedKeyCount]).toBe(2);
});

it('reports a failed run with outcome 0 when the deny list is unreadable, and writes nothing', async () => {
  const before = await documents.get('openid/v1/jwks');
  await privateStore.put('control/deny-list.json', '{not json');
  try {
    const { result, lines } = await captureStdout(() => handler({}));
    expect(result.outcome).toBe('failed');
    expect(result.failureReason).toContain('deny list control/deny-list.json cannot be read');
    expect(JSON.parse(lines.find((l) => l.includes('jwks sync run'))!)[SYNC_METRICS.outcome]).toBe(0);
    expect(await documents.get('openid/v1/jwks')).toEqual(before);
  } finally {
    await privateStore.delete('control/deny-list.json');
  }
});

it('with an upload-only configuration (no config keys) reads no config source and reports no problem for it', async () => {
  const previous = process.env.CONFIG_JWKS;
  // What the stack passes when the cluster config lists no key: an empty key set.
  process.env.CONFIG_JWKS = '{"keys":[]}';
  let uploadOnly!: (event: unknown) => Promise<SyncReport>;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    uploadOnly = require('../../lambda/jwks-sync/index').handler;
  });
  try {
    const { result, lines } = await captureStdout(() => uploadOnly({}));
    expect(result.outcome).not.toBe('failed');
    expect(result.sourcesRead).toEqual(['upload']);
    expect(result.plan?.problems).toEqual([]);
    const line = JSON.parse(lines.find((l) => l.includes('jwks sync run'))!);
    expect(JSON.stringify(line.problems)).not.toContain('cluster configuration');
    expect(line[SYNC_METRICS.failedSources]).toBe(0);
  } finally {
    process.env.CONFIG_JWKS = previous;
  }
});
