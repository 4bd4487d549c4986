/**
 * Deployment rehearsal under faults: the bundled handlers from cdk.out, on the stack created in
 * moto (see rehearsal.test.ts and docs/rehearsal.md), while the proxy in front of moto cuts
 * connections or answers errors, the key prefix holds garbage, two syncs race, the cluster
 * endpoint misbehaves, the key store goes away under the verifier, and random kids flood it.
 * In every case nothing published is lost and the failure is reported.
 */
import { randomBytes } from 'node:crypto';
import { kubeClaims, kubeToken, newTestKey, TestKey } from '../support/tokens';
import { httpApiEvent, s3PutEvent, scheduledEvent } from '../support/rehearsal/events';
import { Invocation, jsonLogLines, LambdaProcess } from '../support/rehearsal/lambda';
import { cutFrom, FaultRule, ProxiedCall, s3Call, s3ObjectOf } from '../support/rehearsal/proxy';
import { CLUSTER_JWKS_PATH, publicPemOf, Stage, startStage } from '../support/rehearsal/stage';

interface SyncResult {
  outcome: 'published' | 'unchanged' | 'failed';
  failureReason?: string;
  attempts: number;
  plan?: { publishedKids: string[]; addedKids: string[]; failedSources: string[]; invalidationPaths: string[]; problems: { source: string; reason: string }[] };
}
interface HttpResult { statusCode: number; headers?: Record<string, string>; body?: string }
interface Published { jwks?: string; discovery?: string; state?: string }

const JWKS_KEY = 'openid/v1/jwks';
const DISCOVERY_KEY = '.well-known/openid-configuration';
const STATE_KEY = 'state/rotation.json';
const VERIFY_AUDIENCE = 'verify.example.internal';

let stage: Stage;
let sync: LambdaProcess;
const syncInvocations: Invocation[] = [];

async function published(): Promise<Published> {
  const [jwks, discovery, state] = await Promise.all([
    stage.readObject(stage.documentsBucket, JWKS_KEY),
    stage.readObject(stage.documentsBucket, DISCOVERY_KEY),
    stage.readObject(stage.privateBucket, STATE_KEY),
  ]);
  return { jwks: jwks?.body, discovery: discovery?.body, state: state?.body };
}

function kidsOf(jwks: string | undefined): string[] {
  return jwks ? (JSON.parse(jwks) as { keys: { kid: string }[] }).keys.map((key) => key.kid).sort() : [];
}

async function runSync(event: unknown, environment: LambdaProcess = sync): Promise<SyncResult> {
  const invocation = await environment.invoke<SyncResult>(event);
  syncInvocations.push(invocation);
  if (invocation.error) throw new Error(`sync handler failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`);
  return invocation.result!;
}

function scheduled(): unknown {
  const ruleArn = String(stage.deployment.resolver.resolve({ 'Fn::GetAtt': [stage.ids.scheduleRule, 'Arn'] }));
  return scheduledEvent(ruleArn, stage.deployment.pseudo.region, stage.deployment.pseudo.accountId);
}

async function uploadKey(name: string, key: TestKey): Promise<unknown> {
  const object = await stage.uploadAsKeyWriter(`keys/${name}`, publicPemOf(key));
  return s3PutEvent(object, stage.deployment.pseudo.region, 'rehearsal-keys-created');
}

/**
 * The published documents are whole and nothing is lost: both parse, the discovery document names
 * the issuer and its JWKS, and every key published before is still there.
 */
function expectWholeAndNothingLost(now: Published, before: Published): void {
  const discovery = JSON.parse(now.discovery!) as { issuer: string; jwks_uri: string };
  expect(discovery.issuer).toBe(stage.issuer);
  expect(discovery.jwks_uri).toBe(`${stage.issuer}/${JWKS_KEY}`);
  expect(kidsOf(now.jwks)).toEqual(expect.arrayContaining(kidsOf(before.jwks)));
}

