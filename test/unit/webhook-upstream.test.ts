/**
 * Upstream equivalence: pods from the EKS pod identity webhook's own test fixtures
 * (aws/amazon-eks-pod-identity-webhook pkg/handler/testdata/*.pod.yaml, driven by
 * pkg/handler/handler_pod_test.go) must end up exactly as upstream's expected patch leaves them.
 * Our patch is shaped differently (single additions instead of replacing `containers`), so the
 * comparison is on the resulting pod: both patches are applied by an independent RFC 6902 "add"
 * implementation below, and Go's serialisation artefact `resources: {}` is dropped.
 */
import { mutatePod } from '../../core/webhook/mutate';
import { resolveWebhookOptions, WebhookOptions } from '../../core/webhook/options';
import { Container, Pod, ServiceAccount } from '../../core/webhook/types';

/** Upstream test fixtures draw the jitter from a mock returning 0: the floor, 79200. */
const RANDOM_ZERO = (): number => 0;
const ROLE = 'arn:aws:iam::111122223333:role/s3-reader';
const ROLE_CN = 'arn:aws-cn:iam::111122223333:role/s3-reader';
const TOKEN_FILE = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
const MOUNT = { name: 'aws-iam-token', readOnly: true, mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' };
const volume = (expirationSeconds: number): object => ({
  name: 'aws-iam-token',
  projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds, path: 'token' } }] },
});

interface UpstreamCase {
  /** The upstream fixture file the case comes from. */
  readonly fixture: string;
  readonly pod: Pod;
  /** ServiceAccount annotations (upstream's testing.eks.amazonaws.com/serviceAccount/*). */
  readonly accountAnnotations: Record<string, string>;
  /** Flags (upstream's testing.eks.amazonaws.com/handler/*). */
  readonly flags?: Partial<WebhookOptions>;
  /** Upstream's expectedPatch, or null for "no mutation". */
  readonly expectedPatch: readonly { op: 'add'; path: string; value: unknown }[] | null;
}

const container = (extra: object = {}): Container => ({ image: 'amazonlinux', name: 'balajilovesoreos', ...extra });

