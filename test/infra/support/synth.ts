/**
 * Test apps for the infra suite: the same feature flags as cdk.json, validated cluster configs,
 * and synthesis with or without Lambda bundling (bundling is skipped where only the template's
 * shape matters, to keep the suite fast).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { validateConfig } from '../../../core/config';
import type { ClusterConfig } from '../../../core/config';
import { addClusterStacks } from '../../../lib/cluster-oidc-stack';
import type { ClusterOidcStack } from '../../../lib/cluster-oidc-stack';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const KEY_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'kube-format');

/** The context of cdk.json (feature flags), so tests synthesize what `cdk synth` does. */
export const CDK_CONTEXT: Record<string, unknown> = (() => {
  const { context } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const { config: _config, ...flags } = context;
  return flags;
})();

export type Json = Record<string, unknown>;

export const ACCOUNT = '123456789012';
export const CUSTOM_ISSUER = {
  url: 'https://oidc.example.com/cluster-a',
  hostedZoneId: 'Z0123456789ABCDEFGHIJ',
  hostedZoneName: 'example.com',
  certificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0a1b2c3d-1111-2222-3333-444455556666`,
};
export const WRITER_ARN = `arn:aws:iam::${ACCOUNT}:role/KeyPublisher`;
export const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:kube/discovery-AbCdEf`;
export const CALLER_ARN = `arn:aws:iam::${ACCOUNT}:role/Billing`;

/** A cluster on the CloudFront default domain: the issuer is a deploy-time token. */
export function defaultDomainCluster(): Json {
  return {
    name: 'dev',
    keySources: { configKeys: [{ file: 'sa-rsa.pub' }, { file: 'sa-ec.pub' }] },
    serviceAccountRoles: [
      { id: 'payments-api', namespace: 'payments', serviceAccount: 'api', managedPolicyArns: ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'] },
      { id: 'ci-runners', namespace: 'ci', serviceAccount: 'runner-', match: 'namePrefix' },
      { id: 'monitoring', namespace: 'monitoring', match: 'namespace', inlinePolicyStatements: [{ Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*' }] },
    ],
    verifyApi: { audiences: ['verify.dev.example.com'] },
  };
}

/** A cluster using every feature: custom domain, uploads, cluster endpoint, IAM-authorized Verify API. */
export function fullCluster(): Json {
  return {
    name: 'prod',
    env: { account: ACCOUNT, region: 'us-east-1' },
    issuer: CUSTOM_ISSUER,
    audiences: ['sts.amazonaws.com', 'vault.example.com'],
    keySources: {
      upload: { enabled: true, writerArns: [WRITER_ARN] },
      clusterJwks: { url: 'https://api.prod.example.com:6443/openid/v1/jwks', tokenSecretArn: SECRET_ARN },
      configKeys: [{ file: 'sa-rsa.pub' }],
    },
    serviceAccountRoles: [
      {
        id: 'payments-api',
        namespace: 'payments',
        serviceAccount: 'api',
        inlinePolicyStatements: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::payments-data/*'] }],
      },
      { id: 'vault-auth', namespace: 'vault', serviceAccount: 'vault', audience: 'vault.example.com' },
    ],
    rotation: { gracePeriodSeconds: 172800, kidlessCompat: true },
    sync: { scheduleMinutes: 10, cacheMaxAgeSeconds: 120 },
    verifyApi: {
      audiences: ['verify.prod.example.com', 'billing.prod.example.com'],
      defaultAudiences: ['verify.prod.example.com'],
      iamAuth: true,
      callerAudiences: { [CALLER_ARN]: ['billing.prod.example.com'] },
      throttle: { rateLimit: 25, burstLimit: 40 },
      maxTokenLifetimeSeconds: 86400,
    },
    alarms: { emails: ['oncall@example.com'] },
  };
}

/** Validates one raw cluster as bin/app.ts would (key files resolved in the kube-format fixtures). */
export function clusterConfig(raw: Json): ClusterConfig {
  const [cluster] = validateConfig({ clusters: [raw] }, { readKeyFile: (file) => readFileSync(path.join(KEY_FIXTURES, file), 'utf8') });
  return cluster;
}

/**
 * Cloud assembly folders of apps made without an `outdir`. Without one the CDK synthesizes into a
 * fresh `cdk.outXXXXXX` folder of the temp dir and never removes it; these are removed after the
 * test file.
 */
const ownOutdirs: string[] = [];
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const dir of ownOutdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

/** A temp folder for one app's cloud assembly, removed after the test file. */
function ownOutdir(): string {
  const outdir = mkdtempSync(path.join(tmpdir(), 'kube-oidc-test-app-'));
  ownOutdirs.push(outdir);
  return outdir;
}

/** A new app without cdk.json's feature flags (the CDK's defaults), synthesizing into a temp folder. */
export function bareTestApp(): App {
  return new App({ outdir: ownOutdir() });
}

/**
 * A new app with cdk.json's flags; Lambda bundling only when asked for. Without `outdir` it
 * synthesizes into a temp folder removed after the test file (the caller owns an `outdir` it gives).
 */
export function testApp(options: { bundle?: boolean; outdir?: string } = {}): App {
  const outdir = options.outdir ?? ownOutdir();
  return new App({
    context: { ...CDK_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
    outdir,
  });
}

export interface SynthesizedCluster {
  readonly app: App;
  readonly stack: ClusterOidcStack;
  readonly template: Template;
}

/** Synthesizes the stack of one raw cluster config. */
export function synthCluster(raw: Json, options: { bundle?: boolean } = {}): SynthesizedCluster {
  const app = testApp(options);
  const [stack] = addClusterStacks(app, [clusterConfig(raw)]);
  return { app, stack, template: Template.fromStack(stack) };
}

/** The resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, Json> {
  return template.findResources(type) as Record<string, Json>;
}

/** The single resource of a type whose properties match. */
export function onlyResource(template: Template, type: string): { id: string; resource: Json } {
  const found = Object.entries(resourcesOf(template, type));
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return { id: found[0][0], resource: found[0][1] };
}

/** Logical id of the only resource of a type under the given construct path prefix. */
export function logicalIdAt(template: Template, type: string, pathPrefix: string): string {
  const matches = Object.entries(resourcesOf(template, type))
    .filter(([, resource]) => String((resource.Metadata as Json | undefined)?.['aws:cdk:path'] ?? '').startsWith(pathPrefix));
  if (matches.length !== 1) throw new Error(`expected one ${type} under ${pathPrefix}, found ${matches.length}`);
  return matches[0][0];
}
