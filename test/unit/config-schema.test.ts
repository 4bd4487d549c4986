/**
 * The configuration's one definition (core/config-schema.ts) and what comes from it: the checked-in
 * JSON Schema and the field reference of docs/configuration.md are current; every field is
 * described and has a default (or says what absence means); every shipped config names the schema
 * and satisfies it, checked with ajv (another validator than the one that produced the schema);
 * broken configs are refused by both ajv and validateConfig.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ConfigValidationError, validateConfig } from '../../core/config';
import { REFERENCE_PAGE, SCHEMA_FILE, renderReference, renderSchemaFile, withReference } from '../../scripts/config-schema';

const ROOT = resolve(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const SCHEMA = JSON.parse(read(SCHEMA_FILE)) as Record<string, unknown>;
const SHIPPED = ['config/clusters.json', ...readdirSync(join(ROOT, 'examples/config')).filter((f) => f.endsWith('.json')).map((f) => `examples/config/${f}`)];
const RSA_PUB = read('test/fixtures/kube-format/sa-rsa.pub');

let ajvValidate: ValidateFunction;
beforeAll(() => {
  ajvValidate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(SCHEMA);
});

function ajvErrors(config: unknown): string[] {
  if (ajvValidate(config)) return [];
  return (ajvValidate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.keyword}${e.params && 'additionalProperty' in e.params ? ` ${String(e.params.additionalProperty)}` : ''}`);
}

function problemsOf(config: unknown): readonly string[] {
  try {
    validateConfig(config, { readKeyFile: () => RSA_PUB });
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  return [];
}

describe('generated files are current', () => {
  test(`${SCHEMA_FILE} is what npm run schema writes`, () => {
    expect(read(SCHEMA_FILE)).toBe(renderSchemaFile());
  });

  test(`the field reference of ${REFERENCE_PAGE} is what npm run schema writes`, () => {
    const page = read(REFERENCE_PAGE);
    expect(withReference(page, renderReference())).toBe(page);
  });

  test('the reference names every field of the JSON Schema, with its description', () => {
    const page = read(REFERENCE_PAGE);
    const fields = schemaFields(SCHEMA, '');
    expect(fields.length).toBeGreaterThan(60);
    for (const field of fields.filter((f) => !f.path.endsWith('$comment'))) {
      const description = field.node.description.split(' When absent: ')[0];
      expect({ field: field.path, documented: page.includes(`| \`${field.path}\` |`) && page.includes(description.replace(/\|/g, '\\|')) })
        .toEqual({ field: field.path, documented: true });
    }
  });
});

interface Field {
  readonly path: string;
  readonly node: { description: string; default?: unknown };
  readonly required: boolean;
}

/** Every property of the JSON Schema, with its path as the reference writes it. */
function schemaFields(node: Record<string, unknown>, prefix: string): Field[] {
  const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = (node.required ?? []) as string[];
  return Object.entries(properties).flatMap(([name, child]) => {
    const path = `${prefix}${name}`;
    const items = child.items as Record<string, unknown> | undefined;
    // Fields of a cluster are named relative to the cluster, as in the reference.
    const nested = items?.properties ? schemaFields(items, node === SCHEMA && name === 'clusters' ? '' : `${path}[].`)
      : child.properties ? schemaFields(child, `${path}.`) : [];
    return [{ path, node: child as unknown as Field['node'], required: required.includes(name) }, ...nested];
  });
}

describe('the JSON Schema', () => {
  test('describes every field and gives every optional field a default or what its absence means', () => {
    const missing = schemaFields(SCHEMA, '').flatMap((f) => [
      ...(typeof f.node.description === 'string' && f.node.description.length > 10 ? [] : [`${f.path}: no description`]),
      ...(f.required || 'default' in f.node || / When absent: /.test(f.node.description ?? '') ? [] : [`${f.path}: optional without default`]),
    ]);
    expect(missing).toEqual([]);
  });

  test('the defaults it announces are the ones validation applies', () => {
    const [cluster] = validateConfig({ clusters: [{ name: 'a', keySources: { configKeys: [{ pem: RSA_PUB }] }, verifyApi: { enabled: false } }] });
    const fields = schemaFields(SCHEMA, '');
    const defaultOf = (path: string): unknown => fields.find((f) => f.path === path)?.node.default;
    expect(cluster.rotation).toEqual({ gracePeriodSeconds: defaultOf('rotation.gracePeriodSeconds'), kidlessCompat: defaultOf('rotation.kidlessCompat') });
    expect(cluster.sync).toEqual({ scheduleMinutes: defaultOf('sync.scheduleMinutes'), cacheMaxAgeSeconds: defaultOf('sync.cacheMaxAgeSeconds') });
    expect(cluster.issuerSite).toEqual({ documentWriterArns: defaultOf('issuerSite.documentWriterArns'), errorCachingTtlSeconds: defaultOf('issuerSite.errorCachingTtlSeconds') });
    expect(cluster.verifyApi.throttle).toEqual({ rateLimit: defaultOf('verifyApi.throttle.rateLimit'), burstLimit: defaultOf('verifyApi.throttle.burstLimit') });
    expect(cluster.audiences).toEqual(defaultOf('audiences'));
    expect(cluster.keySources.upload).toEqual(defaultOf('keySources.upload'));
  });
});

