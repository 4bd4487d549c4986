/**
 * The webhook core with known pods: every annotation and option, service-to-service tokens,
 * refusals (admitted unchanged with a warning), reinvocation and the AdmissionReview contract.
 */
import { containerFilePath, jitteredDefaultLifetime, mutatePod } from '../../core/webhook/mutate';
import { DEFAULT_WEBHOOK_OPTIONS, resolveWebhookOptions, WebhookOptions } from '../../core/webhook/options';
import { answerReview, parseAdmissionReview, podSubject, ServiceAccountLookup } from '../../core/webhook/review';
import { layoutServiceTokens, parseAudiences } from '../../core/webhook/service-tokens';
import { PatchOperation, Pod, ServiceAccount } from '../../core/webhook/types';

const ROLE = 'arn:aws:iam::123456789012:role/payments-api';
const never = (): number => {
  throw new Error('the jitter must not be drawn here');
};
const zero = (): number => 0;

function account(annotations: Record<string, string>, name = 'api'): ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'payments', annotations } };
}

function pod(spec: Partial<NonNullable<Pod['spec']>> = {}, annotations: Record<string, string> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'api-', annotations }, spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'app:1' }], ...spec } };
}

function mutate(p: Pod, sa: ServiceAccount | undefined, options: Partial<WebhookOptions> = {}, random = zero) {
  return mutatePod(p, sa, resolveWebhookOptions(options), random);
}

function envOf(operations: readonly PatchOperation[], path = '/spec/containers/0/env'): { name: string; value: string }[] {
  const whole = operations.find((op) => op.path === path);
  if (whole) return whole.value as { name: string; value: string }[];
  return operations.filter((op) => op.path === `${path}/-`).map((op) => op.value as { name: string; value: string });
}

function volumesOf(operations: readonly PatchOperation[]): { name: string; projected: { sources: { serviceAccountToken: { audience: string; expirationSeconds: number; path: string } }[] } }[] {
  return operations.filter((op) => op.path.startsWith('/spec/volumes')).flatMap((op) => (Array.isArray(op.value) ? op.value : [op.value])) as never;
}

