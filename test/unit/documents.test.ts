/**
 * The published documents: byte-for-byte parity with what kube-apiserver serves (known-answer
 * fixtures), determinism, the kid-less compatibility option and the document locations.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildDiscovery,
  buildJwks,
  canonicalJwk,
  contentHash,
  DISCOVERY_PATH,
  documentPaths,
  issuerPathPrefix,
  JWKS_PATH,
  serializeDiscovery,
  serializeJwks,
} from '../../core/documents';
import { parseKeyMaterial, type PublicJwk } from '../../core/keys';
import { OpensslWorkspace } from '../support/openssl';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kube-format');
const ISSUER = 'https://oidc.example.com/cluster-a';

function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/**
 * A fixture document as kube-apiserver sends it: Go's json.Marshal writes no trailing newline,
 * the file ends with one.
 */
function servedBytes(name: string): string {
  const text = fixture(name);
  expect(text.endsWith('}\n')).toBe(true);
  return text.slice(0, -1);
}

function onlyJwk(input: string, source: string): PublicJwk {
  const result = parseKeyMaterial(input, source);
  expect(result.problems).toEqual([]);
  expect(result.keys).toHaveLength(1);
  return result.keys[0].jwk;
}

/** The raw bytes of each entry of the fixture JWKS, by kid, without re-serializing them. */
function fixtureEntries(): Map<string, string> {
  const raw = servedBytes('jwks.json');
  const entries = raw.slice('{"keys":['.length, -']}'.length).match(/\{[^{}]*\}/g) ?? [];
  expect(`{"keys":[${entries.join(',')}]}`).toBe(raw);
  return new Map(entries.map((entry) => [(JSON.parse(entry) as PublicJwk).kid, entry]));
}

function ecJwk(namedCurve: 'P-256' | 'P-384' | 'P-521'): PublicJwk {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve });
  return onlyJwk(publicKey.export({ type: 'spki', format: 'pem' }) as string, namedCurve);
}

let rsaPub: PublicJwk;
let ecPub: PublicJwk;

beforeAll(() => {
  rsaPub = onlyJwk(fixture('sa-rsa.pub'), 'sa-rsa.pub');
  ecPub = onlyJwk(fixture('sa-ec.pub'), 'sa-ec.pub');
});

describe('known-answer parity with kube-apiserver', () => {
  let openssl: OpensslWorkspace;
  beforeAll(() => {
    openssl = OpensslWorkspace.create();
  });
  afterAll(() => openssl?.remove());

  it('the fixture kids are the ones openssl computes for the fixture keys', () => {
    const kids = [...fixtureEntries().keys()];
    expect(kids).toEqual([openssl.kubeKeyId(join(FIXTURES, 'sa-rsa.pub')), openssl.kubeKeyId(join(FIXTURES, 'sa-ec.pub'))]);
  });

  it.each([
    ['sa-rsa.pub', () => rsaPub],
    ['sa-ec.pub', () => ecPub],
  ])('the JWK built from %s serializes byte-identical to its entry in jwks.json', (_file, jwk) => {
    const entries = fixtureEntries();
    expect(entries.has(jwk().kid)).toBe(true);
    const serialized = serializeJwks({ keys: [jwk()] });
    expect(serialized).toBe(`{"keys":[${entries.get(jwk().kid)}]}`);
  });

  it.each(['sa-rsa', 'sa-ec'])('the private key %s.key, which admins often hold alone, gives the same entry as its .pub', (name) => {
    expect(onlyJwk(fixture(`${name}.key`), `${name}.key`)).toEqual(onlyJwk(fixture(`${name}.pub`), `${name}.pub`));
  });

  it('the JWKS holds exactly the fixture entries, ordered by kid', () => {
    const entries = fixtureEntries();
    const byKid = [...entries.keys()].sort().map((kid) => entries.get(kid));
    expect(serializeJwks(buildJwks([rsaPub, ecPub]))).toBe(`{"keys":[${byKid.join(',')}]}`);
  });

  it('the discovery document equals openid-configuration.json byte for byte', () => {
    const discovery = buildDiscovery(ISSUER, buildJwks([rsaPub, ecPub]));
    expect(serializeDiscovery(discovery)).toBe(servedBytes('openid-configuration.json'));
  });
});