const CASES: readonly UpstreamCase[] = [
  {
    fixture: 'rawPodWithoutVolumes.pod.yaml',
    pod: { metadata: { name: 'balajilovesoreos' }, spec: { containers: [container()], serviceAccountName: 'default' } as Pod['spec'] },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(79200)] },
      { op: 'add', path: '/spec/containers', value: [container({ env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }], resources: {}, volumeMounts: [MOUNT] })] },
    ],
  },
  {
    fixture: 'rawPodWithVolumes.pod.yaml',
    pod: { metadata: { name: 'balajilovesoreos' }, spec: { containers: [container()], serviceAccountName: 'default', volumes: [{ name: 'my-volume' }] } },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes/0', value: volume(79200) },
      { op: 'add', path: '/spec/containers', value: [container({ env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }], resources: {}, volumeMounts: [MOUNT] })] },
    ],
  },
  {
    fixture: 'windowsPodWithoutVolumes.pod.yaml',
    pod: { metadata: { name: 'balajilovesoreos' }, spec: { containers: [container()], nodeSelector: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/os': 'windows' }, serviceAccountName: 'default' } },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(79200)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({ env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token' }], resources: {}, volumeMounts: [MOUNT] })],
      },
    ],
  },
  {
    fixture: 'betaWindowsPodWithoutVolumes.pod.yaml (beta.kubernetes.io/os)',
    pod: { metadata: { name: 'balajilovesoreos' }, spec: { containers: [container()], nodeSelector: { 'beta.kubernetes.io/os': 'windows' }, serviceAccountName: 'default' } },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(79200)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({ env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token' }], resources: {}, volumeMounts: [MOUNT] })],
      },
    ],
  },
  {
    fixture: 'rawPodWithInitContainer.pod.yaml',
    pod: {
      metadata: { name: 'balajilovesoreos' },
      spec: { initContainers: [{ image: 'amazonlinux', name: 'initcontainer' }, { image: 'amazonlinux', name: 'sidecar', restartPolicy: 'Always' }], containers: [container()], serviceAccountName: 'default' },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    flags: { awsDefaultRegion: 'seattle' },
    expectedPatch: (() => {
      const env = [{ name: 'AWS_DEFAULT_REGION', value: 'seattle' }, { name: 'AWS_REGION', value: 'seattle' }, { name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }];
      return [
        { op: 'add' as const, path: '/spec/volumes', value: [volume(79200)] },
        { op: 'add' as const, path: '/spec/containers', value: [container({ env, resources: {}, volumeMounts: [MOUNT] })] },
        {
          op: 'add' as const,
          path: '/spec/initContainers',
          value: [
            { name: 'initcontainer', image: 'amazonlinux', env, resources: {}, volumeMounts: [MOUNT] },
            { name: 'sidecar', image: 'amazonlinux', env, resources: {}, restartPolicy: 'Always', volumeMounts: [MOUNT] },
          ],
        },
      ];
    })(),
  },
  {
    fixture: 'rawPodSkip.pod.yaml',
    pod: {
      metadata: { name: 'balajilovesoreos', annotations: { 'eks.amazonaws.com/skip-containers': 'sidecar' } },
      spec: { containers: [{ image: 'amazonlinux', name: 'sidecar' }, container({ env: [{ name: 'AWS_ROLE_ARN', value: 'already-defined' }] })], serviceAccountName: 'default' },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    flags: { awsDefaultRegion: 'us-west-2' },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(79200)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [
          { name: 'sidecar', image: 'amazonlinux', resources: {} },
          container({ env: [{ name: 'AWS_ROLE_ARN', value: 'already-defined' }, { name: 'AWS_DEFAULT_REGION', value: 'us-west-2' }, { name: 'AWS_REGION', value: 'us-west-2' }], resources: {}, volumeMounts: [MOUNT] }),
        ],
      },
    ],
  },
  {
    fixture: 'rawPodMinTokenExpiration.pod.yaml',
    pod: {
      metadata: { name: 'balajilovesoreos', annotations: { 'eks.amazonaws.com/token-expiration': '0' } },
      spec: { containers: [container({ env: [{ name: 'AWS_REGION', value: 'cn-northwest-1' }, { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }] })], serviceAccountName: 'default' },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_CN },
    flags: { awsDefaultRegion: 'cn-north-1', stsRegionalEndpoint: true },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(600)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({
          env: [{ name: 'AWS_REGION', value: 'cn-northwest-1' }, { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }, { name: 'AWS_ROLE_ARN', value: ROLE_CN }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }],
          resources: {},
          volumeMounts: [MOUNT],
        })],
      },
    ],
  },
  {
    fixture: 'rawPodHasTokenExpiration.pod.yaml',
    pod: {
      metadata: { name: 'balajilovesoreos', annotations: { 'eks.amazonaws.com/token-expiration': '3600' } },
      spec: { containers: [container({ env: [{ name: 'AWS_REGION', value: 'cn-northwest-1' }, { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }] })], serviceAccountName: 'default' },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_CN },
    flags: { awsDefaultRegion: 'cn-north-1', stsRegionalEndpoint: true },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(3600)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({
          env: [{ name: 'AWS_REGION', value: 'cn-northwest-1' }, { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }, { name: 'AWS_ROLE_ARN', value: ROLE_CN }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }],
          resources: {},
          volumeMounts: [MOUNT],
        })],
      },
    ],
  },
  {
    fixture: 'rawPodHasAll.pod.yaml',
    pod: {
      metadata: { name: 'balajilovesoreos' },
      spec: {
        containers: [container({ env: [{ name: 'AWS_REGION', value: 'cn-northwest-1' }, { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }, { name: 'AWS_ROLE_ARN', value: ROLE_CN }] })],
        serviceAccountName: 'default',
      },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_CN },
    flags: { awsDefaultRegion: 'cn-north-1', stsRegionalEndpoint: true, tokenExpiration: 3600 },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(3600)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({ env: [{ name: 'AWS_REGION', value: 'cn-northwest-1' }, { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }, { name: 'AWS_ROLE_ARN', value: ROLE_CN }], resources: {} })],
      },
    ],
  },
  {
    fixture: 'rawPodRegionPresent.pod.yaml',
    pod: { metadata: { name: 'balajilovesoreos' }, spec: { containers: [container({ env: [{ name: 'AWS_REGION', value: 'paris' }] })], serviceAccountName: 'default' } },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(79200)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({ env: [{ name: 'AWS_REGION', value: 'paris' }, { name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }], resources: {}, volumeMounts: [MOUNT] })],
      },
    ],
  },
  {
    fixture: 'rawPodNoSTSAnnotationOverride.pod.yaml',
    pod: { metadata: { name: 'balajilovesoreos' }, spec: { containers: [container()], serviceAccountName: 'default' } },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/sts-regional-endpoints': 'false' },
    flags: { awsDefaultRegion: 'us-east-1', stsRegionalEndpoint: true },
    expectedPatch: [
      { op: 'add', path: '/spec/volumes', value: [volume(79200)] },
      {
        op: 'add',
        path: '/spec/containers',
        value: [container({
          env: [{ name: 'AWS_DEFAULT_REGION', value: 'us-east-1' }, { name: 'AWS_REGION', value: 'us-east-1' }, { name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }],
          resources: {},
          volumeMounts: [MOUNT],
        })],
      },
    ],
  },
  {
    fixture: 'rawPodHasForeignTokenVolume.pod.yaml',
    pod: {
      metadata: { name: 'balajilovesoreos' },
      spec: {
        containers: [container()],
        serviceAccountName: 'default',
        volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 3600, path: 'token' } }] } }],
      },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: null,
  },
  {
    fixture: 'rawPodHasTokenVolume.pod.yaml (webhook reinvocation)',
    pod: {
      metadata: { name: 'balajilovesoreos' },
      spec: {
        containers: [
          container({ env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }], volumeMounts: [MOUNT] }),
          { image: 'amazonlinux', name: 'sidecar' },
        ],
        serviceAccountName: 'default',
        volumes: [volume(86400) as never],
      },
    },
    accountAnnotations: { 'eks.amazonaws.com/role-arn': ROLE },
    expectedPatch: [
      {
        op: 'add',
        path: '/spec/containers',
        value: [
          container({ env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }], resources: {}, volumeMounts: [MOUNT] }),
          { name: 'sidecar', image: 'amazonlinux', env: [{ name: 'AWS_ROLE_ARN', value: ROLE }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE }], resources: {}, volumeMounts: [MOUNT] },
        ],
      },
    ],
  },
];