describe('AWS identity (eks.amazonaws.com annotations)', () => {
  test('role-arn on the ServiceAccount: volume, mount, AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE', () => {
    const result = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }));
    expect(result.roleArn).toBe(ROLE);
    expect(result.operations).toEqual([
      { op: 'add', path: '/spec/volumes', value: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 79200, path: 'token' } }] } }] },
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }] },
      { op: 'add', path: '/spec/containers/0/volumeMounts', value: [{ name: 'aws-iam-token', readOnly: true, mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' }] },
    ]);
  });

  test('no role-arn, no ServiceAccount: nothing', () => {
    expect(mutate(pod(), account({ 'eks.amazonaws.com/audience': 'x' })).operations).toEqual([]);
    expect(mutate(pod(), undefined).operations).toEqual([]);
  });

  test('audience annotation; an empty one falls back to the default with a warning', () => {
    const custom = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/audience': 'sts.example.internal' }));
    expect(volumesOf(custom.operations)[0].projected.sources[0].serviceAccountToken.audience).toBe('sts.example.internal');
    const empty = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/audience': ' ' }));
    expect(volumesOf(empty.operations)[0].projected.sources[0].serviceAccountToken.audience).toBe('sts.amazonaws.com');
    expect(empty.warnings.join()).toMatch(/audience/);
  });

  test('sts-regional-endpoints annotation overrides --sts-regional-endpoint both ways; Go booleans accepted', () => {
    const on = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/sts-regional-endpoints': 'True' }));
    expect(envOf(on.operations)[0]).toEqual({ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' });
    const flag = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }), { stsRegionalEndpoint: true });
    expect(envOf(flag.operations).map((e) => e.name)).toContain('AWS_STS_REGIONAL_ENDPOINTS');
    const off = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/sts-regional-endpoints': '0' }), { stsRegionalEndpoint: true });
    expect(envOf(off.operations).map((e) => e.name)).not.toContain('AWS_STS_REGIONAL_ENDPOINTS');
    const bad = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/sts-regional-endpoints': 'yes' }), { stsRegionalEndpoint: true });
    expect(envOf(bad.operations).map((e) => e.name)).toContain('AWS_STS_REGIONAL_ENDPOINTS');
    expect(bad.warnings.join()).toMatch(/sts-regional-endpoints "yes"/);
  });

  test('--aws-default-region sets both region variables unless the container sets either', () => {
    const set = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }), { awsDefaultRegion: 'eu-west-1' });
    expect(envOf(set.operations).slice(0, 2)).toEqual([{ name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' }, { name: 'AWS_REGION', value: 'eu-west-1' }]);
    const present = mutate(pod({ containers: [{ name: 'app', env: [{ name: 'AWS_DEFAULT_REGION', value: 'us-east-2' }] }] }), account({ 'eks.amazonaws.com/role-arn': ROLE }), { awsDefaultRegion: 'eu-west-1' });
    expect(envOf(present.operations).map((e) => e.name)).toEqual(['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']);
    // The container had env: additions are appended one by one.
    expect(present.operations.some((op) => op.path === '/spec/containers/0/env/-')).toBe(true);
  });

  test('token lifetime: pod annotation beats ServiceAccount annotation beats --token-expiration; minimum 600; jitter only on the default', () => {
    const lifetime = (p: Pod, sa: ServiceAccount, options: Partial<WebhookOptions> = {}, random = never): number =>
      volumesOf(mutate(p, sa, options, random).operations)[0].projected.sources[0].serviceAccountToken.expirationSeconds;
    const sa = account({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/token-expiration': '7200' });
    expect(lifetime(pod(), sa)).toBe(7200);
    expect(lifetime(pod({}, { 'eks.amazonaws.com/token-expiration': '1800' }), sa)).toBe(1800);
    expect(lifetime(pod({}, { 'eks.amazonaws.com/token-expiration': '60' }), sa)).toBe(600);
    expect(lifetime(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }), { tokenExpiration: 3600 })).toBe(3600);
    expect(lifetime(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }), {}, () => 0.999999)).toBe(86400);
    expect(lifetime(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }), {}, () => 0.5)).toBe(82800);
    const bad = mutate(pod({}, { 'eks.amazonaws.com/token-expiration': 'soon' }), sa, {}, never);
    expect(volumesOf(bad.operations)[0].projected.sources[0].serviceAccountToken.expirationSeconds).toBe(7200);
    expect(bad.warnings.join()).toMatch(/token-expiration "soon"/);
  });

  test('jitter stays within [79200, 86400] whatever the random source returns', () => {
    for (const draw of [0, 1e-9, 0.25, 0.5, 0.999999999, 1, -1, 2]) {
      const value = jitteredDefaultLifetime(() => draw);
      expect(value).toBeGreaterThanOrEqual(79200);
      expect(value).toBeLessThanOrEqual(86400);
    }
  });

  test('skip-containers and include-containers (pod annotations) choose the containers, init containers included', () => {
    const spec = { initContainers: [{ name: 'init' }], containers: [{ name: 'app' }, { name: 'istio-proxy' }, { name: 'logger' }] };
    const skip = mutate(pod(spec, { 'eks.amazonaws.com/skip-containers': 'init, istio-proxy' }), account({ 'eks.amazonaws.com/role-arn': ROLE }));
    expect(skip.operations.map((op) => op.path).filter((p) => p.endsWith('/env'))).toEqual(['/spec/containers/0/env', '/spec/containers/2/env']);
    const include = mutate(pod(spec, { 'eks.amazonaws.com/include-containers': 'app,init,ghost' }), account({ 'eks.amazonaws.com/role-arn': ROLE }));
    expect(include.operations.map((op) => op.path).filter((p) => p.endsWith('/env'))).toEqual(['/spec/containers/0/env', '/spec/initContainers/0/env']);
    expect(include.warnings.join()).toMatch(/include-containers names ghost/);
    const both = mutate(pod(spec, { 'eks.amazonaws.com/include-containers': 'app,logger', 'eks.amazonaws.com/skip-containers': 'logger' }), account({ 'eks.amazonaws.com/role-arn': ROLE }));
    expect(both.operations.map((op) => op.path).filter((p) => p.endsWith('/env'))).toEqual(['/spec/containers/0/env']);
  });

  test('--annotation-prefix replaces eks.amazonaws.com on ServiceAccount and pod annotations', () => {
    const options = { annotationPrefix: 'iam.example.com' };
    expect(mutate(pod(), account({ 'eks.amazonaws.com/role-arn': ROLE }), options).operations).toEqual([]);
    const result = mutate(pod({}, { 'iam.example.com/token-expiration': '1200' }), account({ 'iam.example.com/role-arn': ROLE }), options, never);
    expect(result.roleArn).toBe(ROLE);
    expect(volumesOf(result.operations)[0].projected.sources[0].serviceAccountToken.expirationSeconds).toBe(1200);
  });

  test('--token-mount-path moves the mount and the token file; Windows pods get a C: path', () => {
    const result = mutate(pod({ nodeSelector: { 'kubernetes.io/os': 'windows' } }), account({ 'eks.amazonaws.com/role-arn': ROLE }), { tokenMountPath: '/aws/token-dir/' });
    expect(envOf(result.operations)[1]).toEqual({ name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: 'C:\\aws\\token-dir\\token' });
    expect(result.operations.find((op) => op.path.endsWith('/volumeMounts'))?.value).toEqual([{ name: 'aws-iam-token', readOnly: true, mountPath: '/aws/token-dir' }]);
    expect(containerFilePath('/a/b', false)).toBe('/a/b');
  });

  test('a container mounting something else at the token path is left alone with a warning', () => {
    const spec = { containers: [{ name: 'app', volumeMounts: [{ name: 'own', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount/' }] }, { name: 'other' }] };
    const result = mutate(pod(spec), account({ 'eks.amazonaws.com/role-arn': ROLE }));
    expect(result.operations.some((op) => op.path.startsWith('/spec/containers/0/'))).toBe(false);
    expect(result.operations.some((op) => op.path.startsWith('/spec/containers/1/'))).toBe(true);
    expect(result.warnings.join()).toMatch(/container app already mounts another volume/);
  });

  test('a role ARN of the wrong shape is injected as given (upstream compatibility) with a warning', () => {
    const result = mutate(pod(), account({ 'eks.amazonaws.com/role-arn': 'payments-api' }));
    expect(result.roleArn).toBe('payments-api');
    expect(result.warnings.join()).toMatch(/does not look like an IAM role ARN/);
  });
});

describe('service-to-service tokens (kube-oidc-aws.io annotations)', () => {
  test('audiences on the ServiceAccount: one projected volume, one file and one variable per audience', () => {
    const result = mutate(pod(), account({ 'kube-oidc-aws.io/audiences': 'payments.example.com, https://orders.example.com/api' }));
    expect(result.audiences).toEqual(['payments.example.com', 'https://orders.example.com/api']);
    const [volume] = volumesOf(result.operations);
    expect(volume.name).toBe('kube-oidc-tokens');
    expect(volume.projected.sources.map((s) => s.serviceAccountToken)).toEqual([
      { audience: 'payments.example.com', expirationSeconds: 3600, path: 'payments.example.com/token' },
      { audience: 'https://orders.example.com/api', expirationSeconds: 3600, path: expect.stringMatching(/^orders\.example\.com-api-[0-9a-f]{8}\/token$/) },
    ]);
    const env = envOf(result.operations);
    expect(env[0]).toEqual({ name: 'KUBE_OIDC_TOKEN_FILE_PAYMENTS_EXAMPLE_COM', value: '/var/run/secrets/kube-oidc-aws.io/tokens/payments.example.com/token' });
    expect(env[1].name).toBe('KUBE_OIDC_TOKEN_FILE_HTTPS_ORDERS_EXAMPLE_COM_API');
    expect(env[1].value).toBe(`/var/run/secrets/kube-oidc-aws.io/tokens/${volume.projected.sources[1].serviceAccountToken.path}`);
    expect(result.operations.find((op) => op.path.endsWith('/volumeMounts'))?.value).toEqual([{ name: 'kube-oidc-tokens', readOnly: true, mountPath: '/var/run/secrets/kube-oidc-aws.io/tokens' }]);
  });

  test('pod annotations override the ServiceAccount; lifetime annotation and --service-token-expiration', () => {
    const sa = account({ 'kube-oidc-aws.io/audiences': 'a.example.com', 'kube-oidc-aws.io/token-expiration': '1200' });
    const result = mutate(pod({}, { 'kube-oidc-aws.io/audiences': 'b.example.com', 'kube-oidc-aws.io/token-expiration': '900' }), sa);
    expect(volumesOf(result.operations)[0].projected.sources.map((s) => s.serviceAccountToken)).toEqual([{ audience: 'b.example.com', expirationSeconds: 900, path: 'b.example.com/token' }]);
    const fromFlag = mutate(pod(), account({ 'kube-oidc-aws.io/audiences': 'a.example.com' }), { serviceTokenExpiration: 1800 });
    expect(volumesOf(fromFlag.operations)[0].projected.sources[0].serviceAccountToken.expirationSeconds).toBe(1800);
  });

  test('bad annotations refuse the service tokens (pod unchanged, warning) and leave the AWS identity alone', () => {
    for (const [annotations, message] of [
      [{ 'kube-oidc-aws.io/audiences': ' , ' }, /names no audience/],
      [{ 'kube-oidc-aws.io/audiences': 'a.example.com,a.example.com' }, /twice/],
      [{ 'kube-oidc-aws.io/audiences': 'has space' }, /has audience/],
      [{ 'kube-oidc-aws.io/audiences': 'caf\u00e9' }, /printable ASCII/],
      [{ 'kube-oidc-aws.io/audiences': 'x'.repeat(256) }, /longer than 255/],
      [{ 'kube-oidc-aws.io/audiences': Array.from({ length: 17 }, (_, i) => `a${i}`).join(',') }, /at most 16/],
      [{ 'kube-oidc-aws.io/audiences': 'a.example.com', 'kube-oidc-aws.io/token-expiration': '300' }, /between 600 and 86400/],
      [{ 'kube-oidc-aws.io/audiences': 'a.example.com', 'kube-oidc-aws.io/token-expiration': '1h' }, /token-expiration "1h"/],
    ] as const) {
      const alone = mutate(pod({}, annotations), undefined);
      expect(alone.operations).toEqual([]);
      expect(alone.warnings.join()).toMatch(message);
      const withAws = mutate(pod({}, annotations), account({ 'eks.amazonaws.com/role-arn': ROLE }));
      expect(withAws.roleArn).toBe(ROLE);
      expect(withAws.audiences).toEqual([]);
    }
  });

  test('names: any audience yields a safe directory and variable; collisions get a hash', () => {
    const layout = layoutServiceTokens(['a.b', 'a-b', 'A.B', '!!!', 'x'.repeat(200)]);
    const dirs = layout.map((l) => l.directory);
    const vars = layout.map((l) => l.envName);
    expect(new Set(dirs).size).toBe(5);
    expect(new Set(vars).size).toBe(5);
    for (const dir of dirs) expect(dir).toMatch(/^[a-z0-9][a-z0-9.-]{0,62}$/);
    for (const name of vars) expect(name).toMatch(/^KUBE_OIDC_TOKEN_FILE_[A-Z0-9_]+$/);
    expect(dirs[0]).toBe('a.b');
    expect(vars[0]).toMatch(/^KUBE_OIDC_TOKEN_FILE_A_B_[0-9A-F]{8}$/);
    expect(parseAudiences('one,two')).toEqual({ ok: true, audiences: ['one', 'two'] });
  });

  test('together with the AWS identity, include-containers under the service-token prefix, Windows paths', () => {
    const spec = { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [{ name: 'app' }, { name: 'sidecar' }], volumes: [{ name: 'data' }] };
    const result = mutate(pod(spec, { 'kube-oidc-aws.io/include-containers': 'app' }), account({ 'eks.amazonaws.com/role-arn': ROLE, 'kube-oidc-aws.io/audiences': 'payments.example.com' }));
    expect(result.operations.filter((op) => op.path.startsWith('/spec/volumes')).map((op) => op.path)).toEqual(['/spec/volumes/0', '/spec/volumes/-']);
    expect(envOf(result.operations).map((e) => e.name)).toEqual(['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'KUBE_OIDC_TOKEN_FILE_PAYMENTS_EXAMPLE_COM']);
    expect(envOf(result.operations)[2].value).toBe('C:\\var\\run\\secrets\\kube-oidc-aws.io\\tokens\\payments.example.com\\token');
    expect(envOf(result.operations, '/spec/containers/1/env').map((e) => e.name)).toEqual(['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']);
  });

  test('--service-token-annotation-prefix and --service-token-mount-path', () => {
    const options = { serviceTokenAnnotationPrefix: 'tokens.example.com', serviceTokenMountPath: '/tokens' };
    expect(mutate(pod(), account({ 'kube-oidc-aws.io/audiences': 'a.example.com' }), options).operations).toEqual([]);
    const result = mutate(pod(), account({ 'tokens.example.com/audiences': 'a.example.com' }), options);
    expect(envOf(result.operations)).toEqual([{ name: 'KUBE_OIDC_TOKEN_FILE_A_EXAMPLE_COM', value: '/tokens/a.example.com/token' }]);
  });

  test('a foreign volume named kube-oidc-tokens refuses the service tokens', () => {
    const result = mutate(pod({ volumes: [{ name: 'kube-oidc-tokens', emptyDir: {} }] }), account({ 'kube-oidc-aws.io/audiences': 'a.example.com' }));
    expect(result.operations).toEqual([]);
    expect(result.warnings.join()).toMatch(/already has a volume named kube-oidc-tokens/);
  });
});

describe('reinvocation (reinvocationPolicy: IfNeeded)', () => {
  test('a pod patched once needs no second patch', () => {
    const sa = account({ 'eks.amazonaws.com/role-arn': ROLE, 'kube-oidc-aws.io/audiences': 'payments.example.com,orders.example.com' });
    const first = mutate(pod({ initContainers: [{ name: 'init' }] }), sa, { awsDefaultRegion: 'eu-west-1', stsRegionalEndpoint: true });
    expect(first.operations.length).toBeGreaterThan(0);
    const patched = applyAdds(pod({ initContainers: [{ name: 'init' }] }), first.operations) as Pod;
    const second = mutate(patched, sa, { awsDefaultRegion: 'eu-west-1', stsRegionalEndpoint: true }, () => 0.7);
    expect(second.operations).toEqual([]);
    expect(second.warnings).toEqual([]);
  });
});

describe('AdmissionReview', () => {
  const review = (object: unknown, overrides: Record<string, unknown> = {}) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'payments', operation: 'CREATE', object, ...overrides },
  });
  const found = (sa: ServiceAccount): ServiceAccountLookup => ({ status: 'found', serviceAccount: sa });

  test('a mutated pod: same uid, allowed, JSONPatch, base64 patch, a record without the spec', () => {
    const parsed = parseAdmissionReview(JSON.stringify(review(pod())));
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(podSubject(parsed.review)).toMatchObject({ namespace: 'payments', serviceAccountName: 'api' });
    const { response, record } = answerReview(parsed.review, found(account({ 'eks.amazonaws.com/role-arn': ROLE })), DEFAULT_WEBHOOK_OPTIONS, zero);
    expect(response).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' } });
    const operations = JSON.parse(Buffer.from(response.response.patch ?? '', 'base64').toString('utf8'));
    expect(operations[0].path).toBe('/spec/volumes');
    expect(record).toMatchObject({ outcome: 'mutated', namespace: 'payments', pod: 'api-*', serviceAccount: 'api', roleArn: ROLE, patchOperations: 3 });
    expect(JSON.stringify(record)).not.toContain('app:1');
  });

  test('not applicable, not found, lookup failed: allowed without a patch', () => {
    const parsed = (value: unknown) => {
      const result = parseAdmissionReview(JSON.stringify(value));
      if (!result.ok) throw new Error(result.reason);
      return result.review;
    };
    const update = answerReview(parsed(review(pod(), { operation: 'UPDATE' })), found(account({ 'eks.amazonaws.com/role-arn': ROLE })), DEFAULT_WEBHOOK_OPTIONS, zero);
    expect(update.response.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    expect(update.record.outcome).toBe('not-applicable');
    const missing = answerReview(parsed(review(pod())), { status: 'not-found' }, DEFAULT_WEBHOOK_OPTIONS, zero);
    expect(missing.response.response.patch).toBeUndefined();
    expect(missing.record).toMatchObject({ outcome: 'unchanged', reason: 'ServiceAccount payments/api not found' });
    const failed = answerReview(parsed(review(pod())), { status: 'unavailable', reason: 'cache not synced' }, DEFAULT_WEBHOOK_OPTIONS, zero);
    expect(failed.response.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    expect(failed.record).toMatchObject({ outcome: 'lookup-failed', reason: 'cache not synced' });
    const warned = answerReview(parsed(review(pod({}, { 'kube-oidc-aws.io/audiences': ',' }))), { status: 'not-found' }, DEFAULT_WEBHOOK_OPTIONS, zero);
    expect(warned.response.response.warnings?.[0]).toMatch(/names no audience/);
  });

  test('malformed bodies are named', () => {
    expect(parseAdmissionReview('{')).toEqual({ ok: false, reason: 'the body is not JSON' });
    expect(parseAdmissionReview('[]')).toEqual({ ok: false, reason: 'the body is not a JSON object' });
    expect(parseAdmissionReview(JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/only admission.k8s.io\/v1/) });
    expect(parseAdmissionReview(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }))).toEqual({ ok: false, reason: 'request.uid is missing' });
  });
});

describe('options', () => {
  test('defaults match upstream flags', () => {
    expect(resolveWebhookOptions()).toEqual({
      annotationPrefix: 'eks.amazonaws.com',
      defaultAudience: 'sts.amazonaws.com',
      tokenMountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
      tokenExpiration: 86400,
      stsRegionalEndpoint: false,
      serviceTokenAnnotationPrefix: 'kube-oidc-aws.io',
      serviceTokenMountPath: '/var/run/secrets/kube-oidc-aws.io/tokens',
      serviceTokenExpiration: 3600,
    });
  });

  test('bad settings are named', () => {
    expect(() => resolveWebhookOptions({ annotationPrefix: 'Not A Domain' })).toThrow(/annotationPrefix "Not A Domain"/);
    expect(() => resolveWebhookOptions({ tokenMountPath: 'relative' })).toThrow(/tokenMountPath "relative"/);
    expect(() => resolveWebhookOptions({ tokenExpiration: 599 })).toThrow(/tokenExpiration 599/);
    expect(() => resolveWebhookOptions({ serviceTokenMountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount/x' })).toThrow(/overlap/);
    expect(() => resolveWebhookOptions({ serviceTokenAnnotationPrefix: 'eks.amazonaws.com' })).toThrow(/collide/);
    expect(() => resolveWebhookOptions({ awsDefaultRegion: 'EU West' })).toThrow(/awsDefaultRegion/);
  });
});

function applyAdds(document: unknown, operations: readonly PatchOperation[]): unknown {
  const root = structuredClone(document) as Record<string, unknown>;
  for (const operation of operations) {
    const tokens = operation.path.split('/').slice(1);
    let parent: unknown = root;
    for (const token of tokens.slice(0, -1)) parent = Array.isArray(parent) ? parent[Number(token)] : (parent as Record<string, unknown>)[token];
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(structuredClone(operation.value));
      else parent.splice(Number(last), 0, structuredClone(operation.value));
    } else (parent as Record<string, unknown>)[last] = structuredClone(operation.value);
  }
  return root;
}
