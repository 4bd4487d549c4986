/**
 * docs/security-model.md against the code: the denied answer is the handler's, the deny commands
 * use real kinds and flags, the in-cluster TokenReview body is one the Verify API accepts too, and
 * the defaults the page quotes are the configuration's. (Its alarm table is checked against the
 * synthesized stack in multi-cluster-config.test.ts.)
 */
import { parse as parseYaml } from 'yaml';
import { CONFIG_DEFAULTS } from '../../core/config';
import { addDenyEntry, emptyDenyList } from '../../core/deny-list';
import { createVerifier } from '../../core/verifier';
import { handleVerifyRequest } from '../../core/verify-api';
import { FIXTURE_NOW, kubeClaims, kubeFixtures, TEST_ISSUER } from '../support/tokens';
import { FIXTURE_AUDIENCES, fixtureAnswer, fixtureToken } from './support/fixture-api';
import { bashSyntaxError } from './support/run';
import { cliProblems, docBlock, kubeOidcInvocations, projectFile } from './support/doc-blocks';
import { exampleConfig } from './support/example-config';

const prodEuAudiences = (exampleConfig().clusters[0] as { verifyApi: { audiences: string[] } }).verifyApi.audiences;

test('security-short-token: a short-lived token for a Verify API audience', () => {
  const [volume] = (parseYaml(docBlock('security-short-token').text) as { volumes: { projected: { sources: { serviceAccountToken: { audience: string; expirationSeconds: number } }[] } }[] }).volumes;
  const token = volume.projected.sources[0].serviceAccountToken;
  expect(token.expirationSeconds).toBe(600);
  expect(prodEuAudiences).toContain(token.audience);
});

test('security-deny uses real kinds and flags, naming the pod of the answer below', () => {
  const script = docBlock('security-deny').text;
  expect(bashSyntaxError(script)).toBe('');
  const invocations = kubeOidcInvocations(script);
  expect(invocations.flatMap(cliProblems)).toEqual([]);
  const kinds = invocations.filter((args) => args.includes('--kind')).map((args) => args[args.indexOf('--kind') + 1]);
  expect(kinds).toEqual(['pod-uid', 'service-account']);
  const podUid = (kubeClaims()['kubernetes.io'] as { pod: { uid: string } }).pod.uid;
  expect(invocations[0]).toContain(podUid);
});

test('security-denied-answer is what /verify answers for a token of a denied pod', async () => {
  const podUid = (kubeClaims()['kubernetes.io'] as { pod: { uid: string } }).pod.uid;
  const denyList = addDenyEntry(emptyDenyList(), 'podUid', podUid, { at: FIXTURE_NOW - 60, reason: 'pod compromised' });
  const verifier = createVerifier(kubeFixtures().jwks, { issuer: TEST_ISSUER, allowedAudiences: FIXTURE_AUDIENCES }, denyList);
  const answer = await handleVerifyRequest(
    { method: 'POST', path: '/verify', headers: {}, query: {}, body: JSON.stringify({ token: fixtureToken(), audiences: [FIXTURE_AUDIENCES[0]] }) },
    { keys: { current: async () => verifier, refreshForUnknownKid: async () => undefined }, now: () => FIXTURE_NOW, authAudiences: [] },
  );
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body)).toEqual(JSON.parse(docBlock('security-denied-answer').text));
});

test('security-incluster-tokenreview sends a body the Verify API\'s TokenReview route accepts as well', async () => {
  const script = docBlock('security-incluster-tokenreview').text;
  expect(bashSyntaxError(script)).toBe('');
  const body = /<<EOF\n([\s\S]*?)\nEOF/.exec(script)?.[1] ?? '';
  const withToken = body.replace('$TOKEN', fixtureToken());
  const answer = await fixtureAnswer({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: withToken });
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body)).toMatchObject({ kind: 'TokenReview', status: { authenticated: true, audiences: ['orders.example.internal'] } });
});

test('the defaults the page quotes are the configuration\'s', () => {
  const page = projectFile('docs/security-model.md');
  expect(page).toContain(`every \`verifyApi.keysTtlSeconds\` (${CONFIG_DEFAULTS.keysTtlSeconds} s by default)`);
  expect(page).toContain(`(${CONFIG_DEFAULTS.clockSkewSeconds} s of clock skew by default)`);
});
