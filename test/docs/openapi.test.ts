/**
 * docs/openapi.yaml against the code: its paths are exactly the Verify API's routes (as the
 * handler and the CDK construct define them), its reason enum is the verifier's, and real answers
 * of the request handler, for every route and every status it can give, conform to the documented
 * schemas and headers. Each documented status is produced by some request here, so nothing in the
 * description is stale either.
 */
import { parse as parseYaml } from 'yaml';
import { REASON_CODES } from '../../core/verifier';
import { ApiResponse, AUTH_HEADERS, AUTH_PATH, TOKEN_REVIEW_PATH, VERIFY_PATH } from '../../core/verify-api';
import { VERIFY_API_ROUTES } from '../../lib/constructs/verify-api';
import { FIXTURE_IAT } from '../support/tokens';
import { FIXTURE_AUDIENCES, fixtureAnswer, fixtureToken } from './support/fixture-api';
import { projectFile } from './support/doc-blocks';
import { resolveRef, schemaErrors } from './support/json-schema';
import { tampered } from './support/tokens';

type Json = Record<string, unknown>;
interface Operation { requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { headers?: Record<string, Json>; content?: Record<string, { schema: unknown }> }> }

const document = parseYaml(projectFile('docs/openapi.yaml')) as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Json> } };
const token = fixtureToken();
const EXPIRED_AT = FIXTURE_IAT + 3600 + 120;

interface Scenario {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly options?: Parameters<typeof fixtureAnswer>[1];
}

function bodyScenarios(path: string, validBody: unknown, invalidShape: unknown): Scenario[] {
  return [
    { name: 'a valid token', method: 'POST', path, body: JSON.stringify(validBody) },
    { name: 'an expired token', method: 'POST', path, body: JSON.stringify(validBody), options: { now: EXPIRED_AT } },
    { name: 'a body that is not JSON', method: 'POST', path, body: '{"token":' },
    { name: 'a body without a token', method: 'POST', path, body: JSON.stringify(invalidShape) },
    { name: 'GET', method: 'GET', path },
    { name: 'a 70 KB body', method: 'POST', path, body: JSON.stringify({ token: 'x'.repeat(70_000) }) },
    { name: 'no usable key set', method: 'POST', path, body: JSON.stringify(validBody), options: { keys: 'none' } },
    { name: 'an internal fault', method: 'POST', path, body: JSON.stringify(validBody), options: { clockFails: true } },
  ];
}

const review = (spec: Json) => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec });
const SCENARIOS: Scenario[] = [
  ...bodyScenarios(TOKEN_REVIEW_PATH, review({ token, audiences: [FIXTURE_AUDIENCES[0]] }), { kind: 'TokenReview', metadata: {} }),
  ...bodyScenarios(VERIFY_PATH, { token, audiences: [FIXTURE_AUDIENCES[0]] }, { audiences: [FIXTURE_AUDIENCES[0]] }),
  ...['GET', 'POST', 'HEAD'].flatMap((method): Scenario[] => [
    { name: 'a valid token for the asked audience', method, path: AUTH_PATH, query: { audience: FIXTURE_AUDIENCES[0] }, headers: { authorization: `Bearer ${token}` } },
    { name: 'a valid token, the audience the path names, below /auth', method, path: `${AUTH_PATH}/audience/${FIXTURE_AUDIENCES[0]}/orders/42`, headers: { authorization: `bearer ${token}` } },
    { name: 'a dot segment in the path', method, path: `${AUTH_PATH}/audience/${FIXTURE_AUDIENCES[0]}/%2e%2e/x`, headers: { authorization: `Bearer ${token}` } },
    { name: 'an undocumented form below /auth', method, path: `${AUTH_PATH}/orders/42`, headers: { authorization: `Bearer ${token}` } },
    { name: 'two Authorization headers, comma-joined', method, path: AUTH_PATH, headers: { authorization: `Bearer ${token},Bearer ${token}` } },
    { name: 'a badly signed token', method, path: AUTH_PATH, headers: { authorization: `Bearer ${tampered(token)}` } },
    { name: 'no Authorization header', method, path: AUTH_PATH },
    { name: 'a Basic Authorization header', method, path: AUTH_PATH, headers: { authorization: 'Basic dXNlcjpwYXNz' } },
    { name: 'no usable key set', method, path: AUTH_PATH, headers: { authorization: `Bearer ${token}` }, options: { keys: 'none' } },
    { name: 'an internal fault', method, path: AUTH_PATH, headers: { authorization: `Bearer ${token}` }, options: { clockFails: true } },
  ]),
];

function operationOf(scenario: Scenario): Operation {
  const documentedPath = scenario.path.startsWith(`${AUTH_PATH}/`) ? AUTH_PATH : scenario.path;
  const item = document.paths[documentedPath];
  // A method a route refuses (405) is described on the route's one operation.
  const operation = item?.[scenario.method.toLowerCase()] ?? Object.values(item ?? {}).find((value) => typeof value === 'object' && value !== null && 'responses' in value);
  if (!operation) throw new Error(`no documented operation for ${scenario.method} ${scenario.path}`);
  return operation as Operation;
}

