/**
 * Key parsing against keys made by the real openssl binary, in every form kube-apiserver's
 * `--service-account-key-file` accepts plus JWK/JWKS, with each kid checked against the value
 * openssl computes on its own (`pkey -pubin -outform DER | dgst -sha256 -binary`, base64url).
 */
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { jwkFromPublicKey, KeyRefused, kubeKeyId, MIN_RSA_BITS, parseKeyMaterial, type ParsedKey, type PublicJwk } from '../../core/keys';
import { base64url, OpensslWorkspace, type OpensslKeyPair } from '../support/openssl';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const RSA_MEMBERS = ['alg', 'e', 'kid', 'kty', 'n', 'use'];
const EC_MEMBERS = ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'];

let openssl: OpensslWorkspace;
let rsa: OpensslKeyPair;
let rsaSecond: OpensslKeyPair;
let rsaSmall: OpensslKeyPair;
let ecWithParameters: Record<'P-256' | 'P-384' | 'P-521', OpensslKeyPair>;
let ecBare: OpensslKeyPair;
let secp256k1: OpensslKeyPair;
let ed25519: OpensslKeyPair;

beforeAll(() => {
  openssl = OpensslWorkspace.create();
  rsa = openssl.rsaKeyPair('sa');
  rsaSecond = openssl.rsaKeyPair('sa-next');
  rsaSmall = openssl.rsaKeyPair('sa-small', 1024);
  ecWithParameters = {
    'P-256': openssl.ecKeyPair('ec-p256', 'P-256'),
    'P-384': openssl.ecKeyPair('ec-p384', 'P-384'),
    'P-521': openssl.ecKeyPair('ec-p521', 'P-521'),
  };
  ecBare = openssl.ecKeyPair('ec-p256-bare', 'P-256', false);
  secp256k1 = openssl.ecKeyPair('ec-k1', 'secp256k1', false);
  ed25519 = openssl.ed25519KeyPair('ed');
});

afterAll(() => openssl?.remove());

/** Parses input that must give exactly one key and no problem. */
function onlyKey(input: string | Uint8Array, source = 'input'): ParsedKey {
  const result = parseKeyMaterial(input, source);
  expect(result.problems).toEqual([]);
  expect(result.keys).toHaveLength(1);
  return result.keys[0];
}

/** Parses input that must give no key and exactly one problem; returns the problem's reason. */
function onlyProblem(input: string | Uint8Array, source = 'input'): { source: string; reason: string } {
  const result = parseKeyMaterial(input, source);
  expect(result.keys).toEqual([]);
  expect(result.problems).toHaveLength(1);
  return result.problems[0];
}

function expectNoPrivateMember(jwk: object): void {
  for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
}

/** The public JWK node:crypto exports for a PEM, as an external signer would hand it over. */
function exportedJwk(pem: string): JsonWebKey {
  return createPublicKey(pem).export({ format: 'jwk' });
}

/** An OpenSSH `ssh-rsa` public key line for an RSA key, built from the SSH wire format (RFC 4253 section 6.6). */
function sshRsaPublicKey(publicPem: string): string {
  const { n, e } = exportedJwk(publicPem);
  const sshString = (bytes: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const mpint = (b64url: string): Buffer => {
    const bytes = Buffer.from(b64url, 'base64url');
    return sshString(bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
  };
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(e as string), mpint(n as string)]);
  return `ssh-rsa ${blob.toString('base64')} admin@bastion\n`;
}

