/**
 * `webhook review|serve`: the annotation-driven mutating admission webhook. `review` answers one
 * AdmissionReview from stdin with a ServiceAccount from a file (no cluster, no network: for
 * debugging a pod that did not get its token); `serve` runs the HTTPS server with the
 * ServiceAccount watch cache. Both run the same pure core (core/webhook/). Flags that mean the
 * same as the EKS pod identity webhook's carry its names.
 */
import { randomInt } from 'node:crypto';
import {
  booleanFlag,
  CliError,
  CommandGroup,
  EXIT_OK,
  integerFlag,
  LeafCommand,
  OptionSpec,
  ParsedArgs,
  readFlagFile,
  requiredFlag,
  stringFlag,
  UsageError,
} from '../command';
import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_AWS_AUDIENCE,
  DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX,
  DEFAULT_SERVICE_TOKEN_EXPIRATION,
  DEFAULT_SERVICE_TOKEN_MOUNT_PATH,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
  MAX_SERVICE_TOKEN_EXPIRATION,
  MIN_TOKEN_EXPIRATION,
  resolveWebhookOptions,
  WebhookOptions,
} from '../../core/webhook/options';
import { answerReview, parseAdmissionReview, podSubject, ServiceAccountLookup } from '../../core/webhook/review';
import type { ServiceAccount } from '../../core/webhook/types';

/** The flags shared by `review` and `serve`: what the pod gets. */
const MUTATION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'annotation-prefix': { type: 'string', valueName: 'DOMAIN', defaultText: DEFAULT_ANNOTATION_PREFIX, description: 'annotation domain of the AWS identity (role-arn, audience, sts-regional-endpoints, token-expiration, skip-/include-containers)' },
  'token-audience': { type: 'string', valueName: 'AUD', defaultText: DEFAULT_AWS_AUDIENCE, description: 'AWS token audience when the ServiceAccount has no audience annotation' },
  'aws-default-region': { type: 'string', valueName: 'REGION', description: 'set AWS_REGION and AWS_DEFAULT_REGION in containers that set neither' },
  'token-mount-path': { type: 'string', valueName: 'PATH', defaultText: DEFAULT_TOKEN_MOUNT_PATH, description: 'directory of the AWS token' },
  'token-expiration': { type: 'string', valueName: 'S', defaultText: `${DEFAULT_TOKEN_EXPIRATION} (jittered down to 79200)`, description: `AWS token lifetime in seconds when no annotation sets one (at least ${MIN_TOKEN_EXPIRATION})` },
  'sts-regional-endpoint': { type: 'boolean', description: 'set AWS_STS_REGIONAL_ENDPOINTS=regional unless the ServiceAccount annotation says false' },
  'service-token-annotation-prefix': { type: 'string', valueName: 'DOMAIN', defaultText: DEFAULT_SERVICE_TOKEN_ANNOTATION_PREFIX, description: 'annotation domain of service-to-service tokens (audiences, token-expiration, skip-/include-containers)' },
  'service-token-mount-path': { type: 'string', valueName: 'PATH', defaultText: DEFAULT_SERVICE_TOKEN_MOUNT_PATH, description: 'directory holding one <audience>/token per service-to-service audience' },
  'service-token-expiration': { type: 'string', valueName: 'S', defaultText: String(DEFAULT_SERVICE_TOKEN_EXPIRATION), description: `service-to-service token lifetime when no annotation sets one (${MIN_TOKEN_EXPIRATION} to ${MAX_SERVICE_TOKEN_EXPIRATION})` },
};

