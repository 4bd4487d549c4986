/**
 * The sync runner against real S3 and CloudFront APIs (moto_server): what gets written, when
 * nothing is written, and that no fault can take a good issuer down.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { CloudFrontClient, CreateDistributionCommand, ListInvalidationsCommand, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { parseKeyMaterial } from '../../core/keys';
import { buildJwks, serializeJwks } from '../../core/documents';
import { parseRotationState } from '../../core/rotation';
import { cloudFrontInvalidator, snsNotifier } from '../../runtime/aws-notifications';
import { clusterJwksSource, configKeysSource, KeySource, uploadedKeysSource } from '../../runtime/key-sources';
import { S3ObjectStore } from '../../runtime/s3-object-store';
import { runSync, SyncDependencies, SyncSettings } from '../../runtime/sync-runner';
import { Moto, resetMoto, startMoto } from '../support/moto';

const ISSUER = 'https://oidc.example.com/cluster-a';
const JWKS_KEY = 'cluster-a/openid/v1/jwks';
const DISCOVERY_KEY = 'cluster-a/.well-known/openid-configuration';
const JWKS_ALIAS_KEY = 'cluster-a/.well-known/jwks.json';
const settings: SyncSettings = {
  issuer: ISSUER,
  stateKey: 'state/rotation.json',
  denyListKey: 'control/deny-list.json',
  gracePeriodSeconds: 3600,
  cacheMaxAgeSeconds: 300,
  includeKidlessDuplicates: false,
};

function rsaPublicPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
}
function ecPublicPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
}
function kidOf(pem: string): string {
  return parseKeyMaterial(pem, 'test').keys[0].jwk.kid;
}

let moto: Moto;
let documents: S3ObjectStore;
let privateStore: S3ObjectStore;
let cloudFront: CloudFrontClient;
let distributionId: string;
let clock: number;
const notifications: string[] = [];

async function publishedKids(): Promise<string[]> {
  const jwks = await documents.get(JWKS_KEY);
  return jwks ? (JSON.parse(jwks.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid) : [];
}

function deps(sources: KeySource[]): SyncDependencies {
  return {
    documents,
    privateStore,
    sources,
    now: () => clock,
    invalidate: cloudFrontInvalidator(cloudFront, distributionId),
    notify: async (subject, message) => { notifications.push(`${subject}\n${message}`); },
  };
}

async function invalidatedPaths(): Promise<string[][]> {
  const list = await cloudFront.send(new ListInvalidationsCommand({ DistributionId: distributionId }));
  const out: string[][] = [];
  for (const item of list.InvalidationList?.Items ?? []) {
    const detail = await cloudFront.send(new GetInvalidationCommand({ DistributionId: distributionId, Id: item.Id }));
    out.push(detail.Invalidation?.InvalidationBatch?.Paths?.Items ?? []);
  }
  return out;
}

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await resetMoto(moto);
  await moto.createBuckets('docs-bucket', 'private-bucket');
  documents = new S3ObjectStore(moto.s3(), 'docs-bucket');
  privateStore = new S3ObjectStore(moto.s3(), 'private-bucket');
  cloudFront = new CloudFrontClient(moto.clientConfig);
  const created = await cloudFront.send(new CreateDistributionCommand({
    DistributionConfig: {
      CallerReference: `test-${Date.now()}`,
      Comment: 'test',
      Enabled: true,
      Origins: { Quantity: 1, Items: [{ Id: 'docs', DomainName: 'docs-bucket.s3.amazonaws.com', S3OriginConfig: { OriginAccessIdentity: '' } }] },
      DefaultCacheBehavior: { TargetOriginId: 'docs', ViewerProtocolPolicy: 'https-only', MinTTL: 0, ForwardedValues: { QueryString: false, Cookies: { Forward: 'none' } }, TrustedSigners: { Enabled: false, Quantity: 0 } },
    },
  }));
  distributionId = created.Distribution!.Id!;
  clock = 1_800_000_000;
  notifications.length = 0;
});

describe('first publish and steady state', () => {
  it('publishes both documents with JSON content type and a short max-age, then writes nothing when nothing changed', async () => {
    const pem = rsaPublicPem();
    const config = configKeysSource(serializeJwks(buildJwks(parseKeyMaterial(pem, 'cfg').keys.map((k) => k.jwk))));

    const first = await runSync(deps([config]), settings);
    expect(first.outcome).toBe('published');
    const jwks = await documents.get(JWKS_KEY);
    const discovery = await documents.get(DISCOVERY_KEY);
    expect(jwks?.contentType).toBe('application/json');
    expect(jwks?.cacheControl).toBe('public, max-age=300');
    expect(discovery?.contentType).toBe('application/json');
    expect(JSON.parse(discovery!.body)).toEqual({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(await publishedKids()).toEqual([kidOf(pem)]);
    // The /.well-known/jwks.json copy: same bytes, same headers, invalidated in the same batch.
    const alias = await documents.get(JWKS_ALIAS_KEY);
    expect([alias?.body, alias?.contentType, alias?.cacheControl]).toEqual([jwks?.body, 'application/json', 'public, max-age=300']);
    expect(await invalidatedPaths()).toEqual([[`/${JWKS_KEY}`, `/${JWKS_ALIAS_KEY}`, `/${DISCOVERY_KEY}`]]);
    const stateAfterFirst = await privateStore.get(settings.stateKey);

    clock += 300;
    const second = await runSync(deps([config]), settings);
    expect(second.outcome).toBe('unchanged');
    expect((await documents.get(JWKS_KEY))?.etag).toBe(jwks?.etag);
    expect((await privateStore.get(settings.stateKey))?.etag).toBe(stateAfterFirst?.etag);
    expect(await invalidatedPaths()).toHaveLength(1);
  });
});

describe('invalidation', () => {
  it('retries on the next run an invalidation that failed after the documents were written', async () => {
    await privateStore.put('keys/a.pub', rsaPublicPem());
    const upload = uploadedKeysSource(privateStore, 'keys/');
    const failing = { ...deps([upload]), invalidate: async () => { throw new Error('Throttling: Rate exceeded'); } };
    const first = await runSync(failing, settings);
    expect(first.outcome).toBe('failed');
    expect(first.failureReason).toContain('Rate exceeded');
    expect(await documents.get(JWKS_KEY)).toBeDefined();
    expect(await invalidatedPaths()).toEqual([]);

    clock += 60;
    const second = await runSync(deps([upload]), settings);
    expect(second.outcome).toBe('unchanged');
    expect(await invalidatedPaths()).toEqual([[`/${JWKS_KEY}`, `/${JWKS_ALIAS_KEY}`, `/${DISCOVERY_KEY}`]]);

    clock += 60;
    await runSync(deps([upload]), settings);
    expect(await invalidatedPaths()).toHaveLength(1);
  });
});

describe('rotation', () => {
  it('adds an uploaded key at once, keeps a removed key through the grace period, then drops it', async () => {
    const oldPem = rsaPublicPem();
    const newPem = ecPublicPem();
    await privateStore.put('keys/old.pub', oldPem);
    const upload = uploadedKeysSource(privateStore, 'keys/');
    expect((await runSync(deps([upload]), settings)).outcome).toBe('published');

    await privateStore.put('keys/new.pub', newPem);
    clock += 60;
    const added = await runSync(deps([upload]), settings);
    expect(added.plan?.addedKids).toEqual([kidOf(newPem)]);
    expect((await publishedKids()).sort()).toEqual([kidOf(oldPem), kidOf(newPem)].sort());
    expect(notifications.join('\n')).toContain(kidOf(newPem));
    const discovery = JSON.parse((await documents.get(DISCOVERY_KEY))!.body);
    expect(discovery.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);

    await privateStore.delete('keys/old.pub');
    clock += 60;
    const retiring = await runSync(deps([upload]), settings);
    expect(retiring.plan?.retiringKids).toEqual([kidOf(oldPem)]);
    expect(await publishedKids()).toContain(kidOf(oldPem));

    clock += settings.gracePeriodSeconds - 1;
    await runSync(deps([upload]), settings);
    expect(await publishedKids()).toContain(kidOf(oldPem));

    clock += 1;
    const retired = await runSync(deps([upload]), settings);
    expect(retired.plan?.retiredKids).toEqual([kidOf(oldPem)]);
    expect(await publishedKids()).toEqual([kidOf(newPem)]);
  });

  it('keeps a revoked key out even while its source still lists it', async () => {
    const keep = rsaPublicPem();
    const compromised = rsaPublicPem();
    await privateStore.put('keys/keep.pub', keep);
    await privateStore.put('keys/compromised.pub', compromised);
    const upload = uploadedKeysSource(privateStore, 'keys/');
    await runSync(deps([upload]), settings);
    expect(await publishedKids()).toHaveLength(2);

    await privateStore.put(settings.denyListKey, JSON.stringify({ version: 1, kids: [{ value: kidOf(compromised), reason: 'leaked', addedAt: '2027-01-01T00:00:00Z' }], jtis: [], podUids: [], serviceAccounts: [] }));
    clock += 60;
    const revoked = await runSync(deps([upload]), settings);
    expect(revoked.plan?.revokedKids).toEqual([kidOf(compromised)]);
    expect(await publishedKids()).toEqual([kidOf(keep)]);

    clock += settings.gracePeriodSeconds * 2;
    await runSync(deps([upload]), settings);
    expect(await publishedKids()).toEqual([kidOf(keep)]);
  });
});

describe('faults never break the issuer', () => {
  let server: Server;
  let serverUrl: string;
  let respond: (res: import('node:http').ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((_req, res) => respond(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  function cluster(): KeySource {
    return clusterJwksSource({ url: serverUrl, allowHttp: true, timeoutMs: 500 });
  }

  it('skips a garbage object and a refused private key, and still publishes the valid key', async () => {
    const good = rsaPublicPem();
    await privateStore.put('keys/good.pub', good);
    await privateStore.put('keys/garbage.pub', 'this is not a key');
    await privateStore.put('keys/leaked.key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const report = await runSync(deps([uploadedKeysSource(privateStore, 'keys/')]), settings);
    expect(report.outcome).toBe('published');
    expect(await publishedKids()).toEqual([kidOf(good)]);
    expect(report.plan?.problems.map((p) => p.source).join(' ')).toMatch(/garbage\.pub[\s\S]*leaked\.key|leaked\.key[\s\S]*garbage\.pub/);
    expect(report.privateKeyInputs.join()).toContain('leaked.key');
    expect(notifications.join('\n')).toContain('Private key material was found and refused');
    expect((await documents.get(JWKS_KEY))!.body).not.toMatch(/"d"/);
  });

  it.each([
    ['HTTP 500', (res: import('node:http').ServerResponse) => { res.writeHead(500); res.end('boom'); }],
    ['HTML', (res: import('node:http').ServerResponse) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>login</html>'); }],
    ['an empty key list', (res: import('node:http').ServerResponse) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"keys":[]}'); }],
    ['a timeout', () => { /* never answers */ }],
  ])('keeps the cluster endpoint\'s keys published when it returns %s, and starts no grace timer', async (_label, fault) => {
    const clusterKey = rsaPublicPem();
    const uploaded = ecPublicPem();
    await privateStore.put('keys/uploaded.pub', uploaded);
    respond = (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(serializeJwks(buildJwks(parseKeyMaterial(clusterKey, 'c').keys.map((k) => k.jwk)))); };
    const sources = [cluster(), uploadedKeysSource(privateStore, 'keys/')];
    expect((await runSync(deps(sources), settings)).outcome).toBe('published');
    const before = await documents.get(JWKS_KEY);

    respond = fault;
    clock += settings.gracePeriodSeconds * 3;
    const report = await runSync(deps(sources), settings);
    expect(report.plan?.failedSources).toEqual(['cluster-jwks']);
    expect(report.plan?.retiringKids).toEqual([]);
    expect((await documents.get(JWKS_KEY))?.body).toBe(before?.body);
    const state = parseRotationState((await privateStore.get(settings.stateKey))!.body);
    expect(state.keys[kidOf(clusterKey)].missingSince).toBeUndefined();
  });

  it('leaves the published documents byte-identical when every source fails', async () => {
    await privateStore.put('keys/a.pub', rsaPublicPem());
    respond = (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(serializeJwks(buildJwks(parseKeyMaterial(rsaPublicPem(), 'c').keys.map((k) => k.jwk)))); };
    await runSync(deps([cluster(), uploadedKeysSource(privateStore, 'keys/')]), settings);
    const jwksBefore = await documents.get(JWKS_KEY);
    const discoveryBefore = await documents.get(DISCOVERY_KEY);

    respond = (res) => { res.writeHead(503); res.end(); };
    const failingUpload: KeySource = { id: 'upload', read: async () => { throw new Error('AccessDenied'); } };
    const report = await runSync(deps([cluster(), failingUpload]), settings);
    expect(report.outcome).toBe('failed');
    expect(report.failureReason).toMatch(/every key source failed/);
    expect((await documents.get(JWKS_KEY))).toEqual(jwksBefore);
    expect((await documents.get(DISCOVERY_KEY))).toEqual(discoveryBefore);
  });

  it('publishes nothing when the only source yields no usable key', async () => {
    await privateStore.put('keys/bad.pub', 'garbage');
    const report = await runSync(deps([uploadedKeysSource(privateStore, 'keys/')]), settings);
    expect(report.outcome).toBe('failed');
    expect(await documents.get(JWKS_KEY)).toBeUndefined();
  });

  it('ends in a consistent state when two syncs run at once', async () => {
    const a = rsaPublicPem();
    const b = ecPublicPem();
    await privateStore.put('keys/a.pub', a);
    await privateStore.put('keys/b.pub', b);
    const upload = uploadedKeysSource(privateStore, 'keys/');
    const [one, two] = await Promise.all([runSync(deps([upload]), settings), runSync(deps([upload]), settings)]);
    expect([one.outcome, two.outcome]).not.toContain('failed');
    const state = parseRotationState((await privateStore.get(settings.stateKey))!.body);
    expect(Object.keys(state.keys).sort()).toEqual((await publishedKids()).sort());
    expect((await publishedKids()).sort()).toEqual([kidOf(a), kidOf(b)].sort());
  });
});

