/**
 * What the webhook adds to a pod, as a JSON Patch: the AWS web identity the EKS pod identity
 * webhook injects (same annotations, volume, mount, variables and token lifetimes), plus this
 * project's service-to-service tokens. Pure: the ServiceAccount and the random source are given.
 *
 * Where behaviour mirrors upstream, the comment names the file in aws/amazon-eks-pod-identity-webhook.
 * Deliberate differences (all documented in docs/webhook.md):
 * - the patch adds single entries (`/spec/containers/0/env/-`) instead of replacing the whole
 *   `containers` array, so fields this code does not model are never rewritten, and a pod that
 *   needs nothing gets no patch at all (upstream sends a no-op patch);
 * - a container that mounts something else at the token path is left alone with a warning
 *   (upstream would add a second mount at the same path, which kube-apiserver rejects);
 * - annotation problems come back as admission warnings, which `kubectl` prints.
 */
import {
  AWS_TOKEN_VOLUME_NAME,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_EXPIRATION_JITTER_FLOOR,
  MAX_SERVICE_TOKEN_EXPIRATION,
  MIN_TOKEN_EXPIRATION,
  SERVICE_TOKEN_VOLUME_NAME,
  TOKEN_FILE_NAME,
  WebhookOptions,
} from './options';
import { layoutCollision, layoutServiceTokens, parseAudiences, ServiceTokenLayout } from './service-tokens';
import { Container, EnvVar, PatchOperation, Pod, ServiceAccount, Volume, VolumeMount } from './types';

/** A number in [0, 1), like Math.random; injected so tests can pin the lifetime jitter. */
export type RandomSource = () => number;

/** What {@link mutatePod} decided. */
export interface PodMutation {
  /** The JSON Patch; empty when the pod needs nothing. */
  readonly operations: readonly PatchOperation[];
  /** Problems with the pod's or ServiceAccount's annotations, for the admission response and the log. */
  readonly warnings: readonly string[];
  /** The role injected, when the AWS identity applied to at least one container. */
  readonly roleArn?: string;
  /** Lifetime of the AWS token volume, when one was added. */
  readonly awsTokenExpiration?: number;
  /** Audiences whose service-to-service tokens were injected into at least one container. */
  readonly audiences: readonly string[];
}

/** The settings of the AWS identity after ServiceAccount and pod annotations were applied. */
interface AwsIdentity {
  readonly roleArn: string;
  readonly audience: string;
  readonly regionalSts: boolean;
  readonly expiration: number;
}

const ROLE_ARN_SHAPE = /^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/;
/** Go's strconv.ParseBool, which upstream uses for the regional STS annotation. */
const GO_BOOLEANS: Readonly<Record<string, boolean>> = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false };
/** kube-apiserver's ceiling on a projected token's expirationSeconds. */
const MAX_EXPIRATION_SECONDS = 2 ** 32;

/**
 * Decides the patch for a pod being created.
 *
 * @param pod the pod from the AdmissionReview
 * @param serviceAccount its ServiceAccount, or undefined when it does not exist
 * @param options the webhook's settings (see resolveWebhookOptions)
 * @param random the jitter source for the default AWS token lifetime
 */
export function mutatePod(pod: Pod, serviceAccount: ServiceAccount | undefined, options: WebhookOptions, random: RandomSource): PodMutation {
  const warnings: string[] = [];
  const podAnnotations = pod.metadata?.annotations ?? {};
  const accountAnnotations = serviceAccount?.metadata.annotations ?? {};
  const plan = new PatchPlan(pod);
  const windows = isWindowsPod(pod);

  let roleArn: string | undefined;
  let awsTokenExpiration: number | undefined;
  const aws = resolveAwsIdentity(accountAnnotations, podAnnotations, options, random, warnings);
  if (aws) {
    const injected = injectAwsIdentity(plan, aws, podAnnotations, options, windows, warnings);
    if (injected.containers > 0 || injected.volumeAdded) roleArn = aws.roleArn;
    if (injected.volumeAdded) awsTokenExpiration = aws.expiration;
  }

  const audiences = injectServiceTokens(plan, accountAnnotations, podAnnotations, options, windows, warnings);
  return { operations: plan.operations(), warnings, ...(roleArn ? { roleArn } : {}), ...(awsTokenExpiration ? { awsTokenExpiration } : {}), audiences };
}