describe('the openssl test keys', () => {
  it('are in the forms kubeadm and `openssl ecparam -genkey` write', () => {
    expect(rsa.privatePem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(rsa.publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(ecWithParameters['P-256'].privatePem).toMatch(/^-----BEGIN EC PARAMETERS-----\n[\s\S]+-----BEGIN EC PRIVATE KEY-----\n/);
    expect(ecBare.privatePem).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    expect(ecBare.privatePem).not.toContain('EC PARAMETERS');
    expect(rsa.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rsa.kid).not.toBe(rsaSecond.kid);
  });
});

describe('parseKeyMaterial: RSA in every PEM form', () => {
  it('reads a PKIX PUBLIC KEY (kubeadm sa.pub) as kube publishes it', () => {
    const key = onlyKey(rsa.publicPem, 'keys/sa.pub');
    expect(key).toEqual({
      source: 'keys/sa.pub#1 (PUBLIC KEY)',
      fromPrivateKey: false,
      jwk: { use: 'sig', kty: 'RSA', kid: rsa.kid, alg: 'RS256', n: base64url(openssl.rsaModulus(rsa.publicFile)), e: 'AQAB' },
    });
    expect(Object.keys(key.jwk).sort()).toEqual(RSA_MEMBERS);
  });

  it('reads a PKCS#1 RSA PUBLIC KEY (`openssl rsa -RSAPublicKey_out`) with the same kid', () => {
    const pkcs1 = openssl.rsaPublicKeyPkcs1(rsa);
    expect(pkcs1).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n/);
    const key = onlyKey(pkcs1, 'sa-pkcs1.pem');
    expect(key.jwk.kid).toBe(rsa.kid);
    expect(key.source).toBe('sa-pkcs1.pem#1 (RSA PUBLIC KEY)');
    expect(key.fromPrivateKey).toBe(false);
  });

  it('reads the public key of a self-signed X.509 CERTIFICATE', () => {
    const certificate = openssl.selfSignedCertificate(rsa);
    expect(certificate).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    const key = onlyKey(certificate, 'sa.crt');
    expect(key.jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', kid: rsa.kid });
    expect(key.fromPrivateKey).toBe(false);
  });

  it('takes only the public half of an RSA PRIVATE KEY (kubeadm sa.key) and flags it', () => {
    const key = onlyKey(rsa.privatePem, 'sa.key');
    expect(key.source).toBe('sa.key#1 (RSA PRIVATE KEY)');
    expect(key.fromPrivateKey).toBe(true);
    expect(key.jwk).toEqual(onlyKey(rsa.publicPem).jwk);
    expectNoPrivateMember(key.jwk);
  });

  it('takes only the public half of a PKCS#8 PRIVATE KEY and flags it', () => {
    const pkcs8 = openssl.pkcs8PrivateKey(rsa);
    expect(pkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = onlyKey(pkcs8, 'sa.p8');
    expect(key).toMatchObject({ source: 'sa.p8#1 (PRIVATE KEY)', fromPrivateKey: true });
    expect(key.jwk.kid).toBe(rsa.kid);
    expectNoPrivateMember(key.jwk);
  });

  it('accepts CRLF line endings and text around the blocks, as Go pem.Decode does', () => {
    const messy = `# service-account signing key, rotated 2027-01\r\n${rsa.publicPem.replace(/\n/g, '\r\n')}\r\ntrailing note\r\n`;
    expect(onlyKey(messy).jwk.kid).toBe(rsa.kid);
  });

  it('reads bytes as well as text', () => {
    expect(onlyKey(new Uint8Array(Buffer.from(rsa.publicPem))).jwk.kid).toBe(rsa.kid);
  });
});

describe('parseKeyMaterial: EC keys', () => {
  it.each([
    ['P-256', 'ES256', 32],
    ['P-384', 'ES384', 48],
    ['P-521', 'ES512', 66],
  ] as const)('maps %s to %s, with x and y equal to the point openssl encodes', (curve, alg, coordinateBytes) => {
    const pair = ecWithParameters[curve];
    const key = onlyKey(pair.publicPem, `${curve}.pub`);
    const point = openssl.publicKeyDer(pair.publicFile).subarray(-(2 * coordinateBytes + 1));
    expect(point[0]).toBe(0x04); // uncompressed point: 04 || X || Y
    expect(key.jwk).toEqual({
      use: 'sig',
      kty: 'EC',
      kid: pair.kid,
      crv: curve,
      alg,
      x: base64url(point.subarray(1, 1 + coordinateBytes)),
      y: base64url(point.subarray(1 + coordinateBytes)),
    });
    expect(Object.keys(key.jwk).sort()).toEqual(EC_MEMBERS);
  });

  it.each(['P-256', 'P-384', 'P-521'] as const)(
    'reads a %s EC PRIVATE KEY preceded by its EC PARAMETERS block (`openssl ecparam -genkey`)',
    (curve) => {
      const pair = ecWithParameters[curve];
      const key = onlyKey(pair.privatePem, 'ec.key');
      // The parameters block is block 1 and is skipped, as kube skips it.
      expect(key.source).toBe('ec.key#2 (EC PRIVATE KEY)');
      expect(key.fromPrivateKey).toBe(true);
      expect(key.jwk.kid).toBe(pair.kid);
      expectNoPrivateMember(key.jwk);
    },
  );

  it('reads an EC PRIVATE KEY without an EC PARAMETERS block (`-noout`)', () => {
    const key = onlyKey(ecBare.privatePem, 'ec.key');
    expect(key).toMatchObject({ source: 'ec.key#1 (EC PRIVATE KEY)', fromPrivateKey: true });
    expect(key.jwk).toMatchObject({ kid: ecBare.kid, crv: 'P-256', alg: 'ES256' });
  });

  it('reads an EC PKCS#8 PRIVATE KEY and an EC CERTIFICATE', () => {
    const pair = ecWithParameters['P-384'];
    expect(onlyKey(openssl.pkcs8PrivateKey(pair)).jwk.kid).toBe(pair.kid);
    const fromCertificate = onlyKey(openssl.selfSignedCertificate(pair));
    expect(fromCertificate.jwk).toMatchObject({ kid: pair.kid, alg: 'ES384' });
    expect(fromCertificate.fromPrivateKey).toBe(false);
  });
});

describe('parseKeyMaterial: several PEM blocks in one file (`--service-account-key-file` style)', () => {
  it('returns every key in file order, each labelled with its block', () => {
    const bundle = [
      rsa.publicPem,
      rsaSecond.privatePem,
      ecWithParameters['P-521'].privatePem, // EC PARAMETERS + EC PRIVATE KEY
      openssl.selfSignedCertificate(ecBare),
    ].join('');
    const result = parseKeyMaterial(bundle, 'bundle.pem');
    expect(result.problems).toEqual([]);
    expect(result.keys.map((key) => [key.source, key.jwk.kid, key.fromPrivateKey])).toEqual([
      ['bundle.pem#1 (PUBLIC KEY)', rsa.kid, false],
      ['bundle.pem#2 (RSA PRIVATE KEY)', rsaSecond.kid, true],
      ['bundle.pem#4 (EC PRIVATE KEY)', ecWithParameters['P-521'].kid, true],
      ['bundle.pem#5 (CERTIFICATE)', ecBare.kid, false],
    ]);
  });

  it('keeps the valid blocks and reports the refused ones by block', () => {
    const result = parseKeyMaterial(`${rsa.publicPem}${rsaSmall.publicPem}${ecBare.publicPem}`, 'mixed.pem');
    expect(result.keys.map((key) => key.jwk.kid)).toEqual([rsa.kid, ecBare.kid]);
    expect(result.problems).toEqual([{ source: 'mixed.pem#2 (PUBLIC KEY)', reason: expect.stringMatching(/1024 bits is too small/) }]);
  });
});

describe('parseKeyMaterial: JWK and JWKS', () => {
  it('gives a kid-less public JWK the kube kid', () => {
    const key = onlyKey(JSON.stringify(exportedJwk(rsa.publicPem)), 'sa.jwk');
    expect(key).toEqual({ source: 'sa.jwk', fromPrivateKey: false, jwk: onlyKey(rsa.publicPem).jwk });
  });

  it('keeps the kid an external signer gave, and drops members kube does not publish', () => {
    const given = { ...exportedJwk(ecBare.publicPem), kid: 'vault-transit-key-7', alg: 'ES256', use: 'sig', key_ops: ['verify'], x5t: 'abc' };
    const key = onlyKey(JSON.stringify(given));
    expect(key.jwk).toEqual({ ...onlyKey(ecBare.publicPem).jwk, kid: 'vault-transit-key-7' });
  });

  it('reads a JWKS entry by entry, keeping each given kid and labelling each entry', () => {
    const jwks = {
      keys: [
        { ...exportedJwk(rsa.publicPem), kid: 'signer-2027-01', use: 'sig', alg: 'RS256' },
        exportedJwk(ecWithParameters['P-384'].publicPem),
      ],
    };
    const result = parseKeyMaterial(JSON.stringify(jwks), 'https://signer/jwks');
    expect(result.problems).toEqual([]);
    expect(result.keys.map((key) => [key.source, key.jwk.kid, key.jwk.alg])).toEqual([
      ['https://signer/jwks#keys[0]', 'signer-2027-01', 'RS256'],
      ['https://signer/jwks#keys[1]', ecWithParameters['P-384'].kid, 'ES384'],
    ]);
  });

  it('reads a cluster JWKS (`/openid/v1/jwks`) back to the same JWKs', () => {
    const published = { keys: [onlyKey(rsa.publicPem).jwk, onlyKey(ecBare.publicPem).jwk] };
    const result = parseKeyMaterial(JSON.stringify(published), 'cluster');
    expect(result.keys.map((key) => key.jwk)).toEqual(published.keys);
  });

  it('takes only the public half of a private JWK and flags it', () => {
    const privateJwk = createPrivateKey(rsa.privatePem).export({ format: 'jwk' });
    expect(privateJwk).toHaveProperty('d');
    const key = onlyKey(JSON.stringify(privateJwk), 'leaked.jwk');
    expect(key.fromPrivateKey).toBe(true);
    expect(key.jwk.kid).toBe(rsa.kid);
    expectNoPrivateMember(key.jwk);
  });

  it('keeps the valid entries of a JWKS and reports the bad ones by index', () => {
    const jwks = { keys: [exportedJwk(rsa.publicPem), { ...exportedJwk(ecBare.publicPem), use: 'enc' }, 'not-a-key'] };
    const result = parseKeyMaterial(JSON.stringify(jwks), 'jwks.json');
    expect(result.keys.map((key) => key.jwk.kid)).toEqual([rsa.kid]);
    expect(result.problems).toEqual([
      { source: 'jwks.json#keys[1]', reason: 'JWK "use" is "enc", not "sig"' },
      { source: 'jwks.json#keys[2]', reason: 'JWK is not an object' },
    ]);
  });
});

describe('parseKeyMaterial refuses, naming the input and the reason', () => {
  it('an SSH public key, with the conversion command', () => {
    const problem = onlyProblem(sshRsaPublicKey(rsa.publicPem), 'keys/id_rsa.pub');
    expect(problem.source).toBe('keys/id_rsa.pub');
    expect(problem.reason).toMatch(/SSH public key/);
    expect(problem.reason).toContain('ssh-keygen -e -m PKCS8');
  });

  it.each(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBn0 me@host', 'ecdsa-sha2-nistp256 AAAAE2VjZHNh me@host'])('an SSH key line %#', (line) => {
    expect(onlyProblem(line).reason).toMatch(/SSH public key/);
  });

  it.each([
    ['text', 'hello, this is not a key'],
    ['a JSON array', '[{"kty":"RSA"}]'],
    ['binary DER', new Uint8Array([0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09])],
  ])('garbage: %s', (_name, input) => {
    expect(onlyProblem(input, 'junk')).toEqual({ source: 'junk', reason: 'not a PEM key, JWK or JWKS' });
  });

  it('a PEM block without its END line', () => {
    const truncated = rsa.publicPem.replace('-----END PUBLIC KEY-----', '');
    expect(onlyProblem(truncated, 'cut.pem')).toEqual({ source: 'cut.pem', reason: 'no complete PEM block (missing END line?)' });
  });

  it('a corrupted PEM body, without echoing the key material back', () => {
    const lines = rsa.publicPem.split('\n');
    lines[2] = '!!!not base64!!!';
    const problem = onlyProblem(lines.join('\n'), 'bad.pem');
    expect(problem.source).toBe('bad.pem#1 (PUBLIC KEY)');
    expect(problem.reason.length).toBeGreaterThan(0);
    expect(problem.reason).not.toContain(lines[1]);
    expect(problem.reason).not.toContain('BEGIN');
  });

  it(`an RSA key under ${MIN_RSA_BITS} bits`, () => {
    expect(onlyProblem(rsaSmall.publicPem, 'small.pub')).toEqual({
      source: 'small.pub#1 (PUBLIC KEY)',
      reason: 'RSA key of 1024 bits is too small: at least 2048 bits are required',
    });
    expect(onlyProblem(rsaSmall.privatePem).reason).toMatch(/1024 bits is too small/);
  });

  it('an EC key on secp256k1', () => {
    expect(onlyProblem(secp256k1.publicPem).reason).toBe('EC curve secp256k1 is not supported: use P-256, P-384 or P-521');
    expect(onlyProblem(secp256k1.privatePem).reason).toMatch(/secp256k1 is not supported/);
  });

  it('an Ed25519 key, public or private', () => {
    expect(onlyProblem(ed25519.publicPem).reason).toMatch(/unsupported key type "ed25519"/);
    expect(onlyProblem(ed25519.privatePem).reason).toMatch(/unsupported key type "ed25519"/);
  });

  it.each<[string, string | Uint8Array]>([
    ['an empty string', ''],
    ['whitespace only', '  \n\t\r\n'],
    ['zero bytes', new Uint8Array(0)],
  ])('empty input: %s', (_name, input) => {
    expect(onlyProblem(input, 'keys/empty.pem')).toEqual({ source: 'keys/empty.pem', reason: 'empty input: expected PEM key(s), a JWK or a JWKS' });
  });

  it('an encrypted PKCS#8 private key', () => {
    const problem = onlyProblem(openssl.encryptedPkcs8PrivateKey(rsa, 'correct horse'), 'enc.key');
    expect(problem.source).toBe('enc.key#1 (ENCRYPTED PRIVATE KEY)');
    expect(problem.reason).toMatch(/^encrypted private key: .*openssl pkey -pubout/);
  });

  it('a legacy encrypted RSA PRIVATE KEY (Proc-Type: 4,ENCRYPTED), with the same reason', () => {
    const encrypted = openssl.encryptedTraditionalRsaPrivateKey(rsa, 'correct horse');
    expect(encrypted).toContain('Proc-Type: 4,ENCRYPTED');
    const problem = onlyProblem(encrypted, 'enc-legacy.key');
    expect(problem.source).toBe('enc-legacy.key#1 (RSA PRIVATE KEY)');
    expect(problem.reason).toMatch(/^encrypted private key: .*openssl pkey -pubout/);
  });

  it('a file of nothing but EC PARAMETERS', () => {
    const parametersOnly = openssl.run(['ecparam', '-name', 'prime256v1']).toString('utf8');
    expect(parametersOnly).toMatch(/^-----BEGIN EC PARAMETERS-----/);
    const problem = onlyProblem(parametersOnly, 'params.pem');
    expect(problem.source).toBe('params.pem');
    expect(problem.reason).toMatch(/no key/);
  });

  it('a PEM block type that holds no usable key', () => {
    const csr = openssl.run(['req', '-new', '-key', rsa.privateFile, '-subj', '/CN=csr']).toString('utf8');
    expect(onlyProblem(csr, 'req.pem')).toEqual({ source: 'req.pem#1 (CERTIFICATE REQUEST)', reason: 'unsupported PEM block type "CERTIFICATE REQUEST"' });
  });

  it('a JWK whose "use" is "enc"', () => {
    const jwk = { ...exportedJwk(rsa.publicPem), use: 'enc' };
    expect(onlyProblem(JSON.stringify(jwk), 'enc.jwk')).toEqual({ source: 'enc.jwk', reason: 'JWK "use" is "enc", not "sig"' });
  });

  it.each([
    ['an RSA key claiming ES256', () => ({ ...exportedJwk(rsa.publicPem), alg: 'ES256' }), 'JWK "alg" is "ES256" but the key signs RS256'],
    ['an RSA key claiming RS512', () => ({ ...exportedJwk(rsa.publicPem), alg: 'RS512' }), 'JWK "alg" is "RS512" but the key signs RS256'],
    ['a P-384 key claiming ES256', () => ({ ...exportedJwk(ecWithParameters['P-384'].publicPem), alg: 'ES256' }), 'JWK "alg" is "ES256" but the key signs ES384'],
  ])('a JWK whose alg does not match its key: %s', (_name, jwk, reason) => {
    expect(onlyProblem(JSON.stringify(jwk()), 'alg.jwk')).toEqual({ source: 'alg.jwk', reason });
  });

  it.each([
    ['a symmetric key', () => JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }), /^unsupported key type "oct"/],
    ['an OKP key', () => JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }), /^unsupported key type "OKP"/],
    ['an RSA JWK without its modulus', () => JSON.stringify({ kty: 'RSA', e: 'AQAB' }), /^invalid RSA JWK: /],
    ['a non-string kid', () => JSON.stringify({ ...exportedJwk(ecBare.publicPem), kid: 42 }), /^JWK "kid" is not a string$/],
    ['invalid JSON', () => '{"kty": "RSA",', /^invalid JSON$/],
    ['a JSON string holding a PEM header', () => '"-----BEGIN PUBLIC KEY-----"', /^no complete PEM block/],
  ])('%s', (_name, input, reason) => {
    expect(onlyProblem(input()).reason).toMatch(reason);
  });

  it('a JWKS with no keys', () => {
    expect(onlyProblem('{"keys":[]}', 'empty.json')).toEqual({ source: 'empty.json', reason: 'JWKS has no keys' });
  });
});

