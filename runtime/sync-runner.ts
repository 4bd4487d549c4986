/**
 * Runs one JWKS sync against real storage: reads the sources, the deny list, the rotation state
 * and the published documents, asks the pure planner what to do, then writes the JWKS, the
 * discovery document and the state (in that order), invalidates what changed and announces new
 * keys. Concurrent runs are serialised by a conditional write of the state object: the loser
 * starts over from what the winner wrote.
 */
import { planSync, parseRotationState, RotationState, serializeRotationState, SourceObservation, StoredDocument, SyncPlan } from '../core/rotation';
import { documentPaths } from '../core/documents';
import { parseDenyList } from '../core/deny-list';
import type { KeySource } from './key-sources';
import { ObjectStore, PreconditionFailed } from './object-store';

/** Where the sync reads and writes, and how it talks to the outside. */
export interface SyncDependencies {
  /** The bucket CloudFront serves: the two documents only. */
  readonly documents: ObjectStore;
  /** The private bucket: uploaded keys, rotation state, deny list. */
  readonly privateStore: ObjectStore;
  readonly sources: readonly KeySource[];
  /** Epoch seconds now. */
  readonly now: () => number;
  /** Invalidates CloudFront paths (absent in local mode). */
  readonly invalidate?: (paths: readonly string[]) => Promise<void>;
  /** Sends an operator notification (the alarm topic). */
  readonly notify?: (subject: string, message: string) => Promise<void>;
}

/** The sync's settings, read once by the adapter. */
export interface SyncSettings {
  readonly issuer: string;
  readonly stateKey: string;
  readonly denyListKey: string;
  readonly gracePeriodSeconds: number;
  readonly cacheMaxAgeSeconds: number;
  readonly includeKidlessDuplicates: boolean;
}

/** What one run did: the plan's decision plus what happened when carrying it out. */
export interface SyncReport {
  readonly outcome: 'published' | 'unchanged' | 'failed';
  readonly failureReason?: string;
  readonly plan?: SyncPlan;
  readonly sourcesRead: readonly string[];
  readonly privateKeyInputs: readonly string[];
  /** Attempts made: more than one when a concurrent run won the state write. */
  readonly attempts: number;
  readonly durationMs: number;
  readonly lastPublishedAt?: number;
}

/** Default settings, the same the stack and local mode use. */
export const SYNC_DEFAULTS = {
  stateKey: 'state/rotation.json',
  denyListKey: 'control/deny-list.json',
  keyPrefix: 'keys/',
  gracePeriodSeconds: 86_400,
  cacheMaxAgeSeconds: 300,
} as const;

const MAX_ATTEMPTS = 4;

/** Runs one sync. Never throws for a storage or source fault: the report says what failed. */
export async function runSync(deps: SyncDependencies, settings: SyncSettings): Promise<SyncReport> {
  const started = Date.now();
  let attempts = 0;
  let lastReport: Omit<SyncReport, 'attempts' | 'durationMs'> | undefined;
  while (attempts < MAX_ATTEMPTS) {
    attempts += 1;
    try {
      lastReport = await attempt(deps, settings);
      break;
    } catch (err) {
      if (err instanceof PreconditionFailed && attempts < MAX_ATTEMPTS) continue;
      lastReport = { outcome: 'failed', failureReason: `storage error: ${errorMessage(err)}`, sourcesRead: [], privateKeyInputs: [] };
      break;
    }
  }
  const report = { ...lastReport!, attempts, durationMs: Date.now() - started };
  await announce(deps, settings, report);
  return report;
}