describe('upstream equivalence (aws/amazon-eks-pod-identity-webhook pkg/handler/testdata)', () => {
  test.each(CASES.map((c) => [c.fixture, c] as const))('%s', (_name, testCase) => {
    const account: ServiceAccount = { metadata: { name: 'default', namespace: 'default', annotations: testCase.accountAnnotations } };
    const mutation = mutatePod(testCase.pod, account, resolveWebhookOptions(testCase.flags ?? {}), RANDOM_ZERO);
    const ours = applyAdds(testCase.pod, mutation.operations);
    const theirs = testCase.expectedPatch === null ? testCase.pod : applyAdds(testCase.pod, testCase.expectedPatch);
    expect(withoutGoArtefacts(ours)).toEqual(withoutGoArtefacts(theirs));
    if (testCase.expectedPatch === null) expect(mutation.operations).toHaveLength(0);
    else expect(mutation.operations.length).toBeGreaterThan(0);
  });
});

/** RFC 6902 "add", written for the test: object members, array insertion by index and "-" append. */
function applyAdds(document: unknown, operations: readonly { op: string; path: string; value: unknown }[]): unknown {
  const root = structuredClone(document) as Record<string, unknown>;
  for (const operation of operations) {
    expect(operation.op).toBe('add');
    const tokens = operation.path.split('/').slice(1).map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
    let parent: unknown = root;
    for (const token of tokens.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(token)] : (parent as Record<string, unknown>)[token];
      if (parent === undefined) throw new Error(`path ${operation.path} does not exist`);
    }
    const last = tokens[tokens.length - 1];
    const value = structuredClone(operation.value);
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(value);
      else {
        const index = Number(last);
        if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`bad index in ${operation.path}`);
        parent.splice(index, 0, value);
      }
    } else {
      (parent as Record<string, unknown>)[last] = value;
    }
  }
  return root;
}

/** Go's encoder writes `resources: {}` into every container it re-serialises; it means nothing. */
function withoutGoArtefacts(pod: unknown): unknown {
  const copy = structuredClone(pod) as { spec?: Record<string, { resources?: object }[] | undefined> };
  for (const list of ['containers', 'initContainers']) {
    for (const entry of copy.spec?.[list] ?? []) {
      if (entry.resources && Object.keys(entry.resources).length === 0) delete entry.resources;
    }
  }
  return copy;
}