describe('fromPrivateKey', () => {
  it('is true exactly for the forms that carry private key material', () => {
    const forms: [string, () => string, boolean][] = [
      ['PUBLIC KEY', () => rsa.publicPem, false],
      ['RSA PUBLIC KEY', () => openssl.rsaPublicKeyPkcs1(rsa), false],
      ['CERTIFICATE', () => openssl.selfSignedCertificate(rsa), false],
      ['public JWK', () => JSON.stringify(exportedJwk(rsa.publicPem)), false],
      ['RSA PRIVATE KEY', () => rsa.privatePem, true],
      ['EC PRIVATE KEY', () => ecBare.privatePem, true],
      ['PRIVATE KEY', () => openssl.pkcs8PrivateKey(ecBare), true],
      ['private JWK', () => JSON.stringify(createPrivateKey(ecBare.privatePem).export({ format: 'jwk' })), true],
    ];
    for (const [form, input, expected] of forms) {
      expect([form, onlyKey(input()).fromPrivateKey]).toEqual([form, expected]);
    }
  });
});

describe('kubeKeyId and jwkFromPublicKey', () => {
  it('compute the kid openssl computes, for every accepted key type', () => {
    for (const pair of [rsa, rsaSecond, ecBare, ...Object.values(ecWithParameters)]) {
      expect(kubeKeyId(createPublicKey(pair.publicPem))).toBe(pair.kid);
      expect(jwkFromPublicKey(createPublicKey(pair.publicPem)).kid).toBe(pair.kid);
    }
  });

  it('throw KeyRefused, the error the parser turns into a reason', () => {
    expect(() => jwkFromPublicKey(createPublicKey(rsaSmall.publicPem))).toThrow(KeyRefused);
    expect(() => jwkFromPublicKey(createPublicKey(ed25519.publicPem))).toThrow(KeyRefused);
  });

  it('output public members only, even from a key object made from a private key', () => {
    const jwk: PublicJwk = jwkFromPublicKey(createPublicKey(ecWithParameters['P-521'].privatePem));
    expectNoPrivateMember(jwk);
    expect(Object.keys(jwk).sort()).toEqual(EC_MEMBERS);
  });
});