describe('buildJwks and serializeJwks', () => {
  it('give byte-identical documents for the same keys in any order, duplicates included', () => {
    const p384 = ecJwk('P-384');
    const p521 = ecJwk('P-521');
    const orders = [
      [rsaPub, ecPub, p384, p521],
      [p521, p384, ecPub, rsaPub],
      [ecPub, p521, rsaPub, p384, ecPub, rsaPub],
    ];
    const jwksBodies = orders.map((keys) => serializeJwks(buildJwks(keys)));
    const discoveryBodies = orders.map((keys) => serializeDiscovery(buildDiscovery(ISSUER, buildJwks(keys))));
    expect(new Set(jwksBodies).size).toBe(1);
    expect(new Set(discoveryBodies).size).toBe(1);
    const kids = (JSON.parse(jwksBodies[0]) as { keys: PublicJwk[] }).keys.map((key) => key.kid);
    expect(kids).toEqual([rsaPub.kid, ecPub.kid, p384.kid, p521.kid].sort());
    expect(new Set(orders.map((keys) => contentHash(serializeJwks(buildJwks(keys))))).size).toBe(1);
  });

  it('choose the same key whatever the order when two different keys claim one kid', () => {
    // External signers set their own kids, so two sources can disagree about one.
    const first = { ...ecJwk('P-256'), kid: 'signer-1' };
    const second = { ...ecJwk('P-256'), kid: 'signer-1' };
    const forward = serializeJwks(buildJwks([first, second]));
    expect(serializeJwks(buildJwks([second, first]))).toBe(forward);
    expect((JSON.parse(forward) as { keys: PublicJwk[] }).keys).toHaveLength(1);
  });

  it('copy only the public members, in go-jose order, whatever the input objects carry', () => {
    const polluted = { ...rsaPub, d: 'private', p: 'private', q: 'private', dp: 'x', dq: 'x', qi: 'x', x5c: ['cert'], key_ops: ['sign'] };
    const body = serializeJwks(buildJwks([polluted as PublicJwk]));
    expect(body).toBe(serializeJwks(buildJwks([rsaPub])));
    expect(body).not.toMatch(/"(d|p|q|dp|dq|qi|x5c|key_ops)"/);
    expect(Object.keys(canonicalJwk(polluted as PublicJwk))).toEqual(['use', 'kty', 'kid', 'alg', 'n', 'e']);
    expect(Object.keys(canonicalJwk(ecPub))).toEqual(['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y']);
  });

  it('serialize a parsed JWKS back to the same bytes', () => {
    const body = serializeJwks(buildJwks([rsaPub, ecPub]));
    expect(serializeJwks(JSON.parse(body) as { keys: PublicJwk[] })).toBe(body);
  });
});

describe('kid-less duplicates (tokens from clusters before Kubernetes 1.16)', () => {
  it('are off by default', () => {
    const jwks = buildJwks([rsaPub, ecPub]);
    expect(jwks.keys.map((key) => key.kid)).toEqual([ecPub.kid, rsaPub.kid]);
    expect(serializeJwks(jwks)).not.toContain('"kid":""');
  });

  it('add one kid "" copy of each key after the real entries, same material', () => {
    const jwks = buildJwks([rsaPub, ecPub], { includeKidlessDuplicates: true });
    expect(jwks.keys).toEqual([ecPub, rsaPub, { ...ecPub, kid: '' }, { ...rsaPub, kid: '' }]);
    const body = serializeJwks(jwks);
    expect(body).toContain(JSON.stringify({ use: 'sig', kty: 'RSA', kid: '', alg: 'RS256', n: rsaPub.n, e: rsaPub.e }));
    expect(serializeJwks(buildJwks([ecPub, rsaPub], { includeKidlessDuplicates: true }))).toBe(body);
  });

  it('do not change the discovery document', () => {
    const plain = serializeDiscovery(buildDiscovery(ISSUER, buildJwks([rsaPub, ecPub])));
    expect(serializeDiscovery(buildDiscovery(ISSUER, buildJwks([rsaPub, ecPub], { includeKidlessDuplicates: true })))).toBe(plain);
  });
});

