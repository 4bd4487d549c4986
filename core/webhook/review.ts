/**
 * The admission review as a pure function: the raw request body in, the AdmissionReview response
 * and one log record out. The HTTPS server and `kube-oidc webhook review` are thin adapters over
 * it. The webhook never refuses a pod: every answer is `allowed: true`, with a patch or without.
 */
import { mutatePod, RandomSource } from './mutate';
import { WebhookOptions } from './options';
import { AdmissionReviewRequest, AdmissionReviewResponse, Pod, ServiceAccount } from './types';

/** What the ServiceAccount source said about the pod's account. */
export type ServiceAccountLookup =
  | { readonly status: 'found'; readonly serviceAccount: ServiceAccount }
  | { readonly status: 'not-found' }
  /** The cache could not answer (not synced, API unreachable): the pod is admitted unchanged. */
  | { readonly status: 'unavailable'; readonly reason: string };

/** Why a review left the pod as it was, or that it changed it. */
export type ReviewOutcome = 'mutated' | 'unchanged' | 'not-applicable' | 'lookup-failed';

/** One log line's worth of facts about a review: never the pod spec, never a token. */
export interface ReviewRecord {
  readonly uid: string;
  readonly namespace: string;
  /** The pod's name, or its generateName prefix followed by "*". */
  readonly pod: string;
  readonly serviceAccount: string;
  readonly operation: string;
  readonly outcome: ReviewOutcome;
  /** The role injected, when the AWS identity was. */
  readonly roleArn?: string;
  /** Service-to-service audiences injected. */
  readonly audiences: readonly string[];
  readonly patchOperations: number;
  readonly warnings: readonly string[];
  /** Why nothing was done (not a pod CREATE, no ServiceAccount, lookup failure). */
  readonly reason?: string;
}

/** A parsed request body, or why it is not an AdmissionReview (the server answers 400). */
export type ParsedReview = { readonly ok: true; readonly review: AdmissionReviewRequest } | { readonly ok: false; readonly reason: string };

/** The request's pod and the account to look up; undefined when the review is not about a pod being created. */
export interface PodSubject {
  readonly pod: Pod;
  readonly namespace: string;
  readonly serviceAccountName: string;
}

/** Parses the raw body of a POST from kube-apiserver. */
export function parseAdmissionReview(body: string): ParsedReview {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the body is not JSON' };
  }
  if (!isObject(value)) return { ok: false, reason: 'the body is not a JSON object' };
  if (value.kind !== 'AdmissionReview') return { ok: false, reason: `kind is ${JSON.stringify(value.kind)}, expected AdmissionReview` };
  if (value.apiVersion !== 'admission.k8s.io/v1') {
    return { ok: false, reason: `apiVersion is ${JSON.stringify(value.apiVersion)}; only admission.k8s.io/v1 is served (admissionReviewVersions: [v1])` };
  }
  const request = value.request;
  if (!isObject(request)) return { ok: false, reason: 'request is missing' };
  if (typeof request.uid !== 'string' || request.uid === '') return { ok: false, reason: 'request.uid is missing' };
  return { ok: true, review: value as unknown as AdmissionReviewRequest };
}

/** The pod and ServiceAccount a review is about, when it is a pod CREATE. */
export function podSubject(review: AdmissionReviewRequest): PodSubject | undefined {
  const { request } = review;
  const isPod = (request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '') || (request.resource?.resource === 'pods' && (request.resource.group ?? '') === '');
  if (!isPod || request.operation !== 'CREATE' || (request.subResource ?? '') !== '' || !isObject(request.object)) return undefined;
  const pod = request.object as Pod;
  if (!isObject(pod.spec)) return undefined;
  // The ServiceAccount admission plugin runs before mutating webhooks and fills in "default"; be safe anyway.
  const serviceAccountName = typeof pod.spec.serviceAccountName === 'string' && pod.spec.serviceAccountName !== '' ? pod.spec.serviceAccountName : 'default';
  const namespace = typeof request.namespace === 'string' && request.namespace !== '' ? request.namespace : (pod.metadata?.namespace ?? '');
  return { pod, namespace, serviceAccountName };
}

/**
 * Answers a review: the pod's patch when it is a pod CREATE whose ServiceAccount or annotations
 * ask for tokens; `allowed: true` without a patch otherwise.
 */
export function answerReview(
  review: AdmissionReviewRequest,
  lookup: ServiceAccountLookup,
  options: WebhookOptions,
  random: RandomSource,
): { readonly response: AdmissionReviewResponse; readonly record: ReviewRecord } {
  const { request } = review;
  const subject = podSubject(review);
  const base = {
    uid: request.uid,
    operation: typeof request.operation === 'string' ? request.operation : '',
    namespace: subject?.namespace ?? (typeof request.namespace === 'string' ? request.namespace : ''),
    pod: subject ? podLabel(subject.pod) : '',
    serviceAccount: subject?.serviceAccountName ?? '',
    audiences: [] as string[],
    patchOperations: 0,
    warnings: [] as string[],
  };
  const allowed = (extra: Partial<AdmissionReviewResponse['response']> = {}): AdmissionReviewResponse => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid, allowed: true, ...extra },
  });
  if (!subject) {
    return { response: allowed(), record: { ...base, outcome: 'not-applicable', reason: 'not a pod CREATE' } };
  }
  if (lookup.status === 'unavailable') {
    return { response: allowed(), record: { ...base, outcome: 'lookup-failed', reason: lookup.reason } };
  }
  const serviceAccount = lookup.status === 'found' ? lookup.serviceAccount : undefined;
  const mutation = mutatePod(subject.pod, serviceAccount, options, random);
  const warnings = mutation.warnings.map((warning) => warning.slice(0, 400));
  const extra = warnings.length > 0 ? { warnings } : {};
  const record = {
    ...base,
    ...(mutation.roleArn ? { roleArn: mutation.roleArn } : {}),
    audiences: mutation.audiences,
    patchOperations: mutation.operations.length,
    warnings,
    ...(lookup.status === 'not-found' ? { reason: `ServiceAccount ${subject.namespace}/${subject.serviceAccountName} not found` } : {}),
  };
  if (mutation.operations.length === 0) {
    return { response: allowed(extra), record: { ...record, outcome: 'unchanged' } };
  }
  const patch = Buffer.from(JSON.stringify(mutation.operations), 'utf8').toString('base64');
  return { response: allowed({ patchType: 'JSONPatch', patch, ...extra }), record: { ...record, outcome: 'mutated' } };
}

function podLabel(pod: Pod): string {
  if (pod.metadata?.name) return pod.metadata.name;
  return pod.metadata?.generateName ? `${pod.metadata.generateName}*` : '';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