describe('every shipped configuration', () => {
  test.each(SHIPPED)('%s starts with a "$schema" that resolves to the checked-in schema', (file) => {
    const text = read(file);
    const config = JSON.parse(text) as { $schema?: string };
    expect(Object.keys(config)[0]).toBe('$schema');
    expect(resolve(ROOT, dirname(file), config.$schema ?? '')).toBe(join(ROOT, SCHEMA_FILE));
  });

  test.each(SHIPPED)('%s satisfies the JSON Schema (ajv) and validateConfig', (file) => {
    const config = JSON.parse(read(file)) as unknown;
    expect(ajvErrors(config)).toEqual([]);
    expect(problemsOf(config)).toEqual([]);
  });
});

describe('broken configurations are refused by the JSON Schema and by validateConfig', () => {
  const base = (): Record<string, unknown> => ({ name: 'prod', keySources: { configKeys: [{ pem: RSA_PUB }] }, verifyApi: { audiences: ['verify.example.com'] } });
  const cases: [string, Record<string, unknown>, string[], string][] = [
    ['an unknown field', { ...base(), audience: ['sts.amazonaws.com'] }, ['/clusters/0 additionalProperties audience'],
      'cluster "prod", audience = ["sts.amazonaws.com"]: is not a known field. Fix: did you mean "audiences"?.'],
    ['a wrong type', { ...base(), rotation: { kidlessCompat: 'yes' } }, ['/clusters/0/rotation/kidlessCompat type'],
      'cluster "prod", rotation.kidlessCompat = "yes": must be true or false. Fix: write true or false without quotes (default false).'],
    ['a missing required field', { ...base(), issuer: { url: 'https://oidc.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' } },
      ['/clusters/0/issuer required'],
      'cluster "prod", issuer.certificateArn = (missing): is missing. Fix: give the ARN of an ACM certificate in us-east-1 that covers the issuer host.'],
    ['a bad enum value', { ...base(), serviceAccountRoles: [{ id: 'a', namespace: 'ns', serviceAccount: 'sa', match: 'glob' }] },
      ['/clusters/0/serviceAccountRoles/0/match enum'],
      'cluster "prod", serviceAccountRoles[0].match = "glob": is not "exact", "namespace" or "namePrefix". Fix: use "exact" (one service account), "namespace" (all of a namespace) or "namePrefix".'],
    ['an out-of-range number', { ...base(), issuerSite: { errorCachingTtlSeconds: 301 } }, ['/clusters/0/issuerSite/errorCachingTtlSeconds maximum'],
      'cluster "prod", issuerSite.errorCachingTtlSeconds = 301: is out of range (0 to 300). Fix: give whole seconds between 0 and 300.'],
    ['a fractional number where a whole one is due', { ...base(), sync: { scheduleMinutes: 2.5 } }, ['/clusters/0/sync/scheduleMinutes type'],
      'cluster "prod", sync.scheduleMinutes = 2.5: must be a whole number. Fix: give whole minutes between 1 and 60.'],
    ['an issuer URL with a dot segment', { ...base(), issuer: { url: 'https://oidc.example.com/c1/../c2', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d' } },
      ['/clusters/0/issuer/url pattern'],
      'cluster "prod", issuer.url = "https://oidc.example.com/c1/../c2": has a dot segment ("." or "..") in its path. Fix: write the path without "." and ".." segments: clients resolve them, so the documents would be fetched from another path than the "iss" tokens carry.'],
    ['a route throttle without its burst', { ...base(), verifyApi: { audiences: ['verify.example.com'], routeThrottles: { verify: { rateLimit: 5 } } } },
      ['/clusters/0/verifyApi/routeThrottles/verify required'],
      'cluster "prod", verifyApi.routeThrottles.verify.burstLimit = (missing): is missing. Fix: give a whole number of requests between 1 and 5000.'],
    ['a wildcard document writer', { ...base(), issuerSite: { documentWriterArns: ['arn:aws:iam::123456789012:role/*'] } }, [],
      'cluster "prod", issuerSite.documentWriterArns[0] = "arn:aws:iam::123456789012:role/*": contains a wildcard. Fix: name each principal by its exact role or user ARN: whoever can write the documents can swap the published keys.'],
  ];

  test.each(cases)('%s', (_, cluster, ajvExpected, message) => {
    const config = { $schema: './clusters.schema.json', clusters: [cluster] };
    const fromAjv = ajvErrors(config);
    // The JSON Schema checks what an editor can: where it has a pattern for a field, that is enough.
    if (ajvExpected.length > 0) expect(fromAjv).toEqual(expect.arrayContaining(ajvExpected));
    else expect(fromAjv.filter((e) => e.includes('/issuerSite/documentWriterArns/0'))).toEqual(['/clusters/0/issuerSite/documentWriterArns/0 pattern']);
    expect(problemsOf(config)).toEqual([message]);
  });

  test('an unknown top-level field is refused by both', () => {
    const config = { clusters: [base()], cluster: [] };
    expect(ajvErrors(config)).toEqual([' additionalProperties cluster']);
    expect(problemsOf(config)).toEqual(['config, cluster = []: is not a known field. Fix: did you mean "clusters"?.']);
  });
});

describe(`the examples of ${REFERENCE_PAGE}`, () => {
  const examples = [...read(REFERENCE_PAGE).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]).filter((text) => text.includes('"clusters"'));

  test('there are two: the file shape and the fleet example', () => {
    expect(examples).toHaveLength(2);
  });

  test.each(examples.map((text, i) => [i, text]))('example %i satisfies the JSON Schema and validateConfig', (_, text) => {
    const config = JSON.parse(text as string) as unknown;
    expect(ajvErrors(config)).toEqual([]);
    expect(problemsOf(config)).toEqual([]);
  });
});