/** True when the pod selects Windows nodes (upstream pkg/handler/handler.go: both node selector keys). */
export function isWindowsPod(pod: Pod): boolean {
  const selector = pod.spec?.nodeSelector ?? {};
  return selector['kubernetes.io/os'] === 'windows' || selector['beta.kubernetes.io/os'] === 'windows';
}

/** A token file path as the container sees it: upstream turns `/a/b` into `C:\a\b` on Windows. */
export function containerFilePath(path: string, windows: boolean): string {
  return windows ? `C:${path.replace(/\//g, '\\')}` : path;
}

/**
 * Reads the AWS settings: role, audience and regional STS from the ServiceAccount; lifetime from
 * the pod, else the ServiceAccount, else the flag (upstream pkg/cache/cache.go addSA and
 * pkg/handler/handler.go parsePodAnnotations). Undefined when the ServiceAccount has no role.
 */
function resolveAwsIdentity(
  account: Readonly<Record<string, string>>,
  pod: Readonly<Record<string, string>>,
  options: WebhookOptions,
  random: RandomSource,
  warnings: string[],
): AwsIdentity | undefined {
  const prefix = options.annotationPrefix;
  const roleArn = account[`${prefix}/role-arn`]?.trim();
  if (!roleArn) return undefined;
  if (!ROLE_ARN_SHAPE.test(roleArn)) warnings.push(`${prefix}/role-arn ${JSON.stringify(roleArn)} does not look like an IAM role ARN; injected as given, but STS will refuse it`);

  let audience = options.defaultAudience;
  const audienceAnnotation = account[`${prefix}/audience`];
  if (audienceAnnotation !== undefined) {
    if (audienceAnnotation.trim() === '' || /[\s,]/.test(audienceAnnotation.trim())) {
      // An empty audience would make kube issue a token for the API server itself: never inject that.
      warnings.push(`${prefix}/audience ${JSON.stringify(audienceAnnotation)} is not a single audience; using ${options.defaultAudience}`);
    } else {
      audience = audienceAnnotation.trim();
    }
  }

  let regionalSts = options.stsRegionalEndpoint;
  const stsAnnotation = account[`${prefix}/sts-regional-endpoints`];
  if (stsAnnotation !== undefined) {
    const parsed = GO_BOOLEANS[stsAnnotation.trim()];
    if (parsed === undefined) warnings.push(`${prefix}/sts-regional-endpoints ${JSON.stringify(stsAnnotation)} is not true or false; ignored`);
    else regionalSts = parsed;
  }

  let expiration: number | undefined;
  for (const [source, annotations] of [['ServiceAccount', account], ['pod', pod]] as const) {
    const raw = annotations[`${prefix}/token-expiration`];
    if (raw === undefined) continue;
    const parsed = parseGoInteger(raw.trim());
    if (parsed === undefined || parsed > MAX_EXPIRATION_SECONDS) {
      warnings.push(`${source} annotation ${prefix}/token-expiration ${JSON.stringify(raw)} is not a number of seconds up to ${MAX_EXPIRATION_SECONDS}; ignored`);
      continue;
    }
    // Upstream pkg.ValidateMinTokenExpiration: too short is raised to the minimum, not refused.
    expiration = Math.max(parsed, MIN_TOKEN_EXPIRATION);
  }
  if (expiration === undefined) {
    expiration = options.tokenExpiration === DEFAULT_TOKEN_EXPIRATION ? jitteredDefaultLifetime(random) : options.tokenExpiration;
  }
  return { roleArn, audience, regionalSts, expiration };
}

/** A lifetime in [79200, 86400] seconds (upstream pkg/constants.go DefaultMinTokenExpiration .. DefaultTokenExpiration). */
export function jitteredDefaultLifetime(random: RandomSource): number {
  const span = DEFAULT_TOKEN_EXPIRATION - DEFAULT_TOKEN_EXPIRATION_JITTER_FLOOR;
  const draw = Math.min(Math.max(random(), 0), 1);
  return DEFAULT_TOKEN_EXPIRATION_JITTER_FLOOR + Math.min(span, Math.floor(draw * (span + 1)));
}