describe('buildDiscovery and serializeDiscovery', () => {
  it('have exactly the fields kube-apiserver serves, in its order', () => {
    const doc = JSON.parse(serializeDiscovery(buildDiscovery(ISSUER, buildJwks([rsaPub])))) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['issuer', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']);
    expect(doc).toEqual({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });

  it('derive the signing algorithms from the keys: each once, sorted', () => {
    const algs = (keys: PublicJwk[]): readonly string[] => buildDiscovery(ISSUER, buildJwks(keys)).id_token_signing_alg_values_supported;
    expect(algs([ecPub])).toEqual(['ES256']);
    expect(algs([rsaPub, ecJwk('P-521'), ecJwk('P-384'), ecPub, ecJwk('P-256')])).toEqual(['ES256', 'ES384', 'ES512', 'RS256']);
  });

  it('keep the issuer exactly as given', () => {
    expect(buildDiscovery('https://oidc.example.com', buildJwks([rsaPub])).issuer).toBe('https://oidc.example.com');
  });
});

describe('documentPaths', () => {
  it('puts both documents at the bucket root for an issuer without a path', () => {
    expect(documentPaths('https://oidc.example.com')).toEqual({
      jwksUri: 'https://oidc.example.com/openid/v1/jwks',
      discoveryUrl: 'https://oidc.example.com/.well-known/openid-configuration',
      discoveryKey: '.well-known/openid-configuration',
      jwksKey: 'openid/v1/jwks',
      jwksAliasUrl: 'https://oidc.example.com/.well-known/jwks.json',
      jwksAliasKey: '.well-known/jwks.json',
    });
  });

  it('prefixes the object keys with the issuer path, without its leading slash', () => {
    expect(documentPaths(ISSUER)).toEqual({
      jwksUri: 'https://oidc.example.com/cluster-a/openid/v1/jwks',
      discoveryUrl: 'https://oidc.example.com/cluster-a/.well-known/openid-configuration',
      discoveryKey: 'cluster-a/.well-known/openid-configuration',
      jwksKey: 'cluster-a/openid/v1/jwks',
      jwksAliasUrl: 'https://oidc.example.com/cluster-a/.well-known/jwks.json',
      jwksAliasKey: 'cluster-a/.well-known/jwks.json',
    });
    expect(documentPaths('https://oidc.example.com/env/prod/cluster-b').jwksKey).toBe('env/prod/cluster-b/openid/v1/jwks');
  });

  it.each(['https://oidc.example.com/', 'https://oidc.example.com/cluster-a/'])(
    'drops the issuer\'s trailing slash before appending, so URLs and object keys agree (OIDC Discovery 1.0 section 4): %s',
    (issuer) => {
      const paths = documentPaths(issuer);
      const prefix = issuer.replace(/\/$/, '');
      expect(paths.jwksUri).toBe(`${prefix}${JWKS_PATH}`);
      expect(paths.discoveryUrl).toBe(`${prefix}${DISCOVERY_PATH}`);
      expect(new URL(paths.jwksUri).pathname).toBe(`/${paths.jwksKey}`);
      expect(new URL(paths.discoveryUrl).pathname).toBe(`/${paths.discoveryKey}`);
    },
  );

  it('agrees with the discovery document\'s jwks_uri', () => {
    expect(buildDiscovery(ISSUER, buildJwks([rsaPub])).jwks_uri).toBe(documentPaths(ISSUER).jwksUri);
  });

  it('refuses an issuer that is not an absolute URL', () => {
    expect(() => documentPaths('oidc.example.com/cluster-a')).toThrow('issuer "oidc.example.com/cluster-a" is not an absolute URL');
    expect(issuerPathPrefix('https://oidc.example.com/a/b//')).toBe('/a/b');
  });
});

describe('contentHash', () => {
  it('is the hex SHA-256 of the body: equal bodies, equal hashes; any change, another hash', () => {
    const body = serializeJwks(buildJwks([rsaPub]));
    expect(contentHash(body)).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash(body)).toBe(contentHash(`${body}`));
    expect(contentHash(body)).not.toBe(contentHash(serializeJwks(buildJwks([rsaPub, ecPub]))));
    expect(contentHash('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
