/**
 * The fleet verifier's documentation: the fleet entry of docs/verify-api.md validates and synthesizes
 * with the multi-cluster example, and the guide's receiving service authorises on (cluster, namespace,
 * service account) with answers of the real verify core over HTTP on 127.0.0.1.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigValidationError, validateConfigFile } from '../../core/config';
import { handleVerifyRequest } from '../../core/verify-api';
import { trustedIssuersEnv } from '../../lambda/env';
import { addClusterStacks } from '../../lib/cluster-oidc-stack';
import { loadClusterConfig } from '../../lib/config-loader';
import { addFleetVerifyStacks, fleetVerifierFromConfig } from '../../lib/fleet-verify-stack';
import type { FleetVerifierConfig } from '../../lib/fleet-verify-stack';
import { createIssuerKeyCaches } from '../../runtime/issuer-key-caches';
import { testApp } from '../infra/support/synth';
import { kubeClaims, kubeToken, newTestKey, TestKey } from '../support/tokens';
import { docBlock, projectFile, REPO_ROOT } from './support/doc-blocks';

const MULTI_CLUSTER = join(REPO_ROOT, 'examples', 'config', 'multi-cluster.json');

/** A marked block of a page outside DOC_PAGES (docs/verify-api.md is a reference, not checked block by block). */
function markedBlock(page: string, id: string): string {
  const match = new RegExp(`<!-- block: ${id} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\``).exec(projectFile(page));
  if (!match) throw new Error(`no block ${id} in ${page}`);
  return match[1];
}

