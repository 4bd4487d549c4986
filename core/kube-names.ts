/**
 * Kubernetes' rules for the names this project reads from tokens and configuration: a namespace
 * is an RFC 1123 DNS label, a service account an RFC 1123 DNS subdomain.
 *
 * @see kubernetes/staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go (IsDNS1123Label, IsDNS1123Subdomain)
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether a name is a DNS label: lowercase letters, digits and inner hyphens, at most 63 characters. */
export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

/** Whether a name is a DNS subdomain: dot-separated DNS labels, at most 253 characters in all. */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}
