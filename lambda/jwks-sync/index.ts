/**
 * JWKS sync Lambda: runs on a schedule and on every upload under the key prefix, keeps the
 * published discovery documents equal to the cluster's keys (see runtime/sync-runner.ts), and
 * reports one log line with metrics per run.
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { cloudFrontInvalidator, snsNotifier } from '../../runtime/aws-notifications';
import { createS3Client } from '../../runtime/aws-clients';
import { clusterJwksSource, configKeysSourceIfAny, KeySource, uploadedKeysSource } from '../../runtime/key-sources';
import { S3ObjectStore } from '../../runtime/s3-object-store';
import { runSync, SYNC_DEFAULTS, SyncDependencies, SyncReport, SyncSettings } from '../../runtime/sync-runner';
import { logWithMetrics } from '../../runtime/telemetry';
import { SYNC_METRICS } from '../../core/metrics';
import { booleanEnv, integerEnv, optionalEnv, requireEnv } from '../env';

const endpointOverride = optionalEnv('AWS_ENDPOINT_URL');
const settings: SyncSettings = {
  issuer: requireEnv('ISSUER_URL'),
  stateKey: optionalEnv('STATE_KEY') ?? SYNC_DEFAULTS.stateKey,
  denyListKey: optionalEnv('DENY_LIST_KEY') ?? SYNC_DEFAULTS.denyListKey,
  gracePeriodSeconds: integerEnv('GRACE_PERIOD_SECONDS', SYNC_DEFAULTS.gracePeriodSeconds),
  cacheMaxAgeSeconds: integerEnv('CACHE_MAX_AGE_SECONDS', SYNC_DEFAULTS.cacheMaxAgeSeconds),
  includeKidlessDuplicates: booleanEnv('KIDLESS_COMPAT', false),
};
const metricsNamespace = optionalEnv('METRICS_NAMESPACE') ?? 'KubeOidc';
const s3 = createS3Client(endpointOverride);
const documents = new S3ObjectStore(s3, requireEnv('DOCUMENTS_BUCKET'));
const privateStore = new S3ObjectStore(s3, requireEnv('PRIVATE_BUCKET'));
const distributionId = optionalEnv('DISTRIBUTION_ID');
const alarmTopicArn = optionalEnv('ALARM_TOPIC_ARN');

const deps: SyncDependencies = {
  documents,
  privateStore,
  sources: keySources(),
  now: () => Math.floor(Date.now() / 1000),
  invalidate: distributionId ? cloudFrontInvalidator(new CloudFrontClient({}), distributionId) : undefined,
  notify: alarmTopicArn ? snsNotifier(new SNSClient({}), alarmTopicArn) : undefined,
};

function keySources(): KeySource[] {
  const sources: KeySource[] = [];
  const keyPrefix = process.env.KEY_PREFIX ?? SYNC_DEFAULTS.keyPrefix;
  if (keyPrefix !== '') sources.push(uploadedKeysSource(privateStore, keyPrefix));
  const config = configKeysSourceIfAny(optionalEnv('CONFIG_JWKS'));
  if (config) sources.push(config);
  const clusterUrl = optionalEnv('CLUSTER_JWKS_URL');
  if (clusterUrl) {
    sources.push(clusterJwksSource({ url: clusterUrl, caPem: optionalEnv('CLUSTER_CA_BUNDLE'), bearerToken: bearerTokenReader() }));
  }
  return sources;
}

/** Reads the API server bearer token on every run: bound tokens expire and are refreshed outside. */
function bearerTokenReader(): (() => Promise<string | undefined>) | undefined {
  const secretArn = optionalEnv('CLUSTER_TOKEN_SECRET_ARN');
  if (secretArn) {
    const client = new SecretsManagerClient({});
    return async () => (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString?.trim();
  }
  const parameterName = optionalEnv('CLUSTER_TOKEN_PARAMETER_NAME');
  if (parameterName) {
    const client = new SSMClient({});
    return async () => (await client.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }))).Parameter?.Value?.trim();
  }
  return undefined;
}

/** What triggered a run, for the log line. */
function triggerOf(event: unknown): string {
  const e = event as { source?: string; Records?: { eventSource?: string }[] } | undefined;
  if (e?.Records?.[0]?.eventSource === 'aws:s3') return 'upload';
  if (e?.source === 'aws.events') return 'schedule';
  return 'manual';
}

/** The Lambda entry point: an EventBridge scheduled event, an S3 event, or a manual invoke. */
export async function handler(event: unknown): Promise<SyncReport> {
  const report = await runSync(deps, settings);
  const plan = report.plan;
  const now = deps.now();
  const failed = report.outcome === 'failed';
  logWithMetrics(
    metricsNamespace,
    {},
    {
      [SYNC_METRICS.outcome]: { value: failed ? 0 : 1, unit: 'Count' },
      [SYNC_METRICS.publishedKeyCount]: { value: plan?.publishedKids.length ?? 0, unit: 'Count' },
      [SYNC_METRICS.newKids]: { value: failed ? 0 : plan?.addedKids.length ?? 0, unit: 'Count' },
      [SYNC_METRICS.refusedPrivateKeys]: { value: report.privateKeyInputs.length, unit: 'Count' },
      [SYNC_METRICS.failedSources]: { value: plan?.failedSources.length ?? 0, unit: 'Count' },
      [SYNC_METRICS.kidConflicts]: { value: plan?.kidConflicts.length ?? 0, unit: 'Count' },
      [SYNC_METRICS.documentsTampered]: { value: plan?.tamperedDocuments.length ?? 0, unit: 'Count' },
      // A successful run confirms the documents are current; a failed one leaves them as old as their last change.
      [SYNC_METRICS.secondsSinceLastPublish]: { value: failed && report.lastPublishedAt !== undefined ? now - report.lastPublishedAt : 0, unit: 'Seconds' },
    },
    {
      message: 'jwks sync run',
      trigger: triggerOf(event),
      outcome: report.outcome,
      failureReason: report.failureReason,
      sourcesRead: report.sourcesRead,
      failedSources: plan?.failedSources,
      publishedKids: plan?.publishedKids,
      addedKids: plan?.addedKids,
      retiringKids: plan?.retiringKids,
      retiredKids: plan?.retiredKids,
      revokedKids: plan?.revokedKids,
      problems: plan?.problems,
      kidConflicts: plan?.kidConflicts,
      tamperedDocuments: plan?.tamperedDocuments,
      invalidated: plan?.invalidationPaths,
      attempts: report.attempts,
      durationMs: report.durationMs,
    },
  );
  return report;
}
