/**
 * The webhook's settings and their defaults. The AWS half mirrors the flags of the EKS pod
 * identity webhook (aws/amazon-eks-pod-identity-webhook `main.go`, `pkg/constants.go`) so that
 * a deployment of either can be mapped one to one; the service-to-service half is this project's.
 */

/** Upstream `--annotation-prefix`: the ServiceAccount/pod annotation domain of the AWS identity. */
export const DEFAULT_ANNOTATION_PREFIX = 'eks.amazonaws.com';
/** Upstream `--token-audience`: the audience STS expects. */
export const DEFAULT_AWS_AUDIENCE = 'sts.amazonaws.com';
/** Upstream `--token-mount-path`. */
export const DEFAULT_TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
/** Upstream `--token-expiration` default (`pkg.DefaultTokenExpiration`, 24 hours). */
export const DEFAULT_TOKEN_EXPIRATION = 86400;
/**
 * Lower end of the jitter upstream applies when the default lifetime is in force
 * (`pkg.DefaultMinTokenExpiration`, 22 hours; aws/amazon-eks-pod-identity-webhook PR #260):
 * pods created together then do not all refresh their tokens at the same moment.
 */
export const DEFAULT_TOKEN_EXPIRATION_JITTER_FLOOR = 79200;
/** kube-apiserver refuses projected tokens shorter than 10 minutes (`pkg.MinTokenExpiration`). */
export const MIN_TOKEN_EXPIRATION = 600;
/** The AWS token's projected volume (upstream `volName`). */
export const AWS_TOKEN_VOLUME_NAME = 'aws-iam-token';
/** The file name inside the mount (upstream `tokenName`). */
export const TOKEN_FILE_NAME = 'token';

/**
 * This project's annotation domain for service-to-service tokens. Chosen so it can never be
 * mistaken for an EKS annotation (the EKS webhook ignores it); operators who prefer a domain of
 * their own set `--service-token-annotation-prefix`.
 */
export const DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX = 'kube-oidc-aws.io';
/** Where service-to-service tokens are mounted: one directory per audience below it. */
export const DEFAULT_SERVICE_TOKEN_MOUNT_PATH = '/var/run/secrets/kube-oidc-aws.io/tokens';
/** The one projected volume that carries every service-to-service token of a pod. */
export const SERVICE_TOKEN_VOLUME_NAME = 'kube-oidc-tokens';
/** Default lifetime of a service-to-service token: kube's own default for projected tokens. */
export const DEFAULT_SERVICE_TOKEN_EXPIRATION = 3600;
/** Longest service-to-service token lifetime accepted from an annotation (a bearer token on disk should not live longer). */
export const MAX_SERVICE_TOKEN_EXPIRATION = 86400;
/** Most audiences one pod may ask for: each is a token the kubelet requests and refreshes. */
export const MAX_SERVICE_AUDIENCES = 16;
/** Longest audience accepted (IAM's limit on an OIDC client ID, so the same audiences work with STS). */
export const MAX_AUDIENCE_LENGTH = 255;
/** Prefix of the environment variable naming each service-to-service token file. */
export const SERVICE_TOKEN_ENV_PREFIX = 'KUBE_OIDC_TOKEN_FILE_';

/** Everything the pure core needs to decide a pod's patch. */
export interface WebhookOptions {
  /** Annotation domain of the AWS identity. @default 'eks.amazonaws.com' */
  readonly annotationPrefix: string;
  /** Audience of the AWS token when the ServiceAccount does not name one. @default 'sts.amazonaws.com' */
  readonly defaultAudience: string;
  /** Sets AWS_REGION and AWS_DEFAULT_REGION in containers that set neither. @default - none injected */
  readonly awsDefaultRegion?: string;
  /** Directory of the AWS token. @default '/var/run/secrets/eks.amazonaws.com/serviceaccount' */
  readonly tokenMountPath: string;
  /** AWS token lifetime (seconds) when no annotation sets one. @default 86400, jittered down to 79200 */
  readonly tokenExpiration: number;
  /** Inject AWS_STS_REGIONAL_ENDPOINTS=regional unless the ServiceAccount says otherwise. @default false */
  readonly stsRegionalEndpoint: boolean;
  /** Annotation domain of service-to-service tokens. @default 'kube-oidc-aws.io' */
  readonly serviceTokenAnnotationPrefix: string;
  /** Directory under which each audience gets `<dir>/token`. @default '/var/run/secrets/kube-oidc-aws.io/tokens' */
  readonly serviceTokenMountPath: string;
  /** Service-to-service token lifetime (seconds) when no annotation sets one. @default 3600 */
  readonly serviceTokenExpiration: number;
}

