/**
 * Property tests (fast-check) over the whole core: for any set of keys in any form, mixed with
 * garbage, and any sequence of source outcomes and revocations, no published document carries
 * private key material and no successful run publishes an empty key set.
 *
 * Keys are pre-generated with node:crypto once (RSA generation is too slow per run); fast-check
 * picks among them, in public and private forms, PEM and JWK.
 */
import { generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { buildDiscovery, buildJwks, documentPaths, serializeDiscovery, serializeJwks } from '../../core/documents';
import { parseKeyMaterial, type KeyParseResult, type PublicJwk } from '../../core/keys';
import {
  parseRotationState,
  planSync,
  serializeRotationState,
  type RotationState,
  type SourceObservation,
  type StoredDocument,
  type SyncPlan,
} from '../../core/rotation';

const ISSUER = 'https://oidc.example.com/cluster-a';
const PATHS = documentPaths(ISSUER);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_MEMBERS: Record<string, string[]> = {
  RSA: ['alg', 'e', 'kid', 'kty', 'n', 'use'],
  EC: ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
};
/** The EC PARAMETERS block `openssl ecparam -name prime256v1 -genkey` writes before the key. */
const P256_PARAMETERS = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';

/** Every input the generators pick from: valid keys in many forms, and inputs that must be refused. */
let inputs: string[];
/** Private key values (d, p, q, ...) of the pool, which must appear in no output. */
let secrets: string[];
/** Every kid the pool can produce, for revocations. */
let poolKids: string[];
/** Parse results by input index, so run-sequence properties do not re-parse. */
let parsed: KeyParseResult[];
/**
 * Key objects that carry private members next to the public ones, as a careless adapter might
 * hand them over: the documents and the state must still drop them.
 */
let rawPrivateJwks: PublicJwk[];

function keyForms(privateKey: KeyObject, publicKey: KeyObject, index: number): string[] {
  const isRsa = privateKey.asymmetricKeyType === 'rsa';
  const publicJwk = publicKey.export({ format: 'jwk' });
  const privateJwk = privateKey.export({ format: 'jwk' });
  const traditional = privateKey.export({ type: isRsa ? 'pkcs1' : 'sec1', format: 'pem' }) as string;
  const forms = [
    publicKey.export({ type: 'spki', format: 'pem' }) as string,
    traditional,
    privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    JSON.stringify(publicJwk),
    JSON.stringify(privateJwk),
    JSON.stringify({ keys: [{ ...publicJwk, kid: `external-${index}`, use: 'sig' }] }),
    JSON.stringify({ keys: [{ ...privateJwk, kid: `leaked-${index}` }] }),
    // External signers pick kids; two of them may pick the same one for different keys.
    JSON.stringify({ ...publicJwk, kid: 'shared-kid' }),
  ];
  if (isRsa) forms.push(publicKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  if (publicJwk.crv === 'P-256') forms.push(`${P256_PARAMETERS}${traditional}`);
  return forms;
}

function refusedInputs(): string[] {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const ed = generateKeyPairSync('ed25519');
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return [
    '',
    'garbage',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBn0 me@host',
    small.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    small.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    k1.privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    JSON.stringify({ ...p256.publicKey.export({ format: 'jwk' }), use: 'enc' }),
    JSON.stringify({ ...p256.publicKey.export({ format: 'jwk' }), alg: 'RS256' }),
    p256.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string,
    '-----BEGIN PUBLIC KEY-----\nAAAA\n',
    '{"keys":[]}',
    P256_PARAMETERS,
  ];
}

beforeAll(async () => {
  const generate = promisify(generateKeyPair);
  const pairs = await Promise.all([
    ...[0, 1, 2].map(() => generate('rsa', { modulusLength: 2048 })),
    ...(['P-256', 'P-256', 'P-256', 'P-384', 'P-384', 'P-521', 'P-521'] as const).map((namedCurve) => generate('ec', { namedCurve })),
  ]);
  inputs = [...pairs.flatMap(({ privateKey, publicKey }, index) => keyForms(privateKey, publicKey, index)), ...refusedInputs()];
  secrets = pairs.flatMap(({ privateKey }) => {
    const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
    return PRIVATE_MEMBERS.map((member) => jwk[member]).filter((value): value is string => typeof value === 'string');
  });
  parsed = inputs.map((input, index) => parseKeyMaterial(input, `input-${index}`));
  rawPrivateJwks = pairs.map(({ privateKey }) => {
    const privateJwk = privateKey.export({ format: 'jwk' });
    const [key] = parseKeyMaterial(JSON.stringify(privateJwk), 'raw').keys;
    return { ...privateJwk, ...key.jwk } as PublicJwk;
  });
  expect(rawPrivateJwks.every((jwk) => 'd' in jwk)).toBe(true);
  poolKids = [...new Set(parsed.flatMap((result) => result.keys.map((key) => key.jwk.kid)))];
  expect(poolKids.length).toBeGreaterThanOrEqual(pairs.length);
});

// The checks below run thousands of times per property: plain throws keep them fast, and
// fast-check reports the thrown message with the smallest failing input.

/** Fails when a serialized document or state holds a private member or any private value of the pool. */
function expectNoPrivateMaterial(body: string): void {
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) {
      for (const [member, child] of Object.entries(value)) {
        if (PRIVATE_MEMBERS.includes(member)) throw new Error(`private member "${member}" in ${body.slice(0, 200)}`);
        walk(child);
      }
    }
  };
  walk(JSON.parse(body));
  if (secrets.some((secret) => body.includes(secret))) throw new Error('a private key value of the pool appears in the output');
}