/** Reads the mutation flags into checked options; a UsageError names the flag. */
export function webhookOptionsFromFlags(args: ParsedArgs): WebhookOptions {
  const given: Partial<WebhookOptions> = {
    annotationPrefix: stringFlag(args, 'annotation-prefix'),
    defaultAudience: stringFlag(args, 'token-audience'),
    awsDefaultRegion: stringFlag(args, 'aws-default-region'),
    tokenMountPath: stringFlag(args, 'token-mount-path'),
    tokenExpiration: integerFlag(args, 'token-expiration', DEFAULT_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION, 2 ** 32),
    stsRegionalEndpoint: booleanFlag(args, 'sts-regional-endpoint'),
    serviceTokenAnnotationPrefix: stringFlag(args, 'service-token-annotation-prefix'),
    serviceTokenMountPath: stringFlag(args, 'service-token-mount-path'),
    serviceTokenExpiration: integerFlag(args, 'service-token-expiration', DEFAULT_SERVICE_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION, MAX_SERVICE_TOKEN_EXPIRATION),
  };
  try {
    return resolveWebhookOptions(given);
  } catch (err) {
    // Name the flag rather than the option field.
    const message = (err as Error).message.replace(/^(\w+)/, (field) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace('default-audience', 'token-audience')}`);
    throw new UsageError(message);
  }
}

/** A uniform draw in [0, 1) for the lifetime jitter. */
export function cryptoRandom(): number {
  return randomInt(0, 2 ** 32) / 2 ** 32;
}

const reviewCommand: LeafCommand = {
  name: 'review',
  summary: 'answer an AdmissionReview from stdin as the webhook would (ServiceAccount from a file)',
  description: [
    'Reads an admission.k8s.io/v1 AdmissionReview (a Pod CREATE) on standard input and prints the',
    'AdmissionReview response the server would give: same uid, allowed: true, and patchType JSONPatch',
    'with a base64 patch when the pod changes. The ServiceAccount comes from --service-account',
    '(YAML or JSON) instead of the cluster. Annotation problems are printed on stderr as the',
    'warnings kubectl would show. No network, no cluster.',
  ].join('\n'),
  options: {
    'service-account': { type: 'string', valueName: 'FILE', required: true, description: 'the pod\'s ServiceAccount, YAML or JSON (kubectl get sa NAME -o yaml)' },
    ...MUTATION_OPTIONS,
    decode: { type: 'boolean', description: 'also print the decoded patch on stderr' },
  },
  examples: ['webhook review --service-account sa.yaml --aws-default-region eu-west-1 < review.json'],
  async run(args, context) {
    const options = webhookOptionsFromFlags(args);
    const file = requiredFlag(args, 'service-account');
    const serviceAccount = await parseServiceAccount(readFlagFile(file, '--service-account'), file);
    const input = await context.io.readStdin();
    if (input.trim() === '') throw new UsageError('nothing on stdin: pipe an AdmissionReview into it (kubectl get --raw is not needed; see docs/webhook.md)');
    const parsed = parseAdmissionReview(input);
    if (!parsed.ok) throw new CliError(`stdin is not an admission.k8s.io/v1 AdmissionReview: ${parsed.reason}`);
    const subject = podSubject(parsed.review);
    if (subject && (serviceAccount.metadata.name !== subject.serviceAccountName || (serviceAccount.metadata.namespace && serviceAccount.metadata.namespace !== subject.namespace))) {
      context.note(`note: the pod uses ServiceAccount ${subject.namespace}/${subject.serviceAccountName}, the file holds ${serviceAccount.metadata.namespace ?? '?'}/${serviceAccount.metadata.name}; using the file`);
    }
    const lookup: ServiceAccountLookup = { status: 'found', serviceAccount };
    const { response, record } = answerReview(parsed.review, lookup, options, cryptoRandom);
    for (const warning of record.warnings) context.note(`warning: ${warning}`);
    if (record.reason) context.note(`note: ${record.reason}`);
    if (booleanFlag(args, 'decode') && response.response.patch) {
      context.note(`patch: ${Buffer.from(response.response.patch, 'base64').toString('utf8')}`);
    }
    context.emit(JSON.stringify(response, null, 2), response);
    return EXIT_OK;
  },
};

const serveCommand: LeafCommand = {
  name: 'serve',
  summary: 'run the mutating admission webhook (HTTPS, ServiceAccount watch, metrics)',
  description: [
    'Serves POST /mutate over HTTPS with the certificate and key files (reloaded when they change, as',
    'cert-manager rotates them), /healthz and /readyz on the same port, and Prometheus metrics on',
    '--metrics-port (plain http). ServiceAccounts come from the Kubernetes API through a watch cache',
    '(in-cluster configuration, or --kubeconfig). Pods are always admitted: when the cache cannot',
    'answer, unchanged. One JSON log line per review on stdout. SIGTERM: not ready, drain, exit.',
  ].join('\n'),
  options: {
    'tls-cert': { type: 'string', valueName: 'FILE', defaultText: '/etc/webhook/certs/tls.crt', description: 'serving certificate (PEM), reloaded on change' },
    'tls-key': { type: 'string', valueName: 'FILE', defaultText: '/etc/webhook/certs/tls.key', description: 'its private key (PEM), reloaded on change' },
    port: { type: 'string', valueName: 'N', defaultText: '8443', description: 'HTTPS port' },
    'metrics-port': { type: 'string', valueName: 'N', defaultText: '9999', description: 'metrics port (plain http)' },
    host: { type: 'string', valueName: 'ADDR', defaultText: '0.0.0.0', description: 'address to listen on' },
    kubeconfig: { type: 'string', valueName: 'FILE', description: '(out of cluster) kubeconfig for the ServiceAccount watch; in-cluster configuration when absent' },
    'service-account-lookup-grace-period': { type: 'string', valueName: 'MS', defaultText: '100', description: 'how long a review waits for a ServiceAccount not yet in the cache, in milliseconds (0: no wait)' },
    'shutdown-delay': { type: 'string', valueName: 'S', defaultText: '5', description: 'seconds between turning not-ready and closing the listener on SIGTERM' },
    ...MUTATION_OPTIONS,
  },
  examples: ['webhook serve --aws-default-region eu-west-1 --sts-regional-endpoint'],
  async run(args, context) {
    const options = webhookOptionsFromFlags(args);
    const port = integerFlag(args, 'port', 8443, 0, 65535);
    const metricsPort = integerFlag(args, 'metrics-port', 9999, 0, 65535);
    const graceMs = integerFlag(args, 'service-account-lookup-grace-period', 100, 0, 10_000);
    const shutdownDelaySeconds = integerFlag(args, 'shutdown-delay', 5, 0, 300);
    const certFile = stringFlag(args, 'tls-cert') ?? '/etc/webhook/certs/tls.crt';
    const keyFile = stringFlag(args, 'tls-key') ?? '/etc/webhook/certs/tls.key';
    const log = (entry: Record<string, unknown>): void => context.io.stdout(`${JSON.stringify(entry)}\n`);

    // Loaded here so that other commands do not load the Kubernetes client and prom-client.
    const { startServiceAccountCache } = await import('../../runtime/webhook-sa-cache');
    const { startWebhookServer } = await import('../../runtime/webhook-server');
    if (!stringFlag(args, 'kubeconfig') && !context.io.env.KUBERNETES_SERVICE_HOST) {
      throw new CliError('cannot configure the Kubernetes client: not running in a cluster (KUBERNETES_SERVICE_HOST is unset); outside a cluster, give --kubeconfig');
    }
    let cache;
    try {
      cache = await startServiceAccountCache({
        kubeconfigPath: stringFlag(args, 'kubeconfig'),
        lookupGraceMs: graceMs,
        onEvent: (event) => log({ time: new Date().toISOString(), level: event.type === 'error' ? 'warn' : 'info', msg: `serviceaccount cache ${event.type}`, ...event }),
      });
    } catch (err) {
      throw new CliError(`cannot configure the Kubernetes client: ${(err as Error).message}${stringFlag(args, 'kubeconfig') ? '' : ' (outside a cluster, give --kubeconfig)'}`);
    }
    let server;
    try {
      server = await startWebhookServer({ certFile, keyFile, host: stringFlag(args, 'host') ?? '0.0.0.0', port, metricsPort, webhook: options, serviceAccounts: cache, random: cryptoRandom, log, shutdownDelayMs: shutdownDelaySeconds * 1000 });
    } catch (err) {
      await cache.stop();
      throw new CliError(`cannot start the webhook server: ${(err as Error).message}`);
    }
    log({ time: new Date().toISOString(), level: 'info', msg: 'listening', port: server.port, metricsPort: server.metricsPort });
    const signal = await context.io.untilInterrupted();
    log({ time: new Date().toISOString(), level: 'info', msg: `received ${signal}` });
    await server.shutdown();
    await cache.stop();
    return EXIT_OK;
  },
};

async function parseServiceAccount(text: string, file: string): Promise<ServiceAccount> {
  const { parseAllDocuments } = await import('yaml');
  const documents = parseAllDocuments(text).filter((doc) => doc.contents !== null);
  if (documents.length !== 1) throw new UsageError(`--service-account ${file} must hold exactly one document, found ${documents.length}`);
  const [document] = documents;
  if (document.errors.length > 0) throw new UsageError(`--service-account ${file} is not valid YAML or JSON: ${document.errors[0].message.split('\n')[0]}`);
  const value = document.toJS() as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown; annotations?: unknown } };
  if (value?.kind !== 'ServiceAccount') throw new UsageError(`--service-account ${file} holds kind ${JSON.stringify(value?.kind)}, expected ServiceAccount`);
  if (typeof value.metadata?.name !== 'string') throw new UsageError(`--service-account ${file} has no metadata.name`);
  const annotations = value.metadata.annotations ?? {};
  if (typeof annotations !== 'object' || Array.isArray(annotations) || Object.values(annotations as object).some((v) => typeof v !== 'string')) {
    throw new UsageError(`--service-account ${file}: metadata.annotations must map names to strings (quote numbers and booleans)`);
  }
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: value.metadata.name, ...(typeof value.metadata.namespace === 'string' ? { namespace: value.metadata.namespace } : {}), annotations: annotations as Record<string, string> },
  };
}

/** The `webhook` command group. */
export const webhookCommand: CommandGroup = {
  name: 'webhook',
  summary: 'mutating admission webhook: AWS identity (EKS-compatible) and service-to-service tokens from annotations',
  description: 'Pods get their identity from an annotation: an EKS-compatible mutating admission webhook that also injects service-to-service tokens. See docs/webhook.md.',
  subcommands: [reviewCommand, serveCommand],
};