/** The defaults, as upstream ships them plus this project's service-token settings. */
export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
  defaultAudience: DEFAULT_AWS_AUDIENCE,
  tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
  tokenExpiration: DEFAULT_TOKEN_EXPIRATION,
  stsRegionalEndpoint: false,
  serviceTokenAnnotationPrefix: DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX,
  serviceTokenMountPath: DEFAULT_SERVICE_TOKEN_MOUNT_PATH,
  serviceTokenExpiration: DEFAULT_SERVICE_TOKEN_EXPIRATION,
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Fills in defaults and checks every setting; throws an Error naming the setting, the value and
 * the fix. Mount paths lose a trailing slash (upstream joins them with `filepath.Join`).
 */
export function resolveWebhookOptions(given: Partial<WebhookOptions> = {}): WebhookOptions {
  const options = { ...DEFAULT_WEBHOOK_OPTIONS, ...stripUndefined(given) };
  for (const key of ['annotationPrefix', 'serviceTokenAnnotationPrefix'] as const) {
    const value = options[key];
    if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
      throw new Error(`${key} ${JSON.stringify(value)} is not a DNS subdomain (lower-case letters, digits, "-" and "."), as an annotation prefix must be`);
    }
  }
  if (options.annotationPrefix === options.serviceTokenAnnotationPrefix) {
    throw new Error(`annotationPrefix and serviceTokenAnnotationPrefix are both ${options.annotationPrefix}: give them different domains, or their annotations collide`);
  }
  const tokenMountPath = mountPath('tokenMountPath', options.tokenMountPath);
  const serviceTokenMountPath = mountPath('serviceTokenMountPath', options.serviceTokenMountPath);
  if (tokenMountPath === serviceTokenMountPath || serviceTokenMountPath.startsWith(`${tokenMountPath}/`) || tokenMountPath.startsWith(`${serviceTokenMountPath}/`)) {
    throw new Error(`tokenMountPath ${tokenMountPath} and serviceTokenMountPath ${serviceTokenMountPath} overlap: a container cannot mount both`);
  }
  lifetime('tokenExpiration', options.tokenExpiration, MIN_TOKEN_EXPIRATION, 2 ** 32);
  lifetime('serviceTokenExpiration', options.serviceTokenExpiration, MIN_TOKEN_EXPIRATION, MAX_SERVICE_TOKEN_EXPIRATION);
  if (options.defaultAudience === '' || options.defaultAudience.length > MAX_AUDIENCE_LENGTH || /[\s,]/.test(options.defaultAudience)) {
    throw new Error(`defaultAudience ${JSON.stringify(options.defaultAudience)} must be 1 to ${MAX_AUDIENCE_LENGTH} characters without spaces or commas`);
  }
  if (options.awsDefaultRegion !== undefined && !/^[a-z0-9-]{1,64}$/.test(options.awsDefaultRegion)) {
    throw new Error(`awsDefaultRegion ${JSON.stringify(options.awsDefaultRegion)} is not a region name such as eu-west-1`);
  }
  return { ...options, tokenMountPath, serviceTokenMountPath };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function mountPath(key: string, value: string): string {
  const trimmed = value.length > 1 ? value.replace(/\/+$/, '') : value;
  if (!trimmed.startsWith('/') || trimmed === '/' || trimmed.split('/').some((part) => part === '..' || part === '.') || /[\s:\\]/.test(trimmed)) {
    throw new Error(`${key} ${JSON.stringify(value)} must be an absolute path below / without ".", "..", spaces, ":" or "\\"`);
  }
  return trimmed;
}

function lifetime(key: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${key} ${value} must be a whole number of seconds between ${min} and ${max}`);
  }
}
