/**
 * The one set of rules for an issuer URL, shared by the configuration (`core/config-schema.ts`)
 * and the issuer doctor (`core/issuer-checks.ts`, `kube-oidc check`).
 *
 * IAM, AWS STS and every verifier compare the issuer byte for byte, so only one spelling of a URL
 * is accepted: `https://HOST[/PATH]`, https only; no query, fragment, port or user information; no
 * trailing slash; a lowercase DNS host name (no IP address); path segments of
 * `A-Z a-z 0-9 . _ ~ -`, no `.` or `..` segment and no percent-encoding; at most 255 characters.
 *
 * The rules read the URL as given, never a parsed and normalised form: WHATWG URL parsing would
 * lowercase the host, drop a default port and resolve dot segments, hiding exactly the
 * differences that make two spellings of one URL different issuers.
 *
 * Pure and dependency-free (no zod): the CLI's check imports it.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#IssuerDiscovery
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
 */

/** IAM limits the provider URL to this many characters. */
export const MAX_ISSUER_URL_LENGTH = 255;

/** A lowercase, fully qualified DNS name; the last label starts with a letter, so no IPv4 address matches. */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Which rule a problem breaks. */
export type IssuerUrlRule =
  | 'absolute'
  | 'scheme'
  | 'length'
  | 'query'
  | 'fragment'
  | 'user-info'
  | 'port'
  | 'host-case'
  | 'host'
  | 'trailing-slash'
  | 'dot-segment'
  | 'percent-encoding'
  | 'path';

/** One broken rule: what is wrong (worded to follow the URL or "the issuer URL") and how to fix it. */
export interface IssuerUrlProblem {
  readonly rule: IssuerUrlRule;
  readonly problem: string;
  readonly fix: string;
}

/** The parts of an issuer URL as the rules read them: the characters as given, nothing normalised. */
export interface IssuerUrlParts {
  /** The scheme as written (`https`, `HTTP`, ...). */
  readonly scheme: string;
  /** The text before `@` in the authority, when there is one. */
  readonly userInfo?: string;
  /** The host as written; an IPv6 literal keeps its brackets. */
  readonly host: string;
  /** The text after the host's `:`, when there is one (digits in a well-formed URL). */
  readonly port?: string;
  /** The path from its first `/` up to a `?` or `#`, or `''`. */
  readonly path: string;
}

/** Splits an issuer URL into its parts; undefined when it does not start with `scheme://`. */
export function issuerUrlParts(url: string): IssuerUrlParts | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!scheme) return undefined;
  const rest = url.slice(scheme[0].length).replace(/[?#].*$/, '');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  const hostPort = authority.slice(at + 1);
  // An IPv6 literal has colons of its own: the port, if any, follows its closing bracket.
  const bracketed = /^(\[[^\]]*\])(.*)$/.exec(hostPort);
  const colon = bracketed ? -1 : hostPort.indexOf(':');
  const host = bracketed ? bracketed[1] : colon === -1 ? hostPort : hostPort.slice(0, colon);
  const afterHost = bracketed ? bracketed[2] : colon === -1 ? '' : hostPort.slice(colon);
  return {
    scheme: scheme[1],
    ...(at === -1 ? {} : { userInfo: authority.slice(0, at) }),
    host,
    ...(afterHost === '' ? {} : { port: afterHost.replace(/^:/, '') }),
    path: slash === -1 ? '' : rest.slice(slash),
  };
}

/** Every rule the issuer URL breaks, in a fixed order; empty when it is acceptable. */
export function issuerUrlRuleProblems(url: string): IssuerUrlProblem[] {
  const parts = issuerUrlParts(url);
  if (!parts) return [{ rule: 'absolute', problem: 'is not an absolute URL', fix: 'give the issuer as https://HOST[/PATH], e.g. "https://oidc.example.com"' }];
  const problems: IssuerUrlProblem[] = [];
  const add = (rule: IssuerUrlRule, problem: string, fix: string): void => { problems.push({ rule, problem, fix }); };
  if (parts.scheme !== 'https') add('scheme', 'does not use https', 'serve the issuer over https (https://...): IAM and STS only accept https issuers');
  if (url.length > MAX_ISSUER_URL_LENGTH) add('length', `is longer than ${MAX_ISSUER_URL_LENGTH} characters (IAM's limit)`, 'use a shorter host or path');
  if (url.includes('?')) add('query', 'has a query string', 'remove everything from "?": an issuer has no query');
  if (url.includes('#')) add('fragment', 'has a fragment', 'remove everything from "#": an issuer has no fragment');
  if (parts.userInfo !== undefined) add('user-info', 'has user information', 'remove "user@" from the URL');
  if (parts.port !== undefined) add('port', 'has a port', 'remove the port: IAM refuses provider URLs with a port, and CloudFront serves 443');
  const { host, path } = parts;
  if (host !== host.toLowerCase()) {
    add('host-case', 'has uppercase letters in its host', `write the host in lowercase (${JSON.stringify(host.toLowerCase())}): the issuer is compared byte for byte`);
  } else if (!DNS_NAME.test(host)) {
    add('host', 'does not have a valid DNS host name', 'use a fully qualified host name such as oidc.example.com (no IP address)');
  }
  if (path.endsWith('/')) {
    add('trailing-slash', 'ends with a slash', `remove the trailing slash (${JSON.stringify(url.replace(/\/+$/, ''))}): IAM condition keys and token "iss" must match byte for byte`);
  } else if (path.split('/').some((segment) => segment === '.' || segment === '..')) {
    add(
      'dot-segment',
      'has a dot segment ("." or "..") in its path',
      'write the path without "." and ".." segments: clients resolve them, so the documents would be fetched from another path than the "iss" tokens carry',
    );
  } else if (path.includes('%')) {
    add(
      'percent-encoding',
      'has percent-encoding in its path',
      'write the path in plain characters (letters, digits, ".", "_", "~", "-"): an encoded and a decoded issuer are different strings to IAM but the same URL to a web server',
    );
  } else if (path !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(path)) {
    add('path', 'has an unsupported path', 'use path segments of letters, digits, ".", "_", "~" and "-" only (e.g. https://oidc.example.com/cluster-a)');
  }
  return problems;
}

/**
 * The problems of an issuer URL, each `[problem, fix]` (see {@link issuerUrlRuleProblems}): IAM,
 * STS and every verifier compare the issuer byte for byte, so only one spelling of a URL is accepted.
 */
export function issuerUrlProblems(url: string): [string, string][] {
  return issuerUrlRuleProblems(url).map(({ problem, fix }) => [problem, fix]);
}