/** Fails unless the JWK carries exactly kube's public members. */
function expectPublicJwk(key: PublicJwk): void {
  const members = Object.keys(key).sort().join();
  if (members !== PUBLIC_MEMBERS[key.kty]?.join()) throw new Error(`JWK members are ${members}, not kube's public members for ${key.kty}`);
}

/** Fails unless every JWK of a JWKS body carries exactly kube's public members. */
function expectPublicJwks(body: string): PublicJwk[] {
  const { keys } = JSON.parse(body) as { keys: PublicJwk[] };
  keys.forEach(expectPublicJwk);
  return keys;
}

const inputIndex = (): fc.Arbitrary<number> => fc.nat({ max: inputs.length - 1 });
const rawPicks = (): fc.Arbitrary<number[]> => fc.array(fc.nat({ max: rawPrivateJwks.length - 1 }), { maxLength: 2 });
/** A file: one input, or several concatenated (a PEM bundle, or junk around JSON). */
const fileArbitrary = (): fc.Arbitrary<string> => fc.array(inputIndex(), { minLength: 1, maxLength: 3 }).map((picks) => picks.map((i) => inputs[i]).join('\n'));

describe('parsing and documents', () => {
  it('publish no private member for any set of files in any form, and a non-empty JWKS whenever a key was accepted', () => {
    fc.assert(
      fc.property(fc.array(fileArbitrary(), { maxLength: 6 }), rawPicks(), fc.boolean(), (files, raw, kidless) => {
        const keys = files.flatMap((file, i) => parseKeyMaterial(file, `file-${i}`).keys);
        for (const key of keys) expectPublicJwk(key.jwk);
        const jwks = buildJwks([...keys.map((key) => key.jwk), ...raw.map((i) => rawPrivateJwks[i])], { includeKidlessDuplicates: kidless });
        const jwksBody = serializeJwks(jwks);
        const discoveryBody = serializeDiscovery(buildDiscovery(ISSUER, jwks));
        expectNoPrivateMaterial(jwksBody);
        expectNoPrivateMaterial(discoveryBody);
        const published = expectPublicJwks(jwksBody);
        expect(published.length > 0).toBe(keys.length + raw.length > 0);
      }),
      { numRuns: 150 },
    );
  });

  it('give byte-identical documents for the same keys in any order', () => {
    const picksAndPermutation = fc
      .array(inputIndex(), { maxLength: 8 })
      .chain((picks) => fc.tuple(fc.constant(picks), fc.shuffledSubarray(picks, { minLength: picks.length, maxLength: picks.length })));
    fc.assert(
      fc.property(picksAndPermutation, fc.boolean(), ([picks, permuted], kidless) => {
        const jwksOf = (order: number[]) => buildJwks(order.flatMap((i) => parsed[i].keys.map((key) => key.jwk)), { includeKidlessDuplicates: kidless });
        expect(serializeJwks(jwksOf(permuted))).toBe(serializeJwks(jwksOf(picks)));
        expect(serializeDiscovery(buildDiscovery(ISSUER, jwksOf(permuted)))).toBe(serializeDiscovery(buildDiscovery(ISSUER, jwksOf(picks))));
      }),
    );
  });

  it('never throw on arbitrary text, bytes or corrupted keys, and refuse with a source and a reason', () => {
    const corrupted = fc
      .tuple(inputIndex(), fc.nat(), fc.string({ minLength: 1, maxLength: 4 }))
      .map(([i, at, patch]) => {
        const input = inputs[i];
        const position = input.length === 0 ? 0 : at % input.length;
        return input.slice(0, position) + patch + input.slice(position + patch.length);
      });
    const anyInput = fc.oneof(fc.string(), fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'binary' }), corrupted);
    fc.assert(
      fc.property(anyInput, (input) => {
        const result = parseKeyMaterial(input, 'fuzz');
        for (const problem of result.problems) {
          expect(problem.source).toMatch(/^fuzz/);
          expect(problem.reason.length).toBeGreaterThan(0);
        }
        for (const key of result.keys) expectPublicJwk(key.jwk);
        expect(result.keys.length + result.problems.length).toBeGreaterThan(0);
        expectNoPrivateMaterial(JSON.stringify(result.problems));
      }),
      { numRuns: 300 },
    );
  });
});