function parseGoInteger(text: string): number | undefined {
  if (!/^[+-]?\d{1,18}$/.test(text)) return undefined;
  return Number(text);
}

function injectAwsIdentity(
  plan: PatchPlan,
  aws: AwsIdentity,
  podAnnotations: Readonly<Record<string, string>>,
  options: WebhookOptions,
  windows: boolean,
  warnings: string[],
): { containers: number; volumeAdded: boolean } {
  const existing = plan.volume(AWS_TOKEN_VOLUME_NAME);
  if (existing && !projectsToken(existing, aws.audience, TOKEN_FILE_NAME)) {
    // Upstream fixtures rawPodHasForeignTokenVolume / rawPodWithConflictingVolumeMount: the name is taken by
    // something that is not our token, so env pointing at it would lie. Leave the pod alone.
    warnings.push(`the pod already has a volume named ${AWS_TOKEN_VOLUME_NAME} that is not a ${aws.audience} token; AWS identity not injected`);
    return { containers: 0, volumeAdded: false };
  }
  const selected = selectContainers(plan, podAnnotations, options.annotationPrefix, warnings);
  const tokenFile = containerFilePath(`${options.tokenMountPath}/${TOKEN_FILE_NAME}`, windows);
  let containers = 0;
  for (const target of selected) {
    const { container } = target;
    const names = new Set((container.env ?? []).map((variable) => variable.name));
    const webIdentityDefined = names.has('AWS_ROLE_ARN') || names.has('AWS_WEB_IDENTITY_TOKEN_FILE');
    const regionDefined = names.has('AWS_REGION') || names.has('AWS_DEFAULT_REGION');
    const stsDefined = names.has('AWS_STS_REGIONAL_ENDPOINTS');
    // Upstream addEnvToContainer: a container that sets all three groups is taken as configured by hand.
    if (webIdentityDefined && regionDefined && stsDefined) continue;
    const mounts = container.volumeMounts ?? [];
    const mounted = mounts.some((mount) => mount.name === AWS_TOKEN_VOLUME_NAME);
    if (!mounted && mounts.some((mount) => samePath(mount.mountPath, options.tokenMountPath))) {
      warnings.push(`container ${container.name} already mounts another volume at ${options.tokenMountPath}; AWS identity not injected into it`);
      continue;
    }
    const env: EnvVar[] = [];
    // Order as upstream appends them: regional STS, region (both names), then the web identity pair.
    if (!stsDefined && aws.regionalSts) env.push({ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' });
    if (!regionDefined && options.awsDefaultRegion) {
      env.push({ name: 'AWS_DEFAULT_REGION', value: options.awsDefaultRegion }, { name: 'AWS_REGION', value: options.awsDefaultRegion });
    }
    if (!webIdentityDefined) env.push({ name: 'AWS_ROLE_ARN', value: aws.roleArn }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: tokenFile });
    const mount: VolumeMount[] = mounted ? [] : [{ name: AWS_TOKEN_VOLUME_NAME, readOnly: true, mountPath: options.tokenMountPath }];
    if (env.length + mount.length > 0) {
      plan.addToContainer(target, env, mount);
      containers += 1;
    }
  }
  if (existing) return { containers, volumeAdded: false };
  // Upstream getPodSpecPatch adds the volume whenever the ServiceAccount has a role, even when every container was skipped.
  plan.addVolume(
    { name: AWS_TOKEN_VOLUME_NAME, projected: { sources: [{ serviceAccountToken: { audience: aws.audience, expirationSeconds: aws.expiration, path: TOKEN_FILE_NAME } }] } },
    'front',
  );
  return { containers, volumeAdded: true };
}

function injectServiceTokens(
  plan: PatchPlan,
  account: Readonly<Record<string, string>>,
  pod: Readonly<Record<string, string>>,
  options: WebhookOptions,
  windows: boolean,
  warnings: string[],
): string[] {
  const prefix = options.serviceTokenAnnotationPrefix;
  const audiencesKey = `${prefix}/audiences`;
  const source = pod[audiencesKey] !== undefined ? 'pod' : 'ServiceAccount';
  const raw = pod[audiencesKey] ?? account[audiencesKey];
  if (raw === undefined) return [];
  const refuse = (reason: string): string[] => {
    warnings.push(`${reason}; no service-to-service token injected`);
    return [];
  };
  const parsed = parseAudiences(raw);
  if (!parsed.ok) return refuse(`${source} annotation ${audiencesKey} ${parsed.reason}`);

  const expirationKey = `${prefix}/token-expiration`;
  let expiration = options.serviceTokenExpiration;
  const expirationRaw = pod[expirationKey] ?? account[expirationKey];
  if (expirationRaw !== undefined) {
    const value = /^\d{1,10}$/.test(expirationRaw.trim()) ? Number(expirationRaw.trim()) : NaN;
    if (!(value >= MIN_TOKEN_EXPIRATION && value <= MAX_SERVICE_TOKEN_EXPIRATION)) {
      return refuse(`${pod[expirationKey] !== undefined ? 'pod' : 'ServiceAccount'} annotation ${expirationKey} ${JSON.stringify(expirationRaw)} is not a number of seconds between ${MIN_TOKEN_EXPIRATION} and ${MAX_SERVICE_TOKEN_EXPIRATION}`);
    }
    expiration = value;
  }

  const layout = layoutServiceTokens(parsed.audiences);
  const collision = layoutCollision(layout);
  if (collision) return refuse(collision);

  const volume: Volume = {
    name: SERVICE_TOKEN_VOLUME_NAME,
    projected: { sources: layout.map((entry) => ({ serviceAccountToken: { audience: entry.audience, expirationSeconds: expiration, path: entry.path } })) },
  };
  const existing = plan.volume(SERVICE_TOKEN_VOLUME_NAME);
  // On reinvocation the volume is already ours; anything else under that name is someone else's.
  if (existing && JSON.stringify(existing.projected?.sources ?? null) !== JSON.stringify(volume.projected?.sources)) {
    return refuse(`the pod already has a volume named ${SERVICE_TOKEN_VOLUME_NAME} with other contents`);
  }

  const selected = selectContainers(plan, pod, prefix, warnings);
  let containers = 0;
  for (const target of selected) {
    const { container } = target;
    const mounts = container.volumeMounts ?? [];
    const mounted = mounts.some((mount) => mount.name === SERVICE_TOKEN_VOLUME_NAME);
    if (!mounted && mounts.some((mount) => samePath(mount.mountPath, options.serviceTokenMountPath))) {
      warnings.push(`container ${container.name} already mounts another volume at ${options.serviceTokenMountPath}; service-to-service tokens not injected into it`);
      continue;
    }
    const names = new Set((container.env ?? []).map((variable) => variable.name));
    const env = layout
      .filter((entry: ServiceTokenLayout) => !names.has(entry.envName))
      .map((entry) => ({ name: entry.envName, value: containerFilePath(`${options.serviceTokenMountPath}/${entry.path}`, windows) }));
    const mount: VolumeMount[] = mounted ? [] : [{ name: SERVICE_TOKEN_VOLUME_NAME, readOnly: true, mountPath: options.serviceTokenMountPath }];
    if (env.length + mount.length > 0) plan.addToContainer(target, env, mount);
    containers += 1;
  }
  if (containers === 0) return [];
  if (!existing) plan.addVolume(volume, 'back');
  return parsed.audiences.slice();
}

/** A container and where it sits in the pod spec. */
interface ContainerTarget {
  readonly list: 'containers' | 'initContainers';
  readonly index: number;
  readonly container: Container;
}

/**
 * The containers to inject into: all of them (init containers too, upstream handler.go), minus
 * `<prefix>/skip-containers`, and only those of `<prefix>/include-containers` when the pod has it.
 */
function selectContainers(plan: PatchPlan, annotations: Readonly<Record<string, string>>, prefix: string, warnings: string[]): ContainerTarget[] {
  const all = plan.targets();
  const names = new Set(all.map((target) => target.container.name));
  const list = (key: string): Set<string> | undefined => {
    const raw = annotations[`${prefix}/${key}`];
    if (raw === undefined) return undefined;
    const entries = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const unknown = entries.filter((name) => !names.has(name));
    if (unknown.length > 0) warnings.push(`pod annotation ${prefix}/${key} names ${unknown.join(', ')}, which the pod does not have`);
    return new Set(entries);
  };
  const skip = list('skip-containers') ?? new Set<string>();
  const include = list('include-containers');
  return all.filter((target) => !skip.has(target.container.name) && (include === undefined || include.has(target.container.name)));
}

function projectsToken(volume: Volume, audience: string, path: string): boolean {
  return (volume.projected?.sources ?? []).some((source) => source.serviceAccountToken?.audience === audience && source.serviceAccountToken.path === path);
}

function samePath(a: string, b: string): boolean {
  const clean = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, '') : path);
  return clean(a) === clean(b);
}