function callsSince(seq: number): ProxiedCall[] {
  return stage.proxy.calls.filter((call) => call.seq > seq);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

beforeAll(async () => {
  stage = await startStage();
  sync = await stage.startFunction(stage.ids.syncFunction);
  const first = await runSync(scheduled());
  expect(first.outcome).toBe('published');
}, 120_000);

afterAll(async () => {
  await stage?.close();
});

describe('the store goes away in the middle of a sync (the proxy cuts every connection from a point on)', () => {
  const cutPoints: { name: string; trigger: (call: ProxiedCall) => boolean; alg: 'RS256' | 'ES384' }[] = [
    { name: 'the first read (rotation state)', trigger: s3Call('GET', STATE_KEY), alg: 'RS256' },
    { name: 'the JWKS write', trigger: s3Call('PUT', JWKS_KEY), alg: 'RS256' },
    // A key of a new algorithm changes the discovery document too, so that its write happens.
    { name: 'the discovery document write', trigger: s3Call('PUT', DISCOVERY_KEY), alg: 'ES384' },
    { name: 'the rotation state write', trigger: s3Call('PUT', STATE_KEY), alg: 'RS256' },
    { name: 'the CloudFront invalidation', trigger: (call) => call.signedService === 'cloudfront', alg: 'RS256' },
  ];

  for (const [index, cut] of cutPoints.entries()) {
    it(`at ${cut.name}: the run reports failure, the documents are unchanged or correct, and the next run completes the change`, async () => {
      const before = await published();
      const key = newTestKey(cut.alg);
      const event = await uploadKey(`cut-${index}.pub`, key);
      const since = stage.proxy.lastSeq();
      const removeFault = stage.proxy.addFault(cutFrom(`store gone at ${cut.name}`, cut.trigger));
      let failed: SyncResult;
      try {
        failed = await runSync(event);
      } finally {
        removeFault();
      }
      expect(callsSince(since).some((call) => call.fault !== undefined)).toBe(true);
      expect(failed.outcome).toBe('failed');
      expect(failed.failureReason).toMatch(/^storage error: /);
      const during = await published();

      const healed = await runSync(event);
      expect(healed.outcome).not.toBe('failed');
      const after = await published();
      expect(kidsOf(after.jwks)).toContain(key.kid);
      expect(JSON.parse(after.state!).keys).toHaveProperty(key.kid);
      expectWholeAndNothingLost(during, before);
      expectWholeAndNothingLost(after, before);
      // Unchanged or correct: each document is what it was, or what the completed change made it.
      for (const name of ['jwks', 'discovery'] as const) {
        expect([before[name], after[name]]).toContain(during[name]);
      }
    });
  }
});

describe('S3 write failures injected by the proxy (after the SDK\'s own retries)', () => {
  const failures: { name: string; rule: FaultRule; alg: 'RS256' | 'ES512' }[] = [
    { name: '500 InternalError on the discovery document PUT', alg: 'ES512', rule: { name: '500 on discovery PUT', matches: s3Call('PUT', DISCOVERY_KEY), action: { kind: 'status', status: 500, code: 'InternalError' } } },
    { name: '503 SlowDown on the JWKS PUT', alg: 'RS256', rule: { name: '503 on JWKS PUT', matches: s3Call('PUT', JWKS_KEY), action: { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' } } },
    { name: '403 AccessDenied on the state PUT', alg: 'RS256', rule: { name: '403 on state PUT', matches: s3Call('PUT', STATE_KEY), action: { kind: 'status', status: 403, code: 'AccessDenied' } } },
  ];

  for (const [index, failure] of failures.entries()) {
    it(`${failure.name}: failure reported, documents unchanged or correct, healed by the next run`, async () => {
      const before = await published();
      const key = newTestKey(failure.alg);
      const event = await uploadKey(`write-failure-${index}.pub`, key);
      const since = stage.proxy.lastSeq();
      const rule = failure.rule;
      const removeFault = stage.proxy.addFault(rule);
      let failed: SyncResult;
      try {
        failed = await runSync(event);
      } finally {
        removeFault();
      }
      expect(failed.outcome).toBe('failed');
      expect(failed.failureReason).toMatch(/^storage error: /);
      expect(callsSince(since).filter((call) => call.fault === rule.name).length).toBeGreaterThanOrEqual(1);
      const during = await published();
      const healed = await runSync(event);
      expect(healed.outcome).not.toBe('failed');
      const after = await published();
      expect(kidsOf(after.jwks)).toContain(key.kid);
      expectWholeAndNothingLost(during, before);
      for (const name of ['jwks', 'discovery'] as const) expect([before[name], after[name]]).toContain(during[name]);
    });
  }
});

describe('garbage in the key prefix', () => {
  it('skips a binary object, a text file, an oversized object and a private key; publishes nothing new; reports each and alarms on the private key', async () => {
    const leaked = newTestKey('RS256');
    const leakedPem = leaked.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const objects: Record<string, string | Buffer> = {
      'keys/garbage.bin': randomBytes(2048),
      'keys/notes.txt': 'rotate the key on Friday',
      'keys/huge.pem': `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(300 * 1024)}\n-----END PUBLIC KEY-----\n`,
      'keys/leaked.key': leakedPem,
    };
    const before = await published();
    let event: unknown;
    for (const [key, body] of Object.entries(objects)) event = s3PutEvent(await stage.uploadAsKeyWriter(key, body), stage.deployment.pseudo.region, 'rehearsal-keys-created');
    const since = stage.proxy.lastSeq();
    try {
      const result = await runSync(event);
      expect(result.outcome).toBe('unchanged');
      const after = await published();
      expect(after.jwks).toBe(before.jwks);
      expect(after.discovery).toBe(before.discovery);
      expect(kidsOf(after.jwks)).not.toContain(leaked.kid);
      const problemSources = result.plan!.problems.map((problem) => problem.source);
      const unreported = Object.keys(objects).filter((key) => !problemSources.some((source) => source.includes(`/${key}`)));
      expect({ unreported, problems: result.plan!.problems }).toEqual({ unreported: [], problems: result.plan!.problems });
      const alarm = callsSince(since).find((call) => call.signedService === 'sns');
      expect(new URLSearchParams(alarm?.body.toString() ?? '').get('Message')).toMatch(/Private key material was found and refused in: .*keys\/leaked\.key/);
      const line = jsonLogLines([syncInvocations.at(-1)!]).find((entry) => entry.message === 'jwks sync run');
      expect(line?.RefusedPrivateKeys).toBe(1);
      const logs = syncInvocations.at(-1)!.logs.join('\n');
      expect(logs.includes(leakedPem.split('\n')[1])).toBe(false);
      expect(logs).not.toMatch(/PRIVATE KEY-----/);
    } finally {
      for (const key of Object.keys(objects)) await stage.deleteAsKeyWriter(key);
    }
  });
});

describe('two syncs at once', () => {
  it('two environments racing on the same upload end in one consistent state: the loser of the conditional state write starts over', async () => {
    const second = await stage.startFunction(stage.ids.syncFunction);
    const key = newTestKey('RS256');
    const event = await uploadKey('race.pub', key);
    // Both runs read the state before either writes it: a real race, not two runs in a row.
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => { release = resolve; });
    let held = 0;
    const since = stage.proxy.lastSeq();
    const removeFault = stage.proxy.addFault({
      name: 'hold the first state reads',
      matches: (call) => {
        if (held >= 2 || !s3Call('GET', STATE_KEY)(call)) return false;
        held += 1;
        if (held === 2) release();
        return true;
      },
      action: { kind: 'hold', until: bothRead },
    });
    let results: SyncResult[];
    try {
      results = await Promise.all([runSync(event), runSync(event, second)]);
    } finally {
      removeFault();
      await second.stop();
    }
    expect(results.map((result) => result.outcome).sort()).toEqual(['published', 'unchanged']);
    expect(results.map((result) => result.attempts).sort()).toEqual([1, 2]);
    expect(callsSince(since).some((call) => s3Call('PUT', STATE_KEY)(call) && call.status === 412)).toBe(true);
    const after = await published();
    expect(kidsOf(after.jwks)).toContain(key.kid);
    const state = JSON.parse(after.state!) as { keys: Record<string, { sources: string[] }> };
    expect(state.keys[key.kid].sources).toEqual(['upload']);
    expect(Object.keys(state.keys).sort()).toEqual(kidsOf(after.jwks));
  });
});

describe('the cluster JWKS endpoint misbehaves (CLUSTER_JWKS_URL of the template, through the bundled handler)', () => {
  const goodKeys = () => stage.serveClusterKeys([stage.clusterKey.jwk]);
  const faults: { name: string; response: { status?: number; headers?: Record<string, string>; body?: string; delayMs?: number }; reason: RegExp }[] = [
    { name: 'HTTP 500', response: { status: 500, body: '{"kind":"Status","status":"Failure","code":500}' }, reason: /answered HTTP 500/ },
    { name: 'an HTML page', response: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html><body>Service Unavailable</body></html>' }, reason: /did not return JSON/ },
    { name: 'an empty key list', response: { status: 200, body: '{"keys":[]}' }, reason: /returned no usable key/ },
    { name: 'no answer within the timeout', response: { status: 200, body: '{"keys":[]}', delayMs: 7000 }, reason: /timed out|timeout|within|deadline/i },
  ];

  for (const fault of faults) {
    it(`${fault.name}: the run reports the failed source, keeps its keys published, and leaves the documents byte-identical`, async () => {
      await runSync(scheduled());
      const before = await published();
      expect(kidsOf(before.jwks)).toContain(stage.clusterKey.kid);
      stage.apiserver.route(CLUSTER_JWKS_PATH, { headers: { 'content-type': 'application/json' }, ...fault.response });
      try {
        const result = await runSync(scheduled());
        expect(result.outcome).toBe('unchanged');
        expect(result.plan!.failedSources).toEqual(['cluster-jwks']);
        expect(result.plan!.problems.find((problem) => problem.source === 'cluster-jwks')?.reason).toMatch(fault.reason);
        expect(result.plan!.publishedKids).toContain(stage.clusterKey.kid);
        const line = jsonLogLines([syncInvocations.at(-1)!]).find((entry) => entry.message === 'jwks sync run');
        expect(line?.failedSources).toEqual(['cluster-jwks']);
        const after = await published();
        expect(after.jwks).toBe(before.jwks);
        expect(after.discovery).toBe(before.discovery);
      } finally {
        goodKeys();
      }
    }, 30_000);
  }
});

describe('the bundled verifier when its key store goes away (short TTL and stale window for this run)', () => {
  it('serves from cache within the stale window, answers 503 after it, and recovers when the store returns', async () => {
    // KEYS_TTL_SECONDS=1 and STALE_WINDOW_SECONDS=4 instead of the template's 60 and 900, to keep the test short.
    const verifier = await stage.startFunction(stage.ids.verifyFunction, { KEYS_TTL_SECONDS: '1', STALE_WINDOW_SECONDS: '4' });
    const token = kubeToken(stage.clusterKey, kubeClaims({ issuer: stage.issuer, audiences: [VERIFY_AUDIENCE], iat: Math.floor(Date.now() / 1000) - 5 }));
    const verify = async (): Promise<HttpResult> => {
      const invocation = await verifier.invoke<HttpResult>(httpApiEvent('POST /verify', { method: 'POST', path: '/verify', body: JSON.stringify({ token }) }));
      expect(invocation.error).toBeUndefined();
      return invocation.result!;
    };
    const storeDown: FaultRule = { name: 'key store unreachable', matches: (call) => call.signedService === 's3' && call.method === 'GET' && s3ObjectOf(call)?.bucket === stage.documentsBucket, action: { kind: 'reset' } };
    try {
      const fresh = await verify();
      const loadedBy = Date.now();
      expect(fresh.statusCode).toBe(200);
      expect(JSON.parse(fresh.body!).authenticated).toBe(true);

      const removeFault = stage.proxy.addFault(storeDown);
      const since = stage.proxy.lastSeq();
      await sleep(1500);
      const stale = await verify();
      expect(stale.statusCode).toBe(200);
      expect(JSON.parse(stale.body!).authenticated).toBe(true);
      expect(callsSince(since).some((call) => call.fault === storeDown.name)).toBe(true);

      await sleep(Math.max(0, loadedBy + 4500 - Date.now()));
      const expired = await verify();
      expect(expired.statusCode).toBe(503);
      expect(JSON.parse(expired.body!)).toHaveProperty('error');

      removeFault();
      await sleep(1200);
      const recovered = await verify();
      expect(recovered.statusCode).toBe(200);
      expect(JSON.parse(recovered.body!).authenticated).toBe(true);
    } finally {
      stage.proxy.clearFaults();
      await verifier.stop();
    }
  }, 30_000);
});

describe('an unknown-kid flood against the bundled verifier (template settings)', () => {
  it('10,000 requests with random kids cause at most one key-set fetch per cooldown, and no 5xx', async () => {
    const verifier = await stage.startFunction(stage.ids.verifyFunction);
    const cooldownMs = Number(verifier.spec.environment.UNKNOWN_KID_COOLDOWN_SECONDS) * 1000;
    const ttlMs = Number(verifier.spec.environment.KEYS_TTL_SECONDS) * 1000;
    try {
      const warm = await verifier.invoke<HttpResult>(httpApiEvent('POST /verify', { method: 'POST', path: '/verify', body: JSON.stringify({ token: kubeToken(stage.clusterKey, kubeClaims({ issuer: stage.issuer, audiences: [VERIFY_AUDIENCE], iat: Math.floor(Date.now() / 1000) })) }) }));
      expect(warm.result?.statusCode).toBe(200);
      const payload = Buffer.from(JSON.stringify(kubeClaims({ issuer: stage.issuer, audiences: [VERIFY_AUDIENCE], iat: Math.floor(Date.now() / 1000) }))).toString('base64url');
      const signature = randomBytes(256).toString('base64url');
      const since = stage.proxy.lastSeq();
      const started = Date.now();
      const statuses = new Map<string, number>();
      for (let batch = 0; batch < 10; batch += 1) {
        const events = Array.from({ length: 1000 }, () => {
          const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: randomBytes(24).toString('base64url') })).toString('base64url');
          return httpApiEvent('POST /verify', { method: 'POST', path: '/verify', body: JSON.stringify({ token: `${header}.${payload}.${signature}` }) });
        });
        for (const invocation of await verifier.invokeAll<HttpResult>(events)) {
          const verdict = invocation.error ? `error ${invocation.error.errorType}` : `${invocation.result!.statusCode} ${JSON.parse(invocation.result!.body!).reason ?? ''}`;
          statuses.set(verdict, (statuses.get(verdict) ?? 0) + 1);
        }
      }
      const elapsedMs = Date.now() - started;
      expect([...statuses.entries()]).toEqual([['200 unknown_kid', 10_000]]);
      const jwksFetches = callsSince(since).filter((call) => s3Call('GET', JWKS_KEY)(call) && s3ObjectOf(call)?.bucket === stage.documentsBucket).length;
      // One refetch for the first unknown kid, then at most one per cooldown (and per TTL expiry) of the time the flood took.
      const allowed = 1 + Math.floor(elapsedMs / cooldownMs) + Math.floor(elapsedMs / ttlMs);
      expect(jwksFetches).toBeGreaterThanOrEqual(1);
      expect(jwksFetches).toBeLessThanOrEqual(allowed);
    } finally {
      await verifier.stop();
    }
  }, 60_000);
});

describe('IAM under faults', () => {
  it('every call of the fault runs (retries, alarms, the race\'s retry) is allowed by the template\'s policies', () => {
    const judgements = stage.judgeCalls(stage.proxy.calls);
    expect(judgements.filter((judgement) => judgement.decision === 'implicit-deny' || judgement.decision === 'explicit-deny')).toEqual([]);
    expect(judgements.some((judgement) => judgement.action === 'sns:Publish' && judgement.decision === 'allow')).toBe(true);
  });
});