describe('verify-api-fleet-config', () => {
  const rawFleet = JSON.parse(markedBlock('docs/verify-api.md', 'verify-api-fleet-config')) as Record<string, unknown>;
  const rawFile = JSON.parse(projectFile('examples/config/multi-cluster.json')) as Record<string, unknown>;
  const clusters = loadClusterConfig(MULTI_CLUSTER);
  // The block is an entry of the file's fleetVerifiers, validated as bin/app.ts validates it.
  const [configured] = validateConfigFile({ ...rawFile, fleetVerifiers: [rawFleet] }, { readKeyFile: (file) => readFileSync(join(REPO_ROOT, 'examples', 'config', file), 'utf8') }).fleetVerifiers;
  const fleet = fleetVerifierFromConfig(configured);

  function synth(config: FleetVerifierConfig) {
    const app = testApp();
    const stacks = addClusterStacks(app, clusters);
    const [stack] = addFleetVerifyStacks(app, [config], clusters, new Map(stacks.map((s, i) => [clusters[i].name, s.issuerSite])));
    return stack;
  }

  test('synthesizes with the multi-cluster example: prod-eu from its buckets, the EKS issuer through discovery', () => {
    const stack = synth(fleet);
    expect(stack.stackName).toBe('OidcFleet-fleet-eu');
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const variables = (Object.values(functions)[0].Properties as { Environment: { Variables: { TRUSTED_ISSUERS: unknown } } }).Environment.Variables;
    // The JSON with each deploy-time name (another stack's output) made a plain word, as the handler reads it.
    const value = variables.TRUSTED_ISSUERS as string | { 'Fn::Join': [string, unknown[]] };
    const plain = typeof value === 'string' ? value : value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'deploy-time-name')).join('');
    expect(trustedIssuersEnv('TRUSTED_ISSUERS', { TRUSTED_ISSUERS: plain })).toEqual([
      expect.objectContaining({ issuer: 'https://oidc.example.com/prod-eu', cluster: 'prod-eu', jwksKey: 'prod-eu/openid/v1/jwks', denyListKey: 'control/deny-list.json' }),
      { issuer: (rawFleet.externalIssuers as { url: string }[])[0].url, cluster: 'eks-payments', discovery: true },
    ]);
  });

  test('trusting staging (another account, CloudFront default domain) is refused as the table says', () => {
    let problems: readonly string[] = [];
    try {
      synth({ ...fleet, trustClusters: [...fleet.trustClusters, 'staging'] });
    } catch (err) {
      if (!(err instanceof ConfigValidationError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([expect.stringMatching(/"staging" is in another (account|region) and its issuer is the CloudFront default domain/)]);
  });
});

describe('verify-api-fleet-own-audiences', () => {
  const rawFleet = JSON.parse(markedBlock('docs/verify-api.md', 'verify-api-fleet-own-audiences')) as Record<string, unknown>;
  const rawFile = JSON.parse(projectFile('examples/config/multi-cluster.json')) as Record<string, unknown>;

  test('validates with the multi-cluster example, and each issuer keeps its own audiences (and the lab issuer its CA) in the stack\'s props', () => {
    const [configured] = validateConfigFile({ ...rawFile, fleetVerifiers: [rawFleet] }, { readKeyFile: (file) => readFileSync(join(REPO_ROOT, 'examples', 'config', file), 'utf8') }).fleetVerifiers;
    const fleet = fleetVerifierFromConfig(configured);
    expect(fleet.audiences).toEqual(['orders.example.internal']);
    expect(fleet.trustClusters).toEqual([{ name: 'prod-eu', audiences: ['payments.example.com'] }]);
    expect(fleet.externalIssuers).toEqual([{
      issuer: 'https://oidc.example.net/lab', name: 'lab', audiences: ['lab.example.com'], caBundlePem: expect.stringMatching(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/),
    }]);
  });
});

describe('guide-fleet-receiver', () => {
  const ISSUERS = { 'prod-eu': 'https://oidc.example.com/prod-eu', staging: 'https://oidc.example.com/staging' } as const;
  const keys: Record<keyof typeof ISSUERS, TestKey> = { 'prod-eu': newTestKey('RS256'), staging: newTestKey('ES256') };
  let server: Server;
  let url: string;
  let dir: string;
  let authorizeCaller: (verifyApiUrl: string, token: string) => Promise<{ allowed: boolean; caller?: string; reason?: string }>;

  beforeAll(async () => {
    const fleetKeys = createIssuerKeyCaches(
      (Object.keys(ISSUERS) as (keyof typeof ISSUERS)[]).map((cluster) => ({
        cluster,
        policy: { issuer: ISSUERS[cluster], allowedAudiences: ['orders.example.internal'], defaultAudiences: ['orders.example.internal'], clockSkewSeconds: 60, maxTokenBytes: 16384, kidlessCompat: false },
        loadJwks: async () => JSON.stringify({ keys: [keys[cluster].jwk] }),
        loadDenyList: async () => undefined,
      })),
      { nowMs: () => Date.now() },
    );
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => { body += String(chunk); });
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
        void handleVerifyRequest({ method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0], headers, query: {}, body }, {
          keys: fleetKeys, now: () => Math.floor(Date.now() / 1000), authAudiences: ['orders.example.internal'],
        }).then((answer) => {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'kube-oidc-fleet-doc-'));
    writeFileSync(join(dir, 'receiver.cjs'), docBlock('guide-fleet-receiver').text);
    ({ authorizeCaller } = require(join(dir, 'receiver.cjs')) as { authorizeCaller: typeof authorizeCaller });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (key: TestKey, issuer: string, namespace = 'payments', serviceAccount = 'api') =>
    kubeToken(key, kubeClaims({ issuer, audiences: ['orders.example.internal'], namespace, serviceAccount, iat: Math.floor(Date.now() / 1000) - 5 }));

  test('allows payments/api of prod-eu, and refuses payments/api of staging: the cluster is part of the identity', async () => {
    await expect(authorizeCaller(url, token(keys['prod-eu'], ISSUERS['prod-eu']))).resolves.toEqual({ allowed: true, caller: 'prod-eu/payments/api' });
    await expect(authorizeCaller(url, token(keys.staging, ISSUERS.staging))).resolves.toEqual({ allowed: false, caller: 'staging/payments/api' });
    await expect(authorizeCaller(url, token(keys['prod-eu'], ISSUERS['prod-eu'], 'payments', 'worker'))).resolves.toEqual({ allowed: false, caller: 'prod-eu/payments/worker' });
  });

  test('a token of an untrusted issuer, or claiming prod-eu with staging\'s key, is not a caller at all', async () => {
    await expect(authorizeCaller(url, token(newTestKey('RS256'), 'https://oidc.example.com/elsewhere'))).resolves.toEqual({ allowed: false, reason: 'unknown_issuer' });
    await expect(authorizeCaller(url, token(keys.staging, ISSUERS['prod-eu']))).resolves.toEqual({ allowed: false, reason: 'unknown_kid' });
  });
});
