/**
 * Rehearsal of the fleet verifier: two clusters and the fleet stack trusting both, synthesized in
 * one app, created in moto in deployment order (the clusters, then the fleet reading their outputs);
 * the fleet's bundled verifier runs with the template's environment and its role's credentials,
 * reading each cluster's published JWKS and deny list through the recording proxy, and every call
 * it makes is judged against the template's IAM.
 */
import { addDenyEntry, emptyDenyList, serializeDenyList } from '../../core/deny-list';
import { trustedIssuersEnv } from '../../lambda/env';
import { httpApiEvent } from '../support/rehearsal/events';
import { FLEET_AUDIENCE, FleetClusterName, FleetStage, startFleetStage } from '../support/rehearsal/fleet';
import type { LambdaProcess } from '../support/rehearsal/lambda';
import { s3ObjectOf } from '../support/rehearsal/proxy';
import { kubeClaims, kubeToken, newTestKey, TestKey } from '../support/tokens';

interface HttpResult { statusCode: number; headers?: Record<string, string>; body?: string }

let stage: FleetStage;
let verifier: LambdaProcess;
const keys: Record<FleetClusterName, TestKey> = { alpha: newTestKey('RS256'), beta: newTestKey('ES256') };

function token(key: TestKey, issuer: string, serviceAccount = 'api'): string {
  return kubeToken(key, kubeClaims({ issuer, audiences: [FLEET_AUDIENCE], namespace: 'payments', serviceAccount, iat: Math.floor(Date.now() / 1000) - 5, lifetimeSeconds: 3600 }));
}

async function verify(tok: string): Promise<Record<string, unknown>> {
  const invocation = await verifier.invoke<HttpResult>(httpApiEvent('POST /verify', { method: 'POST', path: '/verify', body: JSON.stringify({ token: tok }) }));
  expect(invocation.error).toBeUndefined();
  expect(invocation.result!.statusCode).toBe(200);
  return JSON.parse(invocation.result!.body!) as Record<string, unknown>;
}

beforeAll(async () => {
  stage = await startFleetStage();
  await stage.putJwks('alpha', [keys.alpha.jwk]);
  await stage.putJwks('beta', [keys.beta.jwk]);
  // beta revokes one service account; alpha's list is empty.
  await stage.putDenyList('alpha', serializeDenyList(emptyDenyList()));
  await stage.putDenyList('beta', serializeDenyList(addDenyEntry(emptyDenyList(), 'serviceAccount', 'payments/revoked', { at: Math.floor(Date.now() / 1000), reason: 'rehearsal' })));
  verifier = await stage.startVerifier();
}, 300_000);

afterAll(async () => {
  await stage?.close();
});

describe('the fleet stack deployed after its clusters', () => {
  it('gets a TRUSTED_ISSUERS naming each cluster\'s issuer and the buckets created for it', () => {
    const env = stage.fleet.deployment.functionSpec(stage.fleet.verifierFunction).environment;
    expect(env.ISSUER_URL).toBeUndefined();
    const entries = trustedIssuersEnv('TRUSTED_ISSUERS', env)!;
    expect(entries).toEqual((['alpha', 'beta'] as const).map((name) => ({
      issuer: stage.clusters[name].issuer,
      cluster: name,
      documentsBucket: stage.clusters[name].documentsBucket,
      jwksKey: stage.clusters[name].jwksKey,
      privateBucket: stage.clusters[name].privateBucket,
      denyListKey: 'control/deny-list.json',
    })));
    expect(stage.clusters.alpha.issuer).not.toBe(stage.clusters.beta.issuer);
    expect(stage.clusters.alpha.issuer).toMatch(/^https:\/\/[a-z0-9]+\.cloudfront\.net$/);
  });
});

describe('the bundled fleet verifier', () => {
  it('verifies tokens of both clusters, each answer naming its issuer and cluster', async () => {
    for (const name of ['alpha', 'beta'] as const) {
      const answer = await verify(token(keys[name], stage.clusters[name].issuer));
      expect(answer).toMatchObject({ authenticated: true, issuer: stage.clusters[name].issuer, cluster: name, user: { username: 'system:serviceaccount:payments:api' } });
    }
  });

  it('refuses a token claiming alpha\'s issuer signed with beta\'s key and kid', async () => {
    const forged = token(keys.beta, stage.clusters.alpha.issuer);
    const answer = await verify(forged);
    // alpha's key set has no key with beta's kid: the kid is looked up in the claimed issuer's keys only.
    expect(answer).toMatchObject({ authenticated: false, reason: 'unknown_kid' });
    // And the same key is good for beta's own tokens: only the issuer's own key set was consulted.
    expect((await verify(token(keys.beta, stage.clusters.beta.issuer))).authenticated).toBe(true);
  });

  it('applies each cluster\'s own deny list', async () => {
    const revoked = await verify(token(keys.beta, stage.clusters.beta.issuer, 'revoked'));
    expect(revoked).toMatchObject({ authenticated: false, reason: 'revoked' });
    expect((await verify(token(keys.alpha, stage.clusters.alpha.issuer, 'revoked'))).authenticated).toBe(true);
  });

  it('refuses a token of an issuer it does not trust with unknown_issuer, without reading S3', async () => {
    const since = stage.proxy.lastSeq();
    const stranger = newTestKey('RS256');
    const answer = await verify(token(stranger, 'https://d111111abcdef8.cloudfront.net'));
    expect(answer).toMatchObject({ authenticated: false, reason: 'unknown_issuer' });
    expect(stage.proxy.calls.filter((call) => call.seq > since)).toEqual([]);
  });
});

describe('IAM: every AWS call of the fleet verifier is allowed by the template', () => {
  it('reads only the two clusters\' JWKS and deny-list objects, each call allowed by its role policy', () => {
    const calls = stage.proxy.calls;
    expect(calls.length).toBeGreaterThan(0);
    const judgements = stage.judgeCalls(calls);
    expect(judgements.filter((j) => j.decision !== 'allow')).toEqual([]);
    expect(new Set(judgements.map((j) => `${j.action} ${j.statement ?? ''}`))).toEqual(new Set(['s3:GetObject ReadTheTrustedIssuersJwksAndDenyLists']));
    const read = new Set(calls.map((call) => { const object = s3ObjectOf(call); return `${object?.bucket}/${object?.key}`; }));
    const expected = new Set((['alpha', 'beta'] as const).flatMap((name) => [
      `${stage.clusters[name].documentsBucket}/${stage.clusters[name].jwksKey}`,
      `${stage.clusters[name].privateBucket}/control/deny-list.json`,
    ]));
    expect(read).toEqual(expected);
  });

  it('would refuse a read the template does not grant (the other objects of a cluster\'s buckets)', () => {
    const fleet = stage.fleet.deployment;
    const role = fleet.functionSpec(stage.fleet.verifierFunction).roleLogicalId;
    const probe = (bucket: string, key: string) => stage.judgeCalls([{
      seq: 0, atMs: 0, method: 'GET', url: `/${bucket}/${key}`, headers: {}, body: Buffer.alloc(0), signedService: 's3',
      accessKeyId: [...stage.proxy.calls].reverse().find((call) => call.signedService === 's3')!.accessKeyId!,
    }])[0];
    expect(probe(stage.clusters.alpha.privateBucket, 'state/rotation.json')).toMatchObject({ principal: role, decision: 'implicit-deny' });
    expect(probe(stage.clusters.beta.documentsBucket, '.well-known/openid-configuration')).toMatchObject({ principal: role, decision: 'implicit-deny' });
  });
});