/**
 * The alarm topic on moto's SNS, with an HTTP subscriber on 127.0.0.1 that records every
 * notification moto delivers: what an operator's pager would receive.
 */
async function alarmTopic(): Promise<{ notify: SyncDependencies['notify']; received: () => Promise<string[]>; close: () => Promise<void> }> {
  const messages: string[] = [];
  const subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    req.on('end', () => {
      const parsed = JSON.parse(body) as { Type: string; Subject?: string; Message: string };
      if (parsed.Type === 'Notification') messages.push(`${parsed.Subject ?? ''}\n${parsed.Message}`);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  const sns = new SNSClient(moto.clientConfig);
  const topic = await sns.send(new CreateTopicCommand({ Name: 'alarms' }));
  await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'http', Endpoint: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/` }));
  return {
    notify: snsNotifier(sns, topic.TopicArn!),
    // moto delivers synchronously within Publish; the bounded wait only covers the socket.
    received: async () => {
      for (let i = 0; i < 50 && messages.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      return [...messages];
    },
    close: () => new Promise((resolve) => subscriber.close(() => resolve())),
  };
}

describe('hardening (issue 12)', () => {
  let topic: Awaited<ReturnType<typeof alarmTopic>>;
  beforeEach(async () => {
    topic = await alarmTopic();
  });
  afterEach(async () => {
    await topic.close();
  });

  it('refuses a different key uploaded under the published kid: the published key stays, kid_conflict names the object and reaches the alarm topic', async () => {
    const real = rsaPublicPem();
    await privateStore.put('keys/cluster.pub', real);
    const upload = uploadedKeysSource(privateStore, 'keys/');
    await runSync({ ...deps([upload]), notify: topic.notify }, settings);
    const before = await documents.get(JWKS_KEY);

    // The review's attack: a JWKS sorting before the real key, holding another RSA key under its kid.
    const intruder = parseKeyMaterial(rsaPublicPem(), 'intruder').keys[0].jwk;
    await privateStore.put('keys/aa-extra.jwks', JSON.stringify({ keys: [{ ...intruder, kid: kidOf(real) }] }));
    clock += 60;
    const report = await runSync({ ...deps([upload]), notify: topic.notify }, settings);
    expect(report.outcome).toBe('unchanged');
    expect(report.plan?.addedKids).toEqual([]);
    expect((await documents.get(JWKS_KEY))?.body).toBe(before?.body);
    expect((await documents.get(JWKS_KEY))?.body).not.toContain(intruder.n);
    expect(report.plan?.problems).toContainEqual(expect.objectContaining({ code: 'kid_conflict', source: expect.stringContaining('s3://private-bucket/keys/aa-extra.jwks') }));
    const alarms = (await topic.received()).join('\n');
    expect(alarms).toContain('kid_conflict');
    expect(alarms).toContain('keys/aa-extra.jwks');
    expect(alarms).toContain(kidOf(real));
  });

  it('restores a JWKS someone else wrote into the documents bucket, invalidates it and raises documents_tampered on the alarm topic', async () => {
    const real = rsaPublicPem();
    await privateStore.put('keys/cluster.pub', real);
    const upload = uploadedKeysSource(privateStore, 'keys/');
    await runSync({ ...deps([upload]), notify: topic.notify }, settings);
    const ours = await documents.get(JWKS_KEY);
    expect(await topic.received()).toHaveLength(1); // the new-kid announcement
    const firstInvalidations = (await invalidatedPaths()).length;

    const foreign = serializeJwks(buildJwks(parseKeyMaterial(rsaPublicPem(), 'foreign').keys.map((k) => k.jwk)));
    await documents.put(JWKS_KEY, foreign, { contentType: 'application/json', cacheControl: 'public, max-age=300' });
    clock += 60;
    const report = await runSync({ ...deps([upload]), notify: topic.notify }, settings);
    expect(report.plan?.tamperedDocuments).toEqual([JWKS_KEY]);
    expect(report.plan?.problems).toContainEqual(expect.objectContaining({ code: 'documents_tampered', source: JWKS_KEY }));
    expect((await documents.get(JWKS_KEY))?.body).toBe(ours?.body);
    const invalidations = await invalidatedPaths();
    expect(invalidations).toHaveLength(firstInvalidations + 1);
    expect(invalidations.flat().filter((path) => path === `/${JWKS_KEY}`)).toHaveLength(2);
    const alarms = (await topic.received()).join('\n');
    expect(alarms).toContain('documents_tampered');
    expect(alarms).toContain(JWKS_KEY);
  });

  it('skips an oversized object under keys/ by its listed size, never downloading it', async () => {
    const good = rsaPublicPem();
    await privateStore.put('keys/good.pub', good);
    await privateStore.put('keys/huge.pub', `${good}${'#'.repeat(300 * 1024)}`);
    const reads = jest.spyOn(privateStore, 'get');
    try {
      const report = await runSync(deps([uploadedKeysSource(privateStore, 'keys/')]), settings);
      expect(report.outcome).toBe('published');
      expect(await publishedKids()).toEqual([kidOf(good)]);
      expect(report.plan?.problems).toContainEqual({ source: 's3://private-bucket/keys/huge.pub', reason: expect.stringMatching(/larger than 262144.*without reading it/) });
      expect(reads.mock.calls.map(([key]) => key)).toContain('keys/good.pub');
      expect(reads.mock.calls.map(([key]) => key)).not.toContain('keys/huge.pub');
    } finally {
      reads.mockRestore();
    }
  });
});
