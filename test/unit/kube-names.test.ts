/**
 * Kubernetes name rules shared by the token checks, the deny list and the configuration.
 */
import { isDnsLabel, isDnsSubdomain } from '../../core/kube-names';

describe('Kubernetes names', () => {
  it('takes a namespace as a DNS label of at most 63 characters', () => {
    for (const name of ['a', 'kube-system', 'a1', '0', 'x'.repeat(63)]) expect(isDnsLabel(name)).toBe(true);
    for (const name of ['', 'Kube', '-a', 'a-', 'a.b', 'a_b', 'x'.repeat(64), 'é']) expect(isDnsLabel(name)).toBe(false);
  });

  it('takes a service account name as a DNS subdomain of at most 253 characters', () => {
    const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(longest).toHaveLength(253);
    for (const name of ['api', 'a.b', 'ebs-csi.controller', longest]) expect(isDnsSubdomain(name)).toBe(true);
    for (const name of ['', 'API', 'a..b', '.a', 'a.', 'a_b', `${longest}e`]) expect(isDnsSubdomain(name)).toBe(false);
  });
});