function conformity(scenario: Scenario, answer: ApiResponse): string[] {
  const operation = operationOf(scenario);
  const documented = operation.responses[String(answer.status)];
  if (!documented) return [`HTTP ${answer.status} is not documented`];
  const problems: string[] = [];
  const schema = documented.content?.['application/json']?.schema;
  if (!schema) problems.push(`HTTP ${answer.status} documents no JSON body`);
  else problems.push(...schemaErrors(document, schema, JSON.parse(answer.body)));
  const documentedHeaders = new Map(Object.entries(documented.headers ?? {}).map(([name, header]) => [name.toLowerCase(), (header.$ref ? resolveRef(document, String(header.$ref)) : header) as Json]));
  for (const [name, value] of Object.entries(answer.headers)) {
    if (['content-type', 'cache-control', 'x-content-type-options'].includes(name)) continue;
    const header = documentedHeaders.get(name);
    if (!header) problems.push(`header ${name} is not documented for HTTP ${answer.status}`);
    else problems.push(...schemaErrors(document, header.schema, value, name));
  }
  for (const [name, header] of documentedHeaders) if (header.required === true && !(name in answer.headers)) problems.push(`required header ${name} missing`);
  return problems;
}

describe('docs/openapi.yaml', () => {
  test('is OpenAPI 3.1 and every reference in it resolves', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (typeof node === 'object' && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref') refs.push(String(value));
          else walk(value);
        }
      }
    };
    walk(document);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(() => resolveRef(document, ref)).not.toThrow();
  });

  test('its paths are exactly the three routes, with the methods the deployed API routes', () => {
    expect(Object.keys(document.paths).sort()).toEqual([AUTH_PATH, TOKEN_REVIEW_PATH, VERIFY_PATH].sort());
    const deployed = VERIFY_API_ROUTES.filter((route) => !route.path.includes('{'));
    expect(deployed.map((route) => route.path).sort()).toEqual(Object.keys(document.paths).sort());
    for (const route of deployed) {
      const methods = Object.keys(document.paths[route.path]).filter((key) => ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(key));
      if (route.methods.map(String).includes('ANY')) expect(methods.length).toBeGreaterThanOrEqual(2);
      else expect(methods).toEqual(route.methods.map((m) => String(m).toLowerCase()));
    }
  });

  test('its reason enum is the verifier\'s REASON_CODES, in order', () => {
    expect(document.components.schemas.ReasonCode.enum).toEqual([...REASON_CODES]);
  });

  test('the identity headers of /auth are the handler\'s', () => {
    const documented = Object.keys(document.paths[AUTH_PATH].get.responses['200'].headers ?? {});
    expect(documented.sort()).toEqual(Object.values(AUTH_HEADERS).sort());
  });

  test('the documented request bodies accept what the handler answers and refuse what it rejects', () => {
    const verifyRequest = document.paths[VERIFY_PATH].post.requestBody?.content['application/json'].schema;
    const reviewRequest = document.paths[TOKEN_REVIEW_PATH].post.requestBody?.content['application/json'].schema;
    expect(schemaErrors(document, verifyRequest, { token, audiences: ['orders.example.internal'] })).toEqual([]);
    expect(schemaErrors(document, verifyRequest, { token, audiences: null })).toEqual([]);
    expect(schemaErrors(document, verifyRequest, { audiences: ['orders.example.internal'] })).not.toEqual([]);
    expect(schemaErrors(document, verifyRequest, { token: '' })).not.toEqual([]);
    expect(schemaErrors(document, reviewRequest, review({ token }))).toEqual([]);
    expect(schemaErrors(document, reviewRequest, { kind: 'TokenReview' })).not.toEqual([]);
    expect(schemaErrors(document, reviewRequest, { ...review({ token }), apiVersion: 'authentication.k8s.io/v1beta1' })).not.toEqual([]);
  });

  test.each(SCENARIOS.map((s) => [`${s.method} ${s.path}: ${s.name}`, s] as const))('%s conforms to the description', async (_label, scenario) => {
    const answer = await fixtureAnswer({ method: scenario.method, path: scenario.path, body: scenario.body, headers: scenario.headers ?? {}, query: scenario.query ?? {} }, scenario.options);
    expect({ status: answer.status, problems: conformity(scenario, answer) }).toEqual({ status: answer.status, problems: [] });
  });

  test('every documented status is one the handler gives', async () => {
    const produced = new Set<string>();
    for (const scenario of SCENARIOS) {
      const answer = await fixtureAnswer({ method: scenario.method, path: scenario.path, body: scenario.body, headers: scenario.headers ?? {}, query: scenario.query ?? {} }, scenario.options);
      const documentedPath = scenario.path.startsWith(`${AUTH_PATH}/`) ? AUTH_PATH : scenario.path;
      const method = document.paths[documentedPath][scenario.method.toLowerCase()] ? scenario.method.toLowerCase() : Object.keys(document.paths[documentedPath]).find((k) => k === 'post');
      produced.add(`${documentedPath} ${method} ${answer.status}`);
    }
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item)
      .filter(([, value]) => typeof value === 'object' && value !== null && 'responses' in value)
      .flatMap(([method, operation]) => Object.keys((operation as Operation).responses).map((status) => `${path} ${method} ${status}`)));
    expect(documented.filter((entry) => !produced.has(entry))).toEqual([]);
  });
});