async function attempt(deps: SyncDependencies, settings: SyncSettings): Promise<Omit<SyncReport, 'attempts' | 'durationMs'>> {
  const now = deps.now();
  const stateObject = await deps.privateStore.get(settings.stateKey);
  const previous: RotationState | undefined = stateObject ? parseRotationState(stateObject.body) : undefined;
  const denyListObject = await deps.privateStore.get(settings.denyListKey);
  // A deny list that cannot be read must stop the run: publishing without it could bring a revoked key back.
  const revokedKids = new Set(denyListObject ? readRevokedKids(denyListObject.body, settings.denyListKey) : []);

  const privateKeyInputs: string[] = [];
  const observations: SourceObservation[] = await Promise.all(deps.sources.map(async (source): Promise<SourceObservation> => {
    try {
      const reading = await source.read();
      privateKeyInputs.push(...reading.privateKeyInputs);
      return { source: source.id, ok: true, keys: reading.keys, problems: reading.problems };
    } catch (err) {
      return { source: source.id, ok: false, error: errorMessage(err) };
    }
  }));

  const paths = documentPaths(settings.issuer);
  const current: Record<string, StoredDocument | undefined> = {};
  for (const key of [paths.jwksKey, paths.jwksAliasKey, paths.discoveryKey]) current[key] = await deps.documents.get(key);

  const plan = planSync({
    issuer: settings.issuer,
    previous,
    observations,
    revokedKids,
    now,
    gracePeriodSeconds: settings.gracePeriodSeconds,
    cacheMaxAgeSeconds: settings.cacheMaxAgeSeconds,
    includeKidlessDuplicates: settings.includeKidlessDuplicates,
    current,
  });
  const sourcesRead = deps.sources.map((source) => source.id);

  // JWKS first (both copies): a discovery document must never advertise a key set that is not
  // there yet. A failed run writes only the restored copies of documents someone else changed.
  for (const write of plan.writes) {
    await deps.documents.put(write.key, write.body, { contentType: write.contentType, cacheControl: write.cacheControl });
  }
  // Invalidate before saving the state: the state records what was invalidated, so a failed
  // invalidation leaves the record behind and the next run tries again.
  if (plan.invalidationPaths.length > 0 && deps.invalidate) await deps.invalidate(plan.invalidationPaths);
  if (plan.outcome === 'failed') return { outcome: 'failed', failureReason: plan.failureReason, plan, sourcesRead, privateKeyInputs, lastPublishedAt: previous?.lastPublishedAt };
  if (plan.stateChanged) {
    await deps.privateStore.put(settings.stateKey, serializeRotationState(plan.nextState), {
      contentType: 'application/json',
      ...(stateObject ? { ifMatch: stateObject.etag } : { ifAbsent: true }),
    });
  }
  return { outcome: plan.outcome, plan, sourcesRead, privateKeyInputs, lastPublishedAt: plan.nextState.lastPublishedAt };
}

async function announce(deps: SyncDependencies, settings: SyncSettings, report: SyncReport): Promise<void> {
  if (!deps.notify) return;
  const messages: string[] = [];
  const plan = report.plan;
  if (report.outcome !== 'failed' && plan) {
    if (plan.addedKids.length > 0) messages.push(`New signing key(s) published for ${settings.issuer}: ${plan.addedKids.join(', ')}. If you did not add them, revoke them now (\`kube-oidc keys revoke KID\`).`);
    if (plan.revokedKids.length > 0) messages.push(`Revoked key(s) removed from ${settings.issuer}: ${plan.revokedKids.join(', ')}.`);
  }
  if (plan && plan.kidConflicts.length > 0) {
    const lines = plan.kidConflicts.map((conflict) => conflict.bound
      ? `- kid ${conflict.kid}: other key material offered by ${conflict.sources.join(', ')}; refused, the published key stays.`
      : `- kid ${conflict.kid}: offered with different key material by ${conflict.sources.join(', ')}; neither is published.`);
    messages.push(`kid_conflict: key material was offered under a kid bound to other material, for ${settings.issuer}:\n${lines.join('\n')}\nA kid never changes its key: someone may be trying to substitute a signing key. Find who wrote these objects and remove them.`);
  }
  if (plan && plan.tamperedDocuments.length > 0) {
    messages.push(`documents_tampered: published document(s) of ${settings.issuer} were changed by someone other than the sync: ${plan.tamperedDocuments.join(', ')}. The sync wrote its own version back${report.outcome === 'failed' && plan.writes.length === 0 ? ' (not this run: it could not rebuild it)' : ''}. Check the documents bucket's access logs and policy.`);
  }
  const tooMany = plan?.problems.find((problem) => problem.code === 'too_many_keys');
  if (tooMany) messages.push(`${tooMany.reason}. Nothing was published for ${settings.issuer}; the last good documents stay.`);
  if (report.privateKeyInputs.length > 0) {
    messages.push(`Private key material was found and refused in: ${report.privateKeyInputs.join(', ')}. Delete it, and treat the key as leaked: rotate it.`);
  }
  if (messages.length === 0) return;
  try {
    const alarming = (plan?.kidConflicts.length ?? 0) > 0 || (plan?.tamperedDocuments.length ?? 0) > 0;
    await deps.notify(`kube-oidc: ${alarming ? 'SECURITY ' : ''}key changes for ${settings.issuer}`.slice(0, 99), messages.join('\n\n'));
  } catch {
    // The metric and the log line still carry the news; a notification failure must not fail the sync.
  }
}

function readRevokedKids(text: string, key: string): string[] {
  try {
    return parseDenyList(text).kids.map((entry) => entry.value);
  } catch (err) {
    throw new Error(`deny list ${key} cannot be read (${errorMessage(err)}); nothing is published until it is fixed, so that no revoked key comes back`);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