/** One run of the sync: what each source gave, which kids are revoked, and how much time passed. */
interface RunSpec {
  readonly sources: ({ ok: true; picks: number[]; raw: number[] } | { ok: false })[];
  readonly revoked: number[];
  readonly advanceSeconds: number;
}

const SOURCE_NAMES = ['uploads', 'cluster', 'config'];

const runArbitrary = (): fc.Arbitrary<RunSpec> =>
  fc.record({
    sources: fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.record({ ok: fc.constant(true as const), picks: fc.array(inputIndex(), { maxLength: 5 }), raw: rawPicks() }) },
        { weight: 1, arbitrary: fc.record({ ok: fc.constant(false as const) }) },
      ),
      { minLength: 0, maxLength: SOURCE_NAMES.length },
    ),
    revoked: fc.array(fc.nat({ max: 40 }), { maxLength: 2 }),
    advanceSeconds: fc.constantFrom(0, 60, 3600, 86_400, 200_000),
  });

function observations(spec: RunSpec): SourceObservation[] {
  return spec.sources.map((source, i): SourceObservation => {
    const name = SOURCE_NAMES[i];
    if (!source.ok) return { source: name, ok: false, error: 'unreachable' };
    const results = source.picks.map((pick) => parsed[pick]);
    const raw = source.raw.map((i) => ({ jwk: rawPrivateJwks[i], source: `${name}/raw-${i}`, fromPrivateKey: true }));
    return { source: name, ok: true, keys: [...results.flatMap((r) => r.keys), ...raw], problems: results.flatMap((r) => r.problems) };
  });
}

describe('sync runs', () => {
  it('never publish private material or an empty JWKS, whatever the sources do run after run', () => {
    fc.assert(
      fc.property(
        fc.array(runArbitrary(), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(0, 3600, 86_400),
        fc.boolean(),
        (runs, gracePeriodSeconds, includeKidlessDuplicates) => {
          const documents: Record<string, StoredDocument> = {};
          let state: RotationState | undefined;
          let now = 1_798_761_600;
          for (const run of runs) {
            now += run.advanceSeconds;
            const revokedKids = new Set(run.revoked.map((i) => poolKids[i % poolKids.length]));
            const input = {
              issuer: ISSUER,
              observations: observations(run),
              revokedKids,
              now,
              gracePeriodSeconds,
              cacheMaxAgeSeconds: 300,
              includeKidlessDuplicates,
            };
            const plan: SyncPlan = planSync({ ...input, previous: state, current: { ...documents } });

            if (plan.outcome === 'failed') {
              expect(plan.writes).toEqual([]);
              expect(plan.invalidationPaths).toEqual([]);
              expect(plan.stateChanged).toBe(false);
            }
            const writtenKeys = plan.writes.map((write) => write.key);
            // Both JWKS copies before the discovery document, whatever is written.
            expect(writtenKeys).toEqual([PATHS.jwksKey, PATHS.jwksAliasKey, PATHS.discoveryKey].filter((key) => writtenKeys.includes(key)));
            expect(plan.invalidationPaths).toEqual(writtenKeys.map((key) => `/${key}`));
            for (const write of plan.writes) {
              expectNoPrivateMaterial(write.body);
              documents[write.key] = { body: write.body, contentType: write.contentType, cacheControl: write.cacheControl };
            }
            expect(documents[PATHS.jwksAliasKey]).toEqual(documents[PATHS.jwksKey]);
            const stateBody = serializeRotationState(plan.nextState);
            expectNoPrivateMaterial(stateBody);
            if (plan.stateChanged) state = parseRotationState(stateBody);

            if (plan.outcome !== 'failed') {
              const published = expectPublicJwks(documents[PATHS.jwksKey].body);
              expect(published.length).toBeGreaterThan(0);
              for (const key of published) expect(revokedKids.has(key.kid)).toBe(false);
              expect(plan.publishedKids.length).toBeGreaterThan(0);
            }

            // The same run again, at the same time, must find nothing to do.
            const again = planSync({ ...input, previous: state, current: { ...documents } });
            expect(again.writes).toEqual([]);
            expect(again.stateChanged).toBe(false);
          }
          if (documents[PATHS.jwksKey]) expect(expectPublicJwks(documents[PATHS.jwksKey].body).length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