/** Collects additions, then writes them as JSON Patch operations in a fixed order. */
class PatchPlan {
  private readonly frontVolumes: Volume[] = [];
  private readonly backVolumes: Volume[] = [];
  private readonly additions = new Map<string, { target: ContainerTarget; env: EnvVar[]; mounts: VolumeMount[] }>();

  constructor(private readonly pod: Pod) {}

  targets(): ContainerTarget[] {
    const of = (list: 'containers' | 'initContainers'): ContainerTarget[] =>
      (Array.isArray(this.pod.spec?.[list]) ? (this.pod.spec?.[list] as Container[]) : [])
        .filter((container) => container && typeof container.name === 'string')
        .map((container, index) => ({ list, index, container }));
    return [...of('initContainers'), ...of('containers')];
  }

  volume(name: string): Volume | undefined {
    return (this.pod.spec?.volumes ?? []).find((volume) => volume?.name === name);
  }

  addVolume(volume: Volume, where: 'front' | 'back'): void {
    (where === 'front' ? this.frontVolumes : this.backVolumes).push(volume);
  }

  addToContainer(target: ContainerTarget, env: readonly EnvVar[], mounts: readonly VolumeMount[]): void {
    const key = `${target.list}/${target.index}`;
    const entry = this.additions.get(key) ?? { target, env: [], mounts: [] };
    entry.env.push(...env);
    entry.mounts.push(...mounts);
    this.additions.set(key, entry);
  }

