/**
 * The few Kubernetes shapes the webhook reads: a Pod, its containers and volumes, a
 * ServiceAccount and an `admission.k8s.io/v1` AdmissionReview. Only the fields the webhook
 * looks at are typed; everything else travels through untouched, because the webhook answers
 * with a JSON Patch against the object it was given and never re-serialises a whole pod.
 */

/** A name/value environment variable (`valueFrom` is left alone). */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly [key: string]: unknown;
}

/** A container's volume mount. */
export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly [key: string]: unknown;
}

/** A container or init container. */
export interface Container {
  readonly name: string;
  readonly env?: readonly EnvVar[] | null;
  readonly volumeMounts?: readonly VolumeMount[] | null;
  readonly [key: string]: unknown;
}

/** One source of a projected volume; only service-account tokens matter here. */
export interface VolumeProjection {
  readonly serviceAccountToken?: { readonly audience?: string; readonly expirationSeconds?: number; readonly path: string };
  readonly [key: string]: unknown;
}

/** A pod volume. */
export interface Volume {
  readonly name: string;
  readonly projected?: { readonly sources?: readonly VolumeProjection[] | null; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** Object metadata. */
export interface ObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly annotations?: Readonly<Record<string, string>> | null;
  readonly labels?: Readonly<Record<string, string>> | null;
  readonly [key: string]: unknown;
}

/** A Pod, as much of it as the webhook reads. */
export interface Pod {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly serviceAccountName?: string;
    readonly nodeSelector?: Readonly<Record<string, string>> | null;
    readonly containers?: readonly Container[] | null;
    readonly initContainers?: readonly Container[] | null;
    readonly volumes?: readonly Volume[] | null;
    readonly [key: string]: unknown;
  };
}

/** A ServiceAccount: its annotations carry the webhook's instructions. */
export interface ServiceAccount {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta & { readonly name: string };
}

/** One RFC 6902 operation; the webhook only ever adds. */
export interface PatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

/** The request half of an `admission.k8s.io/v1` AdmissionReview. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group?: string; readonly version?: string; readonly kind?: string };
  readonly resource?: { readonly group?: string; readonly version?: string; readonly resource?: string };
  readonly subResource?: string;
  readonly namespace?: string;
  readonly operation?: string;
  readonly dryRun?: boolean;
  readonly object?: unknown;
  readonly [key: string]: unknown;
}

/** An incoming AdmissionReview. */
export interface AdmissionReviewRequest {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly request: AdmissionRequest;
}

/** The webhook's answer: always `allowed: true`; a base64 JSON Patch when the pod changes. */
export interface AdmissionReviewResponse {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly response: {
    readonly uid: string;
    readonly allowed: true;
    readonly patchType?: 'JSONPatch';
    readonly patch?: string;
    /** Shown by kubectl to whoever created the pod: why an annotation was not honoured. */
    readonly warnings?: readonly string[];
  };
}
