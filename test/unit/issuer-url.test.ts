/**
 * The issuer-URL rules shared by the configuration and `kube-oidc check` (core/issuer-url.ts).
 * Their messages are asserted through the configuration in config.test.ts and through the check
 * in issuer-checks.test.ts; here: how a URL is split, which rule each problem names, and that the
 * module stays free of zod so the check (and anything else that imports it) never bundles zod.
 */
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { issuerUrlParts, issuerUrlProblems, issuerUrlRuleProblems, MAX_ISSUER_URL_LENGTH } from '../../core/issuer-url';
import { MAX_ISSUER_URL_LENGTH as CONFIG_MAX_ISSUER_URL_LENGTH } from '../../core/config';

const ROOT = resolve(__dirname, '..', '..');
const rules = (url: string): string[] => issuerUrlRuleProblems(url).map((p) => p.rule);

describe('issuerUrlParts', () => {
  test.each([
    ['https://oidc.example.com', { scheme: 'https', host: 'oidc.example.com', path: '' }],
    ['https://oidc.example.com/a/b?x#y', { scheme: 'https', host: 'oidc.example.com', path: '/a/b' }],
    ['HTTP://u:p@Host.example:8443/a', { scheme: 'HTTP', userInfo: 'u:p', host: 'Host.example', port: '8443', path: '/a' }],
    ['http://[::1]:8787/a', { scheme: 'http', host: '[::1]', port: '8787', path: '/a' }],
    ['https://[2001:db8::1]/a', { scheme: 'https', host: '[2001:db8::1]', path: '/a' }],
    ['https://oidc.example.com:/a', { scheme: 'https', host: 'oidc.example.com', port: '', path: '/a' }],
  ])('%s', (url, parts) => {
    expect(issuerUrlParts(url)).toEqual(parts);
  });

  test('a string without "scheme://" has no parts', () => {
    expect(issuerUrlParts('oidc.example.com/a')).toBeUndefined();
    expect(issuerUrlParts('https:oidc.example.com')).toBeUndefined();
  });
});

describe('issuerUrlRuleProblems', () => {
  test('an acceptable issuer breaks no rule', () => {
    expect(issuerUrlRuleProblems('https://oidc.example.com/cluster-a')).toEqual([]);
    expect(issuerUrlRuleProblems('https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE')).toEqual([]);
  });

  test.each([
    ['oidc.example.com', ['absolute']],
    ['http://127.0.0.1:8787/a', ['scheme', 'port', 'host']],
    ['https://OIDC.example.com:443/', ['port', 'host-case', 'trailing-slash']],
    ['https://u@oidc.example.com/a?b#c', ['query', 'fragment', 'user-info']],
    ['https://oidc.example.com/a/../b', ['dot-segment']],
    ['https://oidc.example.com/a%20b', ['percent-encoding']],
    ['https://oidc.example.com/a b', ['path']],
  ])('%s breaks %j', (url, expected) => {
    expect(rules(url)).toEqual(expected);
  });

  test('a URL longer than IAM\'s limit breaks the length rule; one at the limit does not', () => {
    const base = 'https://oidc.example.com/';
    expect(rules(`${base}${'a'.repeat(MAX_ISSUER_URL_LENGTH - base.length + 1)}`)).toEqual(['length']);
    expect(rules(`${base}${'a'.repeat(MAX_ISSUER_URL_LENGTH - base.length)}`)).toEqual([]);
  });

  test('an IPv6 literal is refused as a host, and its colons are not read as a port', () => {
    expect(issuerUrlProblems('https://[2001:db8::1]/a')).toEqual([['does not have a valid DNS host name', 'use a fully qualified host name such as oidc.example.com (no IP address)']]);
    expect(rules('https://[2001:db8::1]:8443/a')).toEqual(['port', 'host']);
  });

  test('issuerUrlProblems gives each rule problem as [problem, fix]', () => {
    const url = 'http://OIDC.example.com/a/';
    expect(issuerUrlProblems(url)).toEqual(issuerUrlRuleProblems(url).map((p) => [p.problem, p.fix]));
    expect(issuerUrlProblems(url).length).toBe(3);
  });

  test('the length limit is the one core/config exports', () => {
    expect(CONFIG_MAX_ISSUER_URL_LENGTH).toBe(MAX_ISSUER_URL_LENGTH);
    expect(MAX_ISSUER_URL_LENGTH).toBe(255);
  });
});

test.each(['core/issuer-url.ts', 'core/issuer-checks.ts'])('%s bundles without zod or the config modules', (entry) => {
  const result = buildSync({
    entryPoints: [join(ROOT, entry)], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs).toContain(entry);
  expect(inputs.filter((input) => /(^|\/)node_modules\/zod\/|(^|\/)core\/config(-[a-z]+)?\.ts$/.test(input))).toEqual([]);
});