  /** Volumes first (upstream puts its token volume at index 0), then containers, then init containers, as upstream orders them. */
  operations(): PatchOperation[] {
    const operations: PatchOperation[] = [];
    const volumes = this.pod.spec?.volumes;
    if (volumes === undefined || volumes === null) {
      const added = [...this.frontVolumes, ...this.backVolumes];
      if (added.length > 0) operations.push({ op: 'add', path: '/spec/volumes', value: added });
    } else {
      for (const volume of this.frontVolumes) operations.push({ op: 'add', path: '/spec/volumes/0', value: volume });
      for (const volume of this.backVolumes) operations.push({ op: 'add', path: '/spec/volumes/-', value: volume });
    }
    for (const list of ['containers', 'initContainers'] as const) {
      const entries = [...this.additions.values()].filter((entry) => entry.target.list === list).sort((a, b) => a.target.index - b.target.index);
      for (const { target, env, mounts } of entries) {
        const base = `/spec/${list}/${target.index}`;
        appendAll(operations, `${base}/env`, target.container.env, env);
        appendAll(operations, `${base}/volumeMounts`, target.container.volumeMounts, mounts);
      }
    }
    return operations;
  }
}

function appendAll(operations: PatchOperation[], path: string, current: readonly unknown[] | null | undefined, added: readonly unknown[]): void {
  if (added.length === 0) return;
  if (current === undefined || current === null) {
    operations.push({ op: 'add', path, value: [...added] });
    return;
  }
  for (const value of added) operations.push({ op: 'add', path: `${path}/-`, value });
}
