/** `sync`: one JWKS sync against a deployed cluster's buckets, with the same runner as the Lambda. */
import { readFile } from 'node:fs/promises';
import { parseRotationState } from '../../core/rotation';
import { clusterJwksSource, KeySource, uploadedKeysSource } from '../../runtime/key-sources';
import { runSync, SYNC_DEFAULTS } from '../../runtime/sync-runner';
import { CliError, EXIT_FAILED, EXIT_OK, integerFlag, LeafCommand, readFlagFile, stringFlag, UsageError } from '../command';
import { AwsClientSettings } from '../../runtime/aws-clients';
import { resolveClusterStorage, SYNC_STORAGE_OPTIONS } from '../cluster-storage';

/** The `sync` command. */
export const syncCommand: LeafCommand = {
  name: 'sync',
  summary: 'run one JWKS sync against a cluster\'s buckets (as the Lambda does)',
  description: [
    'Reads the keys uploaded under keys/ (and --jwks-url, when given), the deny list and the rotation state,',
    'then writes the JWKS and the discovery document if they changed and invalidates the changed paths.',
    'Key sources the Lambda reads but this command cannot (the keys in the cluster configuration) are',
    'treated as unreachable, never as empty: their keys stay published and no grace timer starts.',
    'Honours AWS_ENDPOINT_URL (moto, LocalStack).',
  ].join('\n'),
  options: {
    ...SYNC_STORAGE_OPTIONS,
    'jwks-url': { type: 'string', valueName: 'URL', description: 'also read the cluster\'s /openid/v1/jwks' },
    'ca-file': { type: 'string', valueName: 'FILE', description: 'CA bundle for --jwks-url' },
    'token-file': { type: 'string', valueName: 'FILE', description: 'bearer token for --jwks-url' },
    'grace-period': { type: 'string', valueName: 'SECONDS', description: 'how long a removed key stays published', defaultText: String(SYNC_DEFAULTS.gracePeriodSeconds) },
    'max-age': { type: 'string', valueName: 'SECONDS', description: 'Cache-Control max-age of the documents', defaultText: String(SYNC_DEFAULTS.cacheMaxAgeSeconds) },
  },
  examples: ['sync --cluster dev', 'sync --bucket my-private-bucket --documents-bucket my-docs-bucket --issuer https://oidc.example.com'],
  async run(args, context) {
    const jwksUrl = stringFlag(args, 'jwks-url');
    const caFile = stringFlag(args, 'ca-file');
    const tokenFile = stringFlag(args, 'token-file');
    if (!jwksUrl && (caFile || tokenFile)) throw new UsageError('--ca-file and --token-file go with --jwks-url');
    if (jwksUrl && !/^https?:\/\/[^/]/.test(jwksUrl)) throw new UsageError(`--jwks-url must be an absolute URL such as https://10.0.0.10:6443/openid/v1/jwks, got ${JSON.stringify(jwksUrl)}`);
    // Read before any AWS call: an unreadable file is the command line's fault (exit 2), not the sync's.
    const caPem = caFile !== undefined ? readFlagFile(caFile, '--ca-file') : undefined;
    if (tokenFile !== undefined) readFlagFile(tokenFile, '--token-file');
    const gracePeriodSeconds = integerFlag(args, 'grace-period', SYNC_DEFAULTS.gracePeriodSeconds, 0, 10 * 365 * 86_400);
    const cacheMaxAgeSeconds = integerFlag(args, 'max-age', SYNC_DEFAULTS.cacheMaxAgeSeconds, 0, 3600);
    const storage = await resolveClusterStorage(args, context);
    if (!storage.documents || !storage.issuer) throw new UsageError('sync needs the documents bucket and the issuer: use --cluster, or give --documents-bucket and --issuer with --bucket');
    const sources: KeySource[] = [uploadedKeysSource(storage.privateStore, SYNC_DEFAULTS.keyPrefix)];
    if (jwksUrl) {
      sources.push(clusterJwksSource({
        url: jwksUrl,
        caPem,
        // Read at each use: a projected token file is rotated by the kubelet.
        bearerToken: tokenFile ? async () => (await readFile(tokenFile, 'utf8')).trim() : undefined,
      }));
    }
    // Sources the state knows but this process cannot read must count as down, or their keys would retire.
    const state = await storage.privateStore.get(SYNC_DEFAULTS.stateKey);
    const knownSources = state ? Object.values(parseRotationState(state.body).keys).flatMap((record) => record.sources) : [];
    for (const id of new Set(knownSources)) {
      if (!sources.some((source) => source.id === id)) sources.push({ id, read: async () => { throw new Error('not readable from the CLI'); } });
    }
    const invalidate = storage.distributionId ? await invalidatorFor(storage.distributionId, storage.aws.clientSettings) : undefined;
    const report = await runSync({
      documents: storage.documents,
      privateStore: storage.privateStore,
      sources,
      now: () => Math.floor(context.io.now().getTime() / 1000),
      invalidate,
    }, {
      issuer: storage.issuer,
      stateKey: SYNC_DEFAULTS.stateKey,
      denyListKey: SYNC_DEFAULTS.denyListKey,
      gracePeriodSeconds,
      cacheMaxAgeSeconds,
      includeKidlessDuplicates: false,
    });
    const plan = report.plan;
    const lines = [
      `sync of ${storage.description}: ${report.outcome}${report.failureReason ? ` (${report.failureReason})` : ''}`,
      `published kids: ${plan?.publishedKids.join(', ') || '(none)'}`,
      ...(plan?.addedKids.length ? [`added: ${plan.addedKids.join(', ')}`] : []),
      ...(plan?.retiringKids.length ? [`retiring (grace period): ${plan.retiringKids.join(', ')}`] : []),
      ...(plan?.retiredKids.length ? [`retired: ${plan.retiredKids.join(', ')}`] : []),
      ...(plan?.revokedKids.length ? [`revoked: ${plan.revokedKids.join(', ')}`] : []),
      ...(plan?.problems ?? []).map((p) => `skipped ${p.source}: ${p.reason}`),
    ];
    context.emit(lines.join('\n'), {
      outcome: report.outcome,
      failureReason: report.failureReason,
      publishedKids: plan?.publishedKids ?? [],
      addedKids: plan?.addedKids ?? [],
      retiringKids: plan?.retiringKids ?? [],
      retiredKids: plan?.retiredKids ?? [],
      revokedKids: plan?.revokedKids ?? [],
      problems: plan?.problems ?? [],
      invalidated: plan?.invalidationPaths ?? [],
    });
    if (report.outcome === 'failed' && !plan) throw new CliError(report.failureReason ?? 'sync failed');
    return report.outcome === 'failed' ? EXIT_FAILED : EXIT_OK;
  },
};

/** Loads the CloudFront client only when there is a distribution to invalidate. */
async function invalidatorFor(distributionId: string, settings: AwsClientSettings): Promise<(paths: readonly string[]) => Promise<void>> {
  const { CloudFrontClient } = await import('@aws-sdk/client-cloudfront');
  const { cloudFrontInvalidator } = await import('../../runtime/aws-notifications');
  return cloudFrontInvalidator(new CloudFrontClient({ ...settings }), distributionId);
}
