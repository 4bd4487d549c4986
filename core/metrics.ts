/**
 * Names of the CloudWatch metrics the Lambdas emit (as EMF) and the stack alarms on: one list,
 * imported by both sides so a renamed metric cannot leave an alarm watching nothing.
 */

/** The sync's metrics, without dimensions, in the cluster's own namespace. */
export const SYNC_METRICS = {
  /** 1 for a successful run (documents current), 0 for a failed one. */
  outcome: 'SyncOutcome',
  /** Number of keys in the published JWKS. */
  publishedKeyCount: 'PublishedKeyCount',
  /** 0 after a successful run; after a failed one, seconds since the documents last changed. */
  secondsSinceLastPublish: 'SecondsSinceLastPublish',
  /** Key ids published for the first time by this run. */
  newKids: 'NewKids',
  /** Inputs under the key prefix that held private key material (refused). */
  refusedPrivateKeys: 'RefusedPrivateKeys',
  /** Key sources that failed this run (their keys are kept; a persistent failure hides rotations). */
  failedSources: 'FailedSources',
  /** Kids offered with key material other than the one they are bound to (refused): a substitution attempt. */
  kidConflicts: 'KidConflicts',
  /** Published documents found changed by someone other than the sync (restored). */
  documentsTampered: 'DocumentsTampered',
} as const;

/**
 * The verify API's metrics, one data point per request, dimensioned by `Route` (tokenreview,
 * verify, auth, none) and `Result` (`authenticated`, a reason code, or a request error).
 */
export const VERIFY_METRICS = {
  /** One per request. */
  requests: 'Requests',
  /** Milliseconds spent in the handler. */
  latency: 'LatencyMs',
} as const;

/** Dimension names of {@link VERIFY_METRICS}. */
export const VERIFY_METRIC_DIMENSIONS = ['Route', 'Result'] as const;
