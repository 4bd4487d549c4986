/**
 * The ServiceAccount cache (real @kubernetes/client-node ListWatch) against a local server
 * speaking the Kubernetes list/watch protocol: initial list, watch events, the grace period for
 * an account created just before its pod, deletion, a watch the server ends, and an API server
 * that fails (the cache then answers `unavailable` instead of guessing).
 */
import { startServiceAccountCache, ServiceAccountCache, CacheEvent } from '../../runtime/webhook-sa-cache';
import { eventually, FakeKubeApi } from '../support/fake-kube-api';

describe('ServiceAccount watch cache', () => {
  let api: FakeKubeApi;
  let cache: ServiceAccountCache | undefined;
  const events: CacheEvent[] = [];

  beforeEach(async () => {
    events.length = 0;
    api = await FakeKubeApi.start([{ name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/payments-api' } }]);
  });

  afterEach(async () => {
    await cache?.stop();
    cache = undefined;
    await api.stop();
  });

  test('lists, then follows the watch; a late account is found within the grace period', async () => {
    cache = await startServiceAccountCache({ kubeconfigPath: api.kubeconfig(), lookupGraceMs: 2000, onEvent: (event) => events.push(event) });
    await eventually(() => cache!.synced() && api.openWatches === 1, 'first list and an open watch');
    expect(events).toContainEqual({ type: 'synced', serviceAccounts: 1 });
    expect(api.authorizations).toContain('Bearer test-token');
    expect(api.requests.some((r) => r.startsWith('GET /api/v1/serviceaccounts?') && r.includes('watch=true'))).toBe(true);

    const found = await cache.lookup('payments', 'api');
    expect(found).toEqual({ status: 'found', serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/payments-api' } } } });

    // The pod's review arrives before the watch event of its new ServiceAccount.
    const pending = cache.lookup('orders', 'worker');
    setTimeout(() => api.put({ name: 'worker', namespace: 'orders', annotations: { 'kube-oidc-aws.io/audiences': 'payments.example.com' } }), 50);
    expect(await pending).toMatchObject({ status: 'found', serviceAccount: { metadata: { name: 'worker', annotations: { 'kube-oidc-aws.io/audiences': 'payments.example.com' } } } });

    api.put({ name: 'api', namespace: 'payments', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/changed' } });
    await eventually(async () => JSON.stringify(await cache!.lookup('payments', 'api')).includes('role/changed'), 'the update applied');
    api.remove('payments', 'api');
    await eventually(() => cache!.size() === 1, 'the deletion applied');
  });

  test('a missing account after the grace period is not-found; a watch ended by the server is resumed', async () => {
    cache = await startServiceAccountCache({ kubeconfigPath: api.kubeconfig(), lookupGraceMs: 30 });
    await eventually(() => cache!.synced() && api.openWatches === 1, 'synced');
    expect(await cache.lookup('payments', 'nobody')).toEqual({ status: 'not-found' });
    api.closeWatches();
    await eventually(() => api.openWatches === 1, 'the watch reopened');
    api.put({ name: 'after-reconnect', namespace: 'payments' });
    await eventually(async () => (await cache!.lookup('payments', 'after-reconnect')).status === 'found', 'an event after the reconnect');
  });

  test('an API server that refuses the list: unavailable, then synced once it recovers', async () => {
    api.listFailure = 403;
    cache = await startServiceAccountCache({ kubeconfigPath: api.kubeconfig(), lookupGraceMs: 10, retryBaseMs: 50, onEvent: (event) => events.push(event) });
    await eventually(() => events.some((event) => event.type === 'error'), 'an error event');
    expect(cache.synced()).toBe(false);
    expect(await cache.lookup('payments', 'api')).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/first list/) });
    api.listFailure = undefined;
    await eventually(() => cache!.synced(), 'synced after recovery');
    expect(await cache.lookup('payments', 'api')).toMatchObject({ status: 'found' });
  });
});
