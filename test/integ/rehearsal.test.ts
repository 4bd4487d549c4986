/**
 * Deployment rehearsal: what `cdk deploy` would ship, run as close to AWS as this machine allows.
 * The example cluster (plus the upload and cluster-endpoint sources) is synthesized with Lambda
 * bundling; the template's resources are created in moto; the bundled handlers run under the
 * Lambda runtime's Node major with the template's environment and their role's credentials,
 * talking to moto through a recording proxy; the published documents are served the way
 * CloudFront would and checked with an OIDC client that is not ours; a pod gets credentials from
 * STS with its projected token; every AWS call is checked against the template's IAM policies.
 * docs/rehearsal.md says what moto cannot check and how it is stubbed.
 */
import { CloudFrontClient, GetDistributionCommand } from '@aws-sdk/client-cloudfront';
import { GetOpenIDConnectProviderCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { createRemoteJWKSet, customFetch as joseCustomFetch, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { kubeClaims, kubeToken, newTestKey, TestKey } from '../support/tokens';
import { httpApiEvent, HttpRequest, s3PutEvent, scheduledEvent } from '../support/rehearsal/events';
import { evaluate } from '../support/rehearsal/iam';
import { Invocation, jsonLogLines, LambdaProcess } from '../support/rehearsal/lambda';
import { runPod } from '../support/rehearsal/pod';
import { s3ObjectOf } from '../support/rehearsal/proxy';
import { CLUSTER_JWKS_PATH, createOutsideBucket, publicPemOf, Stage, startStage } from '../support/rehearsal/stage';

interface SyncResult {
  outcome: 'published' | 'unchanged' | 'failed';
  failureReason?: string;
  attempts: number;
  durationMs: number;
  plan?: { publishedKids: string[]; addedKids: string[]; failedSources: string[]; invalidationPaths: string[]; problems: { source: string; reason: string }[] };
}
interface HttpResult { statusCode: number; headers?: Record<string, string>; body?: string }

const VERIFY_AUDIENCE = 'verify.example.internal';
const SA_NAMESPACE = 'default';
const SA_NAME = 's3-reader';
const DATA_BUCKET = 'example-bucket';

let stage: Stage;
let sync: LambdaProcess;
const invocations: Invocation[] = [];
const uploadedKey: TestKey = newTestKey('RS256');
const tokensUsed: string[] = [];

function token(key: TestKey, audiences: string[], overrides: { namespace?: string; serviceAccount?: string; issuer?: string } = {}): string {
  const minted = kubeToken(key, kubeClaims({
    issuer: overrides.issuer ?? stage.issuer,
    audiences,
    namespace: overrides.namespace ?? SA_NAMESPACE,
    serviceAccount: overrides.serviceAccount ?? SA_NAME,
    iat: Math.floor(Date.now() / 1000) - 5,
    lifetimeSeconds: 3600,
  }));
  tokensUsed.push(minted);
  return minted;
}

async function invokeSync(event: unknown, environment: LambdaProcess = sync): Promise<Invocation<SyncResult>> {
  const invocation = await environment.invoke<SyncResult>(event);
  invocations.push(invocation);
  if (invocation.error) throw new Error(`sync handler failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`);
  return invocation;
}

function publishedKids(jwksText: string | undefined): string[] {
  return jwksText ? (JSON.parse(jwksText) as { keys: { kid: string }[] }).keys.map((key) => key.kid).sort() : [];
}

beforeAll(async () => {
  stage = await startStage();
  await createOutsideBucket(stage.moto, DATA_BUCKET, 'reports/latest.txt', 'data only the s3-reader role may read');
  sync = await stage.startFunction(stage.ids.syncFunction);
}, 120_000);

afterAll(async () => {
  await stage?.close();
});

describe('the synthesized artifacts', () => {
  it('are self-contained bundles for the template\'s Lambda runtime, loaded by that runtime\'s Node major, leaving only the AWS SDK to the runtime', () => {
    for (const id of [stage.ids.syncFunction, stage.ids.verifyFunction]) {
      const spec = stage.deployment.functionSpec(id);
      expect(spec.runtime).toBe('nodejs24.x');
      expect(spec.handler).toBe('index.handler');
      // Lambda ships the asset folder only: anything required from outside it must be Node's own
      // or the SDK v3 the runtime provides (the rehearsal's NODE_PATH would otherwise hide it).
      const bundle = readFileSync(path.join(spec.assetFolder, 'index.js'), 'utf8');
      const required = [...bundle.matchAll(/require\("([^"]+)"\)/g)].map((match) => match[1]);
      const foreign = required.filter((name) => !name.startsWith('@aws-sdk/') && !builtinModules.includes(name.replace(/^node:/, '')));
      expect({ function: id, foreign }).toEqual({ function: id, foreign: [] });
    }
    expect(sync.nodeVersion.split('.')[0]).toBe(`v${sync.spec.runtime.replace(/\D/g, '')}`);
    const syncBundle = readFileSync(path.join(sync.spec.assetFolder, 'index.js'), 'utf8');
    expect(syncBundle).toMatch(/require\("@aws-sdk\/client-s3"\)/);
  });

  it('gets an environment from the template that names what was created in moto', async () => {
    const env = sync.spec.environment;
    const { Distribution: distribution } = await new CloudFrontClient(stage.moto.clientConfig).send(new GetDistributionCommand({ Id: env.DISTRIBUTION_ID }));
    expect(env.ISSUER_URL).toBe(`https://${distribution!.DomainName}`);
    expect(distribution!.DistributionConfig?.Origins?.Items?.[0]?.DomainName).toBe(`${env.DOCUMENTS_BUCKET}.s3.us-east-1.amazonaws.com`);
    expect(env.PRIVATE_BUCKET).toBe(stage.privateBucket);
    expect(env.KEY_PREFIX).toBe('keys/');
    expect(env.CLUSTER_JWKS_URL).toBe(`${stage.apiserver.origin}${CLUSTER_JWKS_PATH}`);
    const topics = await new SNSClient(stage.moto.clientConfig).send(new ListTopicsCommand({}));
    expect(topics.Topics?.map((topic) => topic.TopicArn)).toContain(env.ALARM_TOPIC_ARN);
    const verifyEnv = stage.deployment.functionSpec(stage.ids.verifyFunction).environment;
    expect(verifyEnv.ISSUER_URL).toBe(env.ISSUER_URL);
    expect(verifyEnv.DOCUMENTS_BUCKET).toBe(env.DOCUMENTS_BUCKET);
  });

  it('creates the IAM OIDC provider and the service-account role from the template\'s properties', async () => {
    const iam = new IAMClient(stage.moto.clientConfig);
    const provider = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: stage.deployment.ref(stage.ids.provider) }));
    expect(provider.Url?.replace(/^https:\/\//, '')).toBe(stage.issuer.replace(/^https:\/\//, ''));
    expect(provider.ClientIDList).toEqual(['sts.amazonaws.com']);
    const role = await iam.send(new GetRoleCommand({ RoleName: stage.deployment.ref(stage.ids.serviceAccountRoles[SA_NAME]) }));
    const trust = JSON.parse(decodeURIComponent(role.Role!.AssumeRolePolicyDocument!)) as { Statement: { Principal: { Federated: string }; Condition: { StringEquals: Record<string, string> } }[] };
    const host = stage.issuer.replace(/^https:\/\//, '');
    expect(trust.Statement[0].Principal.Federated).toBe(stage.deployment.ref(stage.ids.provider));
    expect(trust.Statement[0].Condition.StringEquals).toEqual({ [`${host}:sub`]: `system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`, [`${host}:aud`]: 'sts.amazonaws.com' });
  });
});

describe('the bundled sync handler', () => {
  it('publishes on a scheduled EventBridge event: config key and cluster endpoint key (HTTPS with the cluster CA, bearer token from SSM)', async () => {
    const ruleArn = String(stage.deployment.resolver.resolve({ 'Fn::GetAtt': [stage.ids.scheduleRule, 'Arn'] }));
    const since = stage.proxy.lastSeq();
    const { result, logs } = await invokeSync(scheduledEvent(ruleArn, stage.deployment.pseudo.region, stage.deployment.pseudo.accountId));
    expect(result!.outcome).toBe('published');
    expect(result!.plan!.failedSources).toEqual([]);
    expect(result!.plan!.publishedKids).toEqual(expect.arrayContaining([stage.clusterKey.kid]));
    expect(result!.plan!.publishedKids.length).toBe(2);
    expect(logs.some((line) => line.includes('"trigger":"schedule"'))).toBe(true);

    const apiserverCall = stage.apiserver.requests.at(-1)!;
    expect(apiserverCall.path).toBe(CLUSTER_JWKS_PATH);
    expect(apiserverCall.headers.authorization).toBe(`Bearer ${stage.apiserverToken}`);

    const jwks = await stage.readObject(stage.documentsBucket, 'openid/v1/jwks');
    const discovery = await stage.readObject(stage.documentsBucket, '.well-known/openid-configuration');
    for (const document of [jwks, discovery]) {
      expect(document?.contentType).toBe('application/json');
      expect(document?.cacheControl).toMatch(/max-age=300/);
    }
    expect(publishedKids(jwks!.body)).toEqual([...result!.plan!.publishedKids].sort());

    const calls = stage.proxy.calls.filter((call) => call.seq > since);
    const invalidation = calls.find((call) => call.signedService === 'cloudfront');
    expect(invalidation?.url).toBe(`/2020-05-31/distribution/${sync.spec.environment.DISTRIBUTION_ID}/invalidation`);
    expect(invalidation?.body.toString()).toContain('/openid/v1/jwks');
    expect(calls.some((call) => call.signedService === 'sns' && call.body.toString().includes('Action=Publish'))).toBe(true);
  });

  it('publishes an uploaded key on the S3 put event the template subscribes it to, and invalidates the changed documents (key propagation printed)', async () => {
    const key = 'keys/rehearsal-rsa.pub';
    const notifications = Object.values(stage.stack.resources).filter((resource) => resource.Type === 'Custom::S3BucketNotifications');
    const configurations = notifications.flatMap((resource) => (stage.deployment.resolver.resolve(resource.Properties!.NotificationConfiguration) as { LambdaFunctionConfigurations: { Events: string[]; Filter?: { Key: { FilterRules: { Name: string; Value: string }[] } }; LambdaFunctionArn: string }[] }).LambdaFunctionConfigurations);
    const syncArn = String(stage.deployment.resolver.resolve({ 'Fn::GetAtt': [stage.ids.syncFunction, 'Arn'] }));
    const subscribed = configurations.find((configuration) => configuration.LambdaFunctionArn === syncArn
      && configuration.Events.includes('s3:ObjectCreated:*')
      && (configuration.Filter?.Key.FilterRules ?? []).every((rule) => rule.Name !== 'prefix' || key.startsWith(rule.Value)));
    expect(subscribed).toBeDefined();

    const since = stage.proxy.lastSeq();
    const object = await stage.uploadAsKeyWriter(key, publicPemOf(uploadedKey));
    // A cold environment, as after idle time: spawn, module load, then the run.
    const spawnStarted = performance.timeOrigin + performance.now();
    const cold = await stage.startFunction(stage.ids.syncFunction);
    const spawnedMs = performance.timeOrigin + performance.now() - spawnStarted;
    const { result, logs } = await invokeSync(s3PutEvent(object, stage.deployment.pseudo.region, 'rehearsal-keys-created'), cold);
    await cold.stop();

    expect(result!.outcome).toBe('published');
    expect(result!.plan!.addedKids).toEqual([uploadedKey.kid]);
    expect(logs.some((line) => line.includes('"trigger":"upload"'))).toBe(true);
    const calls = stage.proxy.calls.filter((call) => call.seq > since);
    const upload = calls.find((call) => call.method === 'PUT' && s3ObjectOf(call)?.key === key)!;
    const invalidation = calls.find((call) => call.signedService === 'cloudfront' && call.method === 'POST');
    expect(invalidation).toBeDefined();
    // Only what changed: a new RS256 key changes the JWKS; the discovery document lists algorithms, which did not change.
    const paths = [...invalidation!.body.toString().matchAll(/<Path>([^<]+)<\/Path>/g)].map((match) => match[1]);
    expect(paths).toEqual(result!.plan!.invalidationPaths);
    expect(paths).toEqual(['/openid/v1/jwks']);
    expect(publishedKids((await stage.readObject(stage.documentsBucket, 'openid/v1/jwks'))?.body)).toContain(uploadedKey.kid);

    const propagationMs = invalidation!.atMs - upload.atMs;
    console.log([
      `key propagation (rehearsal, issue 7): upload -> invalidation request ${propagationMs.toFixed(0)} ms of the project's own time`,
      `  cold start: process spawn + bundle load ${spawnedMs.toFixed(0)} ms (module load alone ${cold.initMs.toFixed(0)} ms), sync run ${result!.durationMs} ms`,
      '  not included: S3 event delivery (AWS: "typically seconds, sometimes a minute or longer") and CloudFront completing the invalidation (see docs/rehearsal.md)',
    ].join('\n'));
  });

  it('publishes documents an independent OIDC client accepts: openid-client discovery, then jose verifies tokens with the remote JWKS', async () => {
    const server = stage.documentServer;
    const configuration = await oidc.discovery(new URL(stage.issuer), 'rehearsal-relying-party', undefined, undefined, { [oidc.customFetch]: server.fetch } as oidc.DiscoveryRequestOptions);
    const metadata = configuration.serverMetadata();
    expect(metadata.issuer).toBe(stage.issuer);
    expect(metadata.jwks_uri).toBe(`${stage.issuer}/openid/v1/jwks`);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS256', 'ES256']));

    const remote = createRemoteJWKSet(new URL(metadata.jwks_uri!), { [joseCustomFetch]: server.fetch });
    for (const key of [uploadedKey, stage.clusterKey]) {
      const { payload, protectedHeader } = await jwtVerify(token(key, ['sts.amazonaws.com']), remote, { issuer: stage.issuer, audience: 'sts.amazonaws.com' });
      expect(payload.sub).toBe(`system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`);
      expect(protectedHeader.kid).toBe(key.kid);
    }
    const stranger = newTestKey('RS256');
    await expect(jwtVerify(token(stranger, ['sts.amazonaws.com']), remote, { issuer: stage.issuer })).rejects.toThrow();
  });

  it('is served like CloudFront with OAC: the two documents with their stored headers and the policy\'s security headers, nothing else', async () => {
    const base = stage.documentServer.origin;
    for (const documentPath of ['/.well-known/openid-configuration', '/openid/v1/jwks']) {
      const res = await fetch(`${base}${documentPath}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('cache-control')).toMatch(/max-age=300/);
      expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('server')).toBeNull();
      await res.arrayBuffer();
    }
    for (const other of ['/', '/index.html', '/state/rotation.json', '/keys/rehearsal-rsa.pub', '/openid/v1/jwks/', '/.well-known/openid-configuration.json']) {
      const res = await fetch(`${base}${other}`);
      expect({ path: other, status: res.status }).toEqual({ path: other, status: 403 });
      await res.arrayBuffer();
    }
    const post = await fetch(`${base}/openid/v1/jwks`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(403);
    const listing = await stage.s3.send(new ListObjectsV2Command({ Bucket: stage.documentsBucket }));
    expect(listing.Contents?.map((item) => item.Key).sort()).toEqual(['.well-known/openid-configuration', 'openid/v1/jwks']);
  });
});

describe('the bundled verify handler on API Gateway HTTP API v2 events', () => {
  let verifier: LambdaProcess;
  beforeAll(async () => {
    verifier = await stage.startFunction(stage.ids.verifyFunction);
  });

  it('answers every route the template declares, with tokens signed by the keys the sync published', async () => {
    const integration = Object.values(stage.stack.resources).find((resource) => resource.Type === 'AWS::ApiGatewayV2::Integration');
    expect(integration?.Properties?.PayloadFormatVersion).toBe('2.0');
    const routeKeys = Object.values(stage.stack.resources).filter((resource) => resource.Type === 'AWS::ApiGatewayV2::Route').map((resource) => String(resource.Properties!.RouteKey)).sort();

    const good = token(uploadedKey, [VERIFY_AUDIENCE]);
    const goodEc = token(stage.clusterKey, [VERIFY_AUDIENCE]);
    const wrongAudience = token(uploadedKey, ['someone-else']);
    const review = (tok: string) => JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tok, audiences: [VERIFY_AUDIENCE] } });
    const cases: Record<string, { request: HttpRequest; status: number; check: (res: HttpResult) => void }[]> = {
      'POST /apis/authentication.k8s.io/v1/tokenreviews': [
        { request: { method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: review(good) }, status: 200, check: (res) => {
          const body = JSON.parse(res.body!);
          expect(body.status.authenticated).toBe(true);
          expect(body.status.user.username).toBe(`system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`);
        } },
        { request: { method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: review(`${good.slice(0, -6)}AAAAAA`) }, status: 200, check: (res) => expect(JSON.parse(res.body!).status.authenticated).toBe(false) },
      ],
      'POST /verify': [
        { request: { method: 'POST', path: '/verify', body: JSON.stringify({ token: goodEc }) }, status: 200, check: (res) => expect(JSON.parse(res.body!).authenticated).toBe(true) },
        { request: { method: 'POST', path: '/verify', body: JSON.stringify({ token: wrongAudience }) }, status: 200, check: (res) => expect(JSON.parse(res.body!)).toMatchObject({ authenticated: false }) },
      ],
      'ANY /auth': [
        { request: { method: 'GET', path: '/auth', headers: { authorization: `Bearer ${good}` } }, status: 200, check: (res) => expect(JSON.stringify(res.headers)).toContain(`system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`) },
        { request: { method: 'GET', path: '/auth', headers: { authorization: 'Bearer not-a-token' } }, status: 401, check: (res) => expect(JSON.stringify(res.headers).toLowerCase()).toContain('www-authenticate') },
      ],
      'ANY /auth/{proxy+}': [
        { request: { method: 'POST', path: `/auth/audience/${VERIFY_AUDIENCE}/payments/charge`, headers: { authorization: `Bearer ${goodEc}` } }, status: 200, check: () => undefined },
        // Issue 12 §2: a path below /auth that is not /auth/audience/AUD/... never falls back to the default audiences.
        { request: { method: 'POST', path: '/auth/payments/charge', headers: { authorization: `Bearer ${goodEc}` } }, status: 404, check: () => undefined },
        { request: { method: 'POST', path: `/auth/audience/${VERIFY_AUDIENCE}/../x`, headers: { authorization: `Bearer ${goodEc}` } }, status: 400, check: () => undefined },
      ],
      $default: [
        { request: { method: 'GET', path: '/not-a-route' }, status: 404, check: (res) => expect(JSON.parse(res.body!)).toHaveProperty('error') },
      ],
    };
    expect(Object.keys(cases).sort()).toEqual(routeKeys);

    for (const routeKey of routeKeys) {
      for (const { request, status, check } of cases[routeKey]) {
        const invocation = await verifier.invoke<HttpResult>(httpApiEvent(routeKey, request));
        invocations.push(invocation);
        expect({ routeKey, path: request.path, error: invocation.error, status: invocation.result?.statusCode }).toEqual({ routeKey, path: request.path, error: undefined, status });
        check(invocation.result!);
      }
    }
  });
});

describe('a pod using its role', () => {
  it('gets credentials from STS with its projected token (AWS SDK web-identity provider) and calls AWS as the stack\'s role', async () => {
    const roleLogicalId = stage.ids.serviceAccountRoles[SA_NAME];
    const roleArn = String(stage.deployment.resolver.resolve({ 'Fn::GetAtt': [roleLogicalId, 'Arn'] }));
    const projected = token(uploadedKey, ['sts.amazonaws.com']);
    const since = stage.proxy.lastSeq();
    const pod = await runPod({ roleArn, token: projected, endpoint: stage.proxy.endpoint, region: stage.deployment.pseudo.region, bucket: DATA_BUCKET, key: 'reports/latest.txt' });
    expect(pod.output.error).toBeUndefined();
    expect(pod.exitCode).toBe(0);
    expect(pod.output.arn).toMatch(new RegExp(`^arn:aws:sts::${stage.deployment.pseudo.accountId}:assumed-role/${stage.deployment.ref(roleLogicalId)}/`));
    expect(pod.output.body).toBe('data only the s3-reader role may read');

    // moto does not check the token; check what STS would: the signature against the published
    // JWKS (fetched as STS would, from the issuer), the issuer, and the audience.
    const exchange = stage.proxy.calls.find((call) => call.seq > since && call.body.toString().includes('Action=AssumeRoleWithWebIdentity'))!;
    const received = new URLSearchParams(exchange.body.toString()).get('WebIdentityToken')!;
    expect(received).toBe(projected);
    const remote = createRemoteJWKSet(new URL(`${stage.issuer}/openid/v1/jwks`), { [joseCustomFetch]: stage.documentServer.fetch });
    await expect(jwtVerify(received, remote, { issuer: stage.issuer, audience: 'sts.amazonaws.com' })).resolves.toBeDefined();
  });

  it('the trust policy admits only that service account\'s tokens with the STS audience', () => {
    const roleLogicalId = stage.ids.serviceAccountRoles[SA_NAME];
    const trust = stage.deployment.trustPolicy(roleLogicalId);
    const host = stage.issuer.replace(/^https:\/\//, '');
    const ask = (sub: string, aud: string) => evaluate({ identity: [], resource: [trust] }, {
      principal: { type: 'Federated', id: stage.deployment.ref(stage.ids.provider) },
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: String(stage.deployment.resolver.resolve({ 'Fn::GetAtt': [roleLogicalId, 'Arn'] })),
      context: { [`${host}:sub`]: sub, [`${host}:aud`]: aud },
    }).decision;
    expect(ask(`system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`, 'sts.amazonaws.com')).toBe('allow');
    expect(ask(`system:serviceaccount:${SA_NAMESPACE}:other`, 'sts.amazonaws.com')).toBe('implicit-deny');
    expect(ask(`system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`, VERIFY_AUDIENCE)).toBe('implicit-deny');
  });
});

describe('IAM: every AWS call made is allowed by the template', () => {
  it('judges each recorded call of the sync, the verifier and the pod against its role\'s policies (and the bucket policies): none is refused', () => {
    const judgements = stage.judgeCalls(stage.proxy.calls);
    const refused = judgements.filter((judgement) => judgement.decision === 'implicit-deny' || judgement.decision === 'explicit-deny');
    expect(refused).toEqual([]);
    const byPrincipal = (principal: string) => new Set(judgements.filter((judgement) => judgement.principal === principal).map((judgement) => judgement.action));
    const syncRole = stage.deployment.functionSpec(stage.ids.syncFunction).roleLogicalId;
    const verifyRole = stage.deployment.functionSpec(stage.ids.verifyFunction).roleLogicalId;
    expect([...byPrincipal(syncRole)].sort()).toEqual(['cloudfront:CreateInvalidation', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sns:Publish', 'ssm:GetParameter']);
    expect([...byPrincipal(verifyRole)]).toEqual(['s3:GetObject']);
    expect([...byPrincipal(stage.ids.serviceAccountRoles[SA_NAME])].sort()).toEqual(['s3:GetObject', 'sts:GetCallerIdentity']);
    expect(judgements.some((judgement) => judgement.principal.startsWith('web identity') && judgement.decision === 'allow')).toBe(true);
    // Only the operator's own uploads (a role outside the stack) are left unjudged.
    const unjudged = judgements.filter((judgement) => judgement.decision === 'not-checked');
    expect(unjudged.every((judgement) => judgement.action === 's3:PutObject' && judgement.resource.includes('/keys/'))).toBe(true);
  });

  it('would refuse the sync\'s invalidation if the template lacked that statement', () => {
    const syncRole = stage.deployment.functionSpec(stage.ids.syncFunction).roleLogicalId;
    const invalidation = stage.proxy.calls.find((call) => call.signedService === 'cloudfront')!;
    const [judged] = stage.judgeCalls([invalidation]);
    expect(judged.decision).toBe('allow');
    const without = stage.deployment.identityPolicies(syncRole).map((document) => ({
      ...document,
      Statement: (Array.isArray(document.Statement) ? document.Statement : [document.Statement]).filter((statement) => statement.Sid !== 'InvalidateTheIssuerDistribution'),
    }));
    const decision = evaluate({ identity: without, resource: [] }, {
      principal: { type: 'AWS', id: stage.deployment.functionSpec(stage.ids.syncFunction).roleArn },
      action: judged.action,
      resource: judged.resource,
      context: {},
    });
    expect(decision.decision).toBe('implicit-deny');
  });
});

describe('what operators rely on after deploy', () => {
  it('every custom metric an alarm of the template watches is emitted by the sync handler, with the same namespace and dimensions', () => {
    const emitted = jsonLogLines(invocations).flatMap((line) => {
      const aws = line._aws as { CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } | undefined;
      return (aws?.CloudWatchMetrics ?? []).flatMap((directive) => directive.Metrics.flatMap((metric) => directive.Dimensions.map((dimensions) => ({
        namespace: directive.Namespace,
        metric: metric.Name,
        dimensions: [...dimensions].sort().join(','),
      }))));
    });
    expect(emitted.length).toBeGreaterThan(0);
    const alarms = Object.values(stage.stack.resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm' && !String(resource.Properties?.Namespace).startsWith('AWS/'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      const p = alarm.Properties!;
      const watched = { namespace: String(p.Namespace), metric: String(p.MetricName), dimensions: ((p.Dimensions ?? []) as { Name: string }[]).map((d) => d.Name).sort().join(',') };
      const match = emitted.find((metric) => metric.namespace === watched.namespace && metric.metric === watched.metric && metric.dimensions === watched.dimensions);
      expect({ alarmWatches: watched, emitted: match !== undefined }).toEqual({ alarmWatches: watched, emitted: true });
    }
  });

  it('no handler log line holds a token or key material', () => {
    const logs = invocations.flatMap((invocation) => invocation.logs).join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const used of tokensUsed) {
      expect(logs.includes(used)).toBe(false);
      expect(logs.includes(used.split('.')[2])).toBe(false);
    }
    expect(logs).not.toMatch(/PRIVATE KEY|BEGIN PUBLIC KEY/);
    expect(logs.includes(stage.apiserverToken)).toBe(false);
  });
});
