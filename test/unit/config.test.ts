import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DEFAULTS, ConfigValidationError, configJwks, validateConfig } from '../../core/config';
import type { ValidateConfigOptions } from '../../core/config';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kube-format');
const RSA_PUB = readFileSync(join(FIXTURES, 'sa-rsa.pub'), 'utf8');
const RSA_KEY = readFileSync(join(FIXTURES, 'sa-rsa.key'), 'utf8');
const EC_PUB = readFileSync(join(FIXTURES, 'sa-ec.pub'), 'utf8');
const PUBLISHED = JSON.parse(readFileSync(join(FIXTURES, 'jwks.json'), 'utf8')) as { keys: { kid: string; kty: string }[] };
const RSA_KID = PUBLISHED.keys.find((k) => k.kty === 'RSA')!.kid;
const EC_KID = PUBLISHED.keys.find((k) => k.kty === 'EC')!.kid;

const CUSTOM_ISSUER = {
  url: 'https://oidc.example.com/cluster-a',
  hostedZoneId: 'Z0123456789ABCDEFGHIJ',
  hostedZoneName: 'example.com',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
};

type Json = Record<string, unknown>;

/** A minimal valid cluster; each test changes one thing. */
function baseCluster(): Json {
  return {
    name: 'prod',
    keySources: { configKeys: [{ pem: RSA_PUB }] },
    verifyApi: { audiences: ['verify.prod.example.com'] },
  };
}

function withCluster(change: (cluster: Json) => void): unknown {
  const cluster = baseCluster();
  change(cluster);
  return { clusters: [cluster] };
}

function problemsOf(raw: unknown, options?: ValidateConfigOptions): readonly string[] {
  try {
    validateConfig(raw, options);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected validateConfig to throw');
}

/** Asserts that the change yields exactly this one problem. */
function expectOnly(change: (cluster: Json) => void, message: string, options?: ValidateConfigOptions): void {
  expect(problemsOf(withCluster(change), options)).toEqual([message]);
}

describe('validateConfig: a valid configuration', () => {
  test('applies every documented default', () => {
    const [cluster] = validateConfig({ clusters: [baseCluster()] });
    expect(cluster.stackId).toBe('OidcCluster-prod');
    expect(cluster.issuer).toEqual({ kind: 'cloudFrontDefault' });
    expect(cluster.audiences).toEqual(['sts.amazonaws.com']);
    expect(cluster.apiServerAudiences).toEqual([]);
    expect(cluster.keySources.upload).toEqual({ enabled: false, writerArns: [] });
    expect(cluster.rotation).toEqual({ gracePeriodSeconds: 86400, kidlessCompat: false });
    expect(cluster.sync).toEqual({ scheduleMinutes: 5, cacheMaxAgeSeconds: 300 });
    expect(cluster.verifyApi).toEqual({
      enabled: true,
      audiences: ['verify.prod.example.com'],
      defaultAudiences: ['verify.prod.example.com'],
      allowSharedAudiences: false,
      iamAuth: false,
      throttle: { rateLimit: CONFIG_DEFAULTS.rateLimit, burstLimit: CONFIG_DEFAULTS.burstLimit },
      clockSkewSeconds: 60,
      maxTokenBytes: 16384,
      keysTtlSeconds: 60,
      unknownKidCooldownSeconds: 30,
      staleWindowSeconds: 900,
    });
    expect(cluster.alarms).toEqual({ emails: [] });
    expect(cluster.issuerSite).toEqual({ documentWriterArns: [], errorCachingTtlSeconds: 0 });
    expect(cluster.verifyApi.routeThrottles).toBeUndefined();
    expect(cluster.warnings).toEqual([]);
  });

  test('issuer-site writers, error caching and per-route throttles are read as given', () => {
    const writer = 'arn:aws:iam::123456789012:role/BreakGlass';
    const [cluster] = validateConfig(withCluster((c) => {
      c.issuerSite = { documentWriterArns: [writer], errorCachingTtlSeconds: 0 };
      c.verifyApi = { audiences: ['verify.prod.example.com'], routeThrottles: { tokenReview: { rateLimit: 200, burstLimit: 400 }, auth: { rateLimit: 2.5, burstLimit: 5 } } };
    }));
    expect(cluster.issuerSite).toEqual({ documentWriterArns: [writer], errorCachingTtlSeconds: 0 });
    expect(cluster.verifyApi.routeThrottles).toEqual({ tokenReview: { rateLimit: 200, burstLimit: 400 }, auth: { rateLimit: 2.5, burstLimit: 5 } });
    expect(cluster.verifyApi.throttle).toEqual({ rateLimit: 50, burstLimit: 100 });
  });

  test('"$schema" is allowed at the top of the file', () => {
    expect(validateConfig({ $schema: './clusters.schema.json', clusters: [baseCluster()] })).toHaveLength(1);
  });

  test('a custom-domain issuer is the default API-server audience', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.issuer = CUSTOM_ISSUER; }));
    expect(cluster.issuer).toEqual({ kind: 'customDomain', ...CUSTOM_ISSUER });
    expect(cluster.apiServerAudiences).toEqual(['https://oidc.example.com/cluster-a']);
  });

  test('config keys become kube-format public JWKs with kube key ids', () => {
    const files: Record<string, string> = { 'keys/sa-ec.pub': EC_PUB };
    const [cluster] = validateConfig(
      withCluster((c) => { c.keySources = { configKeys: [{ pem: RSA_PUB }, { file: 'keys/sa-ec.pub' }] }; }),
      { readKeyFile: (path) => files[path] },
    );
    // Published in kid order (canonical), whatever the order of the config entries.
    const byKid = (a: { kid: string }, b: { kid: string }) => (a.kid < b.kid ? -1 : 1);
    expect(configJwks(cluster)).toEqual({ keys: [...PUBLISHED.keys].sort(byKid) });
  });

  test('a private key is accepted with a warning and only its public half is kept', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.keySources = { configKeys: [{ pem: RSA_KEY }] }; }));
    expect(cluster.keySources.configKeys.map((k) => k.kid)).toEqual([RSA_KID]);
    expect(JSON.stringify(cluster.keySources.configKeys)).not.toMatch(/"(d|p|q|dp|dq|qi)"/);
    expect(cluster.warnings).toEqual([
      'cluster "prod": keySources.configKeys[0].pem holds a private key: only its public key is used. '
      + 'Keep private keys out of the config (`openssl pkey -in sa.key -pubout` gives the public key).',
    ]);
  });

  test('the same key given twice is published once', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.keySources = { configKeys: [{ pem: EC_PUB }, { pem: EC_PUB }] }; }));
    expect(cluster.keySources.configKeys.map((k) => k.kid)).toEqual([EC_KID]);
  });

  test('a verify lifetime longer than the grace period is a warning, not an error', () => {
    const [cluster] = validateConfig(withCluster((c) => {
      c.verifyApi = { audiences: ['verify.prod.example.com'], maxTokenLifetimeSeconds: 172800 };
    }));
    expect(cluster.warnings).toEqual([
      'cluster "prod": verifyApi.maxTokenLifetimeSeconds (172800) exceeds rotation.gracePeriodSeconds (86400): tokens signed by a rotated-out key '
      + 'stop verifying before they expire; raise the grace period to cover the longest token lifetime.',
    ]);
  });

  test('a namespace-wide role is allowed when asked for', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.serviceAccountRoles = [{ id: 'ci', namespace: 'ci', match: 'namespace' }]; }));
    expect(cluster.serviceAccountRoles).toEqual([
      { id: 'ci', namespace: 'ci', match: 'namespace', audience: 'sts.amazonaws.com', managedPolicyArns: [], inlinePolicyStatements: [] },
    ]);
  });

  test('allowSharedAudiences lets the STS audience through', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.verifyApi = { audiences: ['sts.amazonaws.com'], allowSharedAudiences: true }; }));
    expect(cluster.verifyApi.audiences).toEqual(['sts.amazonaws.com']);
  });

  test('a disabled Verify API needs no audiences', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.verifyApi = { enabled: false }; }));
    expect(cluster.verifyApi.enabled).toBe(false);
  });

  test('$comment fields are ignored at any level', () => {
    expect(() => validateConfig({ $comment: 'x', clusters: [{ ...baseCluster(), $comment: 'y' }] })).not.toThrow();
  });
});

describe('validateConfig: every problem at once', () => {
  test('collects problems from several fields and clusters before throwing', () => {
    const problems = problemsOf({
      clusters: [
        { ...baseCluster(), name: 'Prod', sync: { scheduleMinutes: 0 } },
        { ...baseCluster(), name: 'dev', audiences: [] },
      ],
    });
    expect(problems).toEqual([
      'cluster "Prod", name = "Prod": is not DNS-safe. Fix: use lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. "prod-eu").',
      'cluster "Prod", sync.scheduleMinutes = 0: is out of range (1 to 60). Fix: give whole minutes between 1 and 60.',
      'cluster "dev", audiences = []: is empty. Fix: list at least one client ID (usually "sts.amazonaws.com").',
    ]);
  });

  test('the thrown message lists every problem', () => {
    expect(() => validateConfig({ clusters: [{ name: 'x' }] })).toThrow(
      'Invalid cluster configuration (2 problems):\n'
      + '  - cluster "x", keySources = (missing): is missing. Fix: configure at least one key source: keySources.configKeys (public keys in the config), keySources.upload or keySources.clusterJwks.\n'
      + '  - cluster "x", verifyApi.audiences = (missing): lists no audience while the Verify API is enabled. Fix: list the audiences callers may verify (e.g. ["verify.prod.example.com"]), or set verifyApi.enabled to false.',
    );
  });
});

describe('validateConfig: file shape', () => {
  test('the root must be an object', () => {
    expect(problemsOf([])).toEqual(['config: must be a JSON object with a "clusters" array. Fix: write {"clusters": [{"name": "...", ...}]}.']);
  });

  test('at least one cluster', () => {
    expect(problemsOf({ clusters: [] })).toEqual(['config, clusters = []: is empty. Fix: declare at least one cluster.']);
  });

  test('an unknown field is named with the likely intended one', () => {
    expectOnly((c) => { c.audience = ['sts.amazonaws.com']; }, 'cluster "prod", audience = ["sts.amazonaws.com"]: is not a known field. Fix: did you mean "audiences"?.');
  });

  test('a wrong type is reported with the expected form', () => {
    expectOnly((c) => { c.rotation = { kidlessCompat: 'yes' }; }, 'cluster "prod", rotation.kidlessCompat = "yes": must be true or false. Fix: write true or false without quotes (default false).');
  });
});

describe('validateConfig: cluster name and environment', () => {
  test('name is required', () => {
    expect(problemsOf({ clusters: [{ ...baseCluster(), name: undefined }] })).toEqual([
      'clusters[0], name = (missing): is missing. Fix: give the cluster a DNS-safe name such as "prod-eu".',
    ]);
  });

  test('name must be DNS-safe', () => {
    expectOnly((c) => { c.name = 'prod_eu'; }, 'cluster "prod_eu", name = "prod_eu": is not DNS-safe. Fix: use lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. "prod-eu").');
  });

  test('name is at most 40 characters', () => {
    const name = 'a'.repeat(41);
    expectOnly((c) => { c.name = name; }, `cluster "${name}", name = "${name}": is longer than 40 characters. Fix: use a shorter name: it becomes part of the stack name OidcCluster-<name>.`);
  });

  test('cluster names are unique', () => {
    expect(problemsOf({ clusters: [baseCluster(), baseCluster()] })).toEqual([
      'cluster "prod", clusters[1].name = "prod": duplicates clusters[0].name. Fix: give every cluster a distinct name (each becomes stack OidcCluster-<name>).',
    ]);
  });

  test('env.account is a 12-digit account id', () => {
    expectOnly((c) => { c.env = { account: '1234' }; }, 'cluster "prod", env.account = "1234": is not a 12-digit AWS account id. Fix: give the account id, e.g. "123456789012".');
  });

  test('env.region is a region name', () => {
    expectOnly((c) => { c.env = { region: 'Europe' }; }, 'cluster "prod", env.region = "Europe": is not an AWS region name. Fix: give a region such as "eu-west-1".');
  });
});

describe('validateConfig: issuer', () => {
  const withIssuer = (change: Partial<typeof CUSTOM_ISSUER>) => (c: Json) => { c.issuer = { ...CUSTOM_ISSUER, ...change }; };

  test('must use https', () => {
    expectOnly(withIssuer({ url: 'http://oidc.example.com' }), 'cluster "prod", issuer.url = "http://oidc.example.com": does not use https. Fix: serve the issuer over https (https://...): IAM and STS only accept https issuers.');
  });

  test('must be an absolute URL', () => {
    expectOnly(withIssuer({ url: 'oidc.example.com' }), 'cluster "prod", issuer.url = "oidc.example.com": is not an absolute URL. Fix: give the issuer as https://HOST[/PATH], e.g. "https://oidc.example.com".');
  });

  test('no query string', () => {
    expectOnly(withIssuer({ url: 'https://oidc.example.com?x=1' }), 'cluster "prod", issuer.url = "https://oidc.example.com?x=1": has a query string. Fix: remove everything from "?": an issuer has no query.');
  });

  test('no fragment', () => {
    expectOnly(withIssuer({ url: 'https://oidc.example.com#top' }), 'cluster "prod", issuer.url = "https://oidc.example.com#top": has a fragment. Fix: remove everything from "#": an issuer has no fragment.');
  });

  test('no port', () => {
    expectOnly(withIssuer({ url: 'https://oidc.example.com:8443' }), 'cluster "prod", issuer.url = "https://oidc.example.com:8443": has a port. Fix: remove the port: IAM refuses provider URLs with a port, and CloudFront serves 443.');
  });

  test('no trailing slash', () => {
    expectOnly(withIssuer({ url: 'https://oidc.example.com/cluster-a/' }), 'cluster "prod", issuer.url = "https://oidc.example.com/cluster-a/": ends with a slash. Fix: remove the trailing slash ("https://oidc.example.com/cluster-a"): IAM condition keys and token "iss" must match byte for byte.');
  });

  test('no user information', () => {
    expectOnly(withIssuer({ url: 'https://admin@oidc.example.com' }), 'cluster "prod", issuer.url = "https://admin@oidc.example.com": has user information. Fix: remove "user@" from the URL.');
  });

  test('a lowercase host', () => {
    expectOnly(withIssuer({ url: 'https://OIDC.example.com' }), 'cluster "prod", issuer.url = "https://OIDC.example.com": has uppercase letters in its host. Fix: write the host in lowercase ("oidc.example.com"): the issuer is compared byte for byte.');
  });

  test('a DNS host name, not an IP address', () => {
    expectOnly(withIssuer({ url: 'https://10.0.0.1' }), 'cluster "prod", issuer.url = "https://10.0.0.1": does not have a valid DNS host name. Fix: use a fully qualified host name such as oidc.example.com (no IP address).');
  });

  test('a plain path', () => {
    expectOnly(withIssuer({ url: 'https://oidc.example.com/a//b' }), 'cluster "prod", issuer.url = "https://oidc.example.com/a//b": has an unsupported path. Fix: use path segments of letters, digits, ".", "_", "~" and "-" only (e.g. https://oidc.example.com/cluster-a).');
  });

  // Issue 12 §5: the issuer is compared byte for byte, but a client resolves dot segments and
  // percent-encoding; such an issuer names one string to IAM and another path to the web.
  test('no dot segment in the path', () => {
    for (const url of ['https://oidc.example.com/c1/../c2', 'https://oidc.example.com/./c1', 'https://oidc.example.com/c1/..']) {
      expectOnly(withIssuer({ url }), `cluster "prod", issuer.url = ${JSON.stringify(url)}: has a dot segment ("." or "..") in its path. Fix: write the path without "." and ".." segments: clients resolve them, so the documents would be fetched from another path than the "iss" tokens carry.`);
    }
  });

  test('no percent-encoding in the path', () => {
    for (const url of ['https://oidc.example.com/c%31', 'https://oidc.example.com/%2e%2e/c2']) {
      expectOnly(withIssuer({ url }), `cluster "prod", issuer.url = ${JSON.stringify(url)}: has percent-encoding in its path. Fix: write the path in plain characters (letters, digits, ".", "_", "~", "-"): an encoded and a decoded issuer are different strings to IAM but the same URL to a web server.`);
    }
  });

  test('dots inside a segment are fine', () => {
    const [cluster] = validateConfig(withCluster((c) => { c.issuer = { ...CUSTOM_ISSUER, url: 'https://oidc.example.com/v1.2/..c' }; }));
    expect(cluster.issuer).toMatchObject({ url: 'https://oidc.example.com/v1.2/..c' });
  });

  test('the hosted zone holds the issuer host', () => {
    expectOnly(withIssuer({ hostedZoneName: 'example.org' }), 'cluster "prod", issuer.hostedZoneName = "example.org": does not contain the issuer host "oidc.example.com". Fix: give the hosted zone that the issuer host belongs to.');
  });

  test('a Route 53 zone id', () => {
    expectOnly(withIssuer({ hostedZoneId: '/hostedzone/Z123' }), 'cluster "prod", issuer.hostedZoneId = "/hostedzone/Z123": is not a Route 53 hosted zone id. Fix: copy the zone id (Z followed by letters and digits, without "/hostedzone/").');
  });

  test('the certificate is in us-east-1', () => {
    const arn = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';
    expectOnly(withIssuer({ certificateArn: arn }), `cluster "prod", issuer.certificateArn = "${arn}": is in eu-west-1, but CloudFront only uses certificates from us-east-1. Fix: request or import the certificate in us-east-1 and give that ARN.`);
  });

  test('the certificate is an ACM ARN', () => {
    expectOnly(withIssuer({ certificateArn: 'my-cert' }), 'cluster "prod", issuer.certificateArn = "my-cert": is not an ACM certificate ARN. Fix: copy the ARN from ACM: arn:aws:acm:us-east-1:ACCOUNT:certificate/ID.');
  });

  test('a custom domain needs its zone and certificate', () => {
    expect(problemsOf(withCluster((c) => { c.issuer = { url: 'https://oidc.example.com' }; }))).toEqual([
      'cluster "prod", issuer.hostedZoneId = (missing): is missing. Fix: give the Route 53 hosted zone id that holds the issuer host, e.g. "Z0123456789ABCDEFGHIJ".',
      'cluster "prod", issuer.hostedZoneName = (missing): is missing. Fix: give the hosted zone\'s domain name, e.g. "example.com".',
      'cluster "prod", issuer.certificateArn = (missing): is missing. Fix: give the ARN of an ACM certificate in us-east-1 that covers the issuer host.',
    ]);
  });
});

describe('validateConfig: IAM provider', () => {
  test('at least one audience', () => {
    expectOnly((c) => { c.audiences = []; }, 'cluster "prod", audiences = []: is empty. Fix: list at least one client ID (usually "sts.amazonaws.com").');
  });

  test('the STS audience is spelled exactly', () => {
    expectOnly((c) => { c.audiences = ['sts.amazon.com']; }, 'cluster "prod", audiences[0] = "sts.amazon.com": is not "sts.amazonaws.com". Fix: write "sts.amazonaws.com" exactly: STS refuses any other spelling with "Incorrect token audience".');
  });

  test('at most 100 audiences', () => {
    const many = Array.from({ length: 101 }, (_, i) => `aud-${i}`);
    expect(problemsOf(withCluster((c) => { c.audiences = many; }))[0]).toMatch(/^cluster "prod", audiences = \["aud-0",.*: has 101 entries, more than IAM's 100\. Fix: keep at most 100 client IDs\.$/);
  });

  test('audiences are unique', () => {
    expectOnly((c) => { c.audiences = ['sts.amazonaws.com', 'sts.amazonaws.com']; }, 'cluster "prod", audiences[1] = "sts.amazonaws.com": is listed twice. Fix: remove the duplicate.');
  });

  test('an imported provider must be for the issuer', () => {
    expectOnly((c) => {
      c.issuer = CUSTOM_ISSUER;
      c.existingOidcProviderArn = 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com';
    }, 'cluster "prod", existingOidcProviderArn = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com": is for "oidc.example.com", not the issuer "oidc.example.com/cluster-a". Fix: import the provider registered for this issuer URL, or remove existingOidcProviderArn to create one.');
  });

  test('an imported provider ARN must be an OIDC provider ARN', () => {
    expectOnly((c) => { c.existingOidcProviderArn = 'arn:aws:iam::123456789012:role/x'; }, 'cluster "prod", existingOidcProviderArn = "arn:aws:iam::123456789012:role/x": is not an IAM OIDC provider ARN. Fix: give arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH], as `aws iam list-open-id-connect-providers` shows.');
  });

  test('an imported provider with the default domain must be a CloudFront one', () => {
    expectOnly((c) => { c.existingOidcProviderArn = 'arn:aws:iam::123456789012:oidc-provider/oidc.example.com'; }, 'cluster "prod", existingOidcProviderArn = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com": is not for a CloudFront default domain, which is the issuer when issuer is omitted. Fix: configure issuer with the custom domain of that provider, or remove existingOidcProviderArn.');
  });
});

describe('validateConfig: key sources', () => {
  test('key sources are required', () => {
    expectOnly((c) => { delete c.keySources; }, 'cluster "prod", keySources = (missing): is missing. Fix: configure at least one key source: keySources.configKeys (public keys in the config), keySources.upload or keySources.clusterJwks.');
  });

  test('at least one source is enabled', () => {
    expectOnly((c) => { c.keySources = { upload: { enabled: false } }; }, 'cluster "prod", keySources = {"upload":{"enabled":false}}: has no enabled source. Fix: configure keySources.configKeys, enable keySources.upload, or set keySources.clusterJwks.');
  });

  test('uploads need named writers', () => {
    expectOnly((c) => { c.keySources = { upload: { enabled: true } }; }, 'cluster "prod", keySources.upload.writerArns = (missing): is empty while uploads are enabled. Fix: name the principals allowed to upload keys (nobody else can), or set upload.enabled to false.');
  });

  test('writers are exact ARNs, never wildcards', () => {
    expectOnly((c) => { c.keySources = { upload: { enabled: true, writerArns: ['arn:aws:iam::123456789012:role/*'] } }; }, 'cluster "prod", keySources.upload.writerArns[0] = "arn:aws:iam::123456789012:role/*": contains a wildcard. Fix: name each principal by its exact role or user ARN: whoever can write a key can mint tokens for every role.');
  });

  test('writers are IAM principal ARNs', () => {
    expectOnly((c) => { c.keySources = { upload: { enabled: true, writerArns: ['KeyPublisher'] } }; }, 'cluster "prod", keySources.upload.writerArns[0] = "KeyPublisher": is not an IAM role, user or account-root ARN. Fix: give e.g. "arn:aws:iam::123456789012:role/KeyPublisher".');
  });

  test('the cluster endpoint uses https', () => {
    expectOnly((c) => { c.keySources = { clusterJwks: { url: 'http://10.0.0.10:6443/openid/v1/jwks' } }; }, 'cluster "prod", keySources.clusterJwks.url = "http://10.0.0.10:6443/openid/v1/jwks": does not use https. Fix: use the API server\'s https URL (the token and keys must not travel in clear).');
  });

  test('an SSM parameter name is flat or a path starting with "/", as SSM and CDK require', () => {
    expectOnly((c) => { c.keySources = { clusterJwks: { url: 'https://10.0.0.10:6443/openid/v1/jwks', tokenParameterName: 'kube/discovery' } }; },
      'cluster "prod", keySources.clusterJwks.tokenParameterName = "kube/discovery": is not an SSM parameter name. Fix: give the name (not the ARN): a flat name, or a path starting with "/", e.g. "/kube-oidc/prod/discovery-token".');
  });

  test('one bearer-token source at most', () => {
    expectOnly((c) => {
      c.keySources = {
        clusterJwks: {
          url: 'https://10.0.0.10:6443/openid/v1/jwks',
          tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kube/discovery-AbCdEf',
          tokenParameterName: '/kube/discovery',
        },
      };
    }, 'cluster "prod", keySources.clusterJwks.tokenParameterName = "/kube/discovery": is set together with tokenSecretArn. Fix: keep one token source: tokenSecretArn or tokenParameterName.');
  });

  test('the secret ARN is complete', () => {
    expectOnly((c) => {
      c.keySources = { clusterJwks: { url: 'https://10.0.0.10:6443/openid/v1/jwks', tokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:discovery' } };
    }, 'cluster "prod", keySources.clusterJwks.tokenSecretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:discovery": is not a complete Secrets Manager secret ARN. Fix: copy the full ARN, including the 6-character suffix Secrets Manager appends to the name.');
  });

  test('the CA bundle holds a certificate, and is never echoed', () => {
    const notACert = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA';
    expectOnly((c) => { c.keySources = { clusterJwks: { url: 'https://10.0.0.10:6443/openid/v1/jwks', caBundlePem: notACert } }; },
      `cluster "prod", keySources.clusterJwks.caBundlePem = (${notACert.length} characters, not shown): holds no PEM certificate. Fix: paste the cluster CA (e.g. the certificate-authority-data of a kubeconfig, base64-decoded).`);
  });

  test('VPC placement names subnets by id', () => {
    expectOnly((c) => {
      c.keySources = {
        clusterJwks: { url: 'https://10.0.0.10:6443/openid/v1/jwks', vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['private-a'], securityGroupIds: ['sg-0123456789abcdef0'] } },
      };
    }, 'cluster "prod", keySources.clusterJwks.vpc.subnetIds[0] = "private-a": is not a subnet id. Fix: give e.g. "subnet-0123456789abcdef0".');
  });

  test('a refused key names the entry and the reason', () => {
    expectOnly((c) => { c.keySources = { configKeys: [{ pem: 'ssh-rsa AAAAB3NzaC1yc2E user@host' }] }; },
      'cluster "prod", keySources.configKeys[0].pem = (33 characters, not shown): was refused: SSH public key format is not accepted: convert it with `ssh-keygen -e -m PKCS8 -f KEY.pub`. '
      + 'Fix: give a PEM public key, certificate, JWK or JWKS of an RSA (2048 bits or more) or EC P-256/P-384/P-521 key.');
  });

  test('key material is never echoed, even from a broken private key', () => {
    const broken = RSA_KEY.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
    const problems = problemsOf(withCluster((c) => { c.keySources = { configKeys: [{ pem: broken }] }; }));
    expect(problems).toHaveLength(1);
    const body = RSA_KEY.split('\n')[3];
    expect(problems[0]).not.toContain(body);
    expect(problems[0]).toMatch(/^cluster "prod", keySources\.configKeys\[0\]\.pem = \(\d+ characters, not shown\): was refused: /);
  });

  test('one key form per entry', () => {
    expectOnly((c) => { c.keySources = { configKeys: [{ pem: RSA_PUB, file: 'sa.pub' }] }; }, 'cluster "prod", keySources.configKeys[0] = (not shown): has file and pem together. Fix: give exactly one of "file", "pem" or "jwk" per entry.');
  });

  test('an unreadable key file is reported with the reader\'s reason', () => {
    expectOnly((c) => { c.keySources = { configKeys: [{ file: 'keys/missing.pub' }] }; },
      'cluster "prod", keySources.configKeys[0].file = "keys/missing.pub": cannot be read: ENOENT: no such file. Fix: check the path (relative to the config file) and permissions.',
      { readKeyFile: () => { throw new Error('ENOENT: no such file'); } });
  });

  test('two different keys cannot share a kid', () => {
    const rsa = JSON.parse(readFileSync(join(FIXTURES, 'jwks.json'), 'utf8')).keys.find((k: { kty: string }) => k.kty === 'RSA');
    const ec = JSON.parse(readFileSync(join(FIXTURES, 'jwks.json'), 'utf8')).keys.find((k: { kty: string }) => k.kty === 'EC');
    expectOnly((c) => { c.keySources = { configKeys: [{ jwk: { ...rsa, kid: 'k1' } }, { jwk: { ...ec, kid: 'k1' } }] }; },
      'cluster "prod", keySources.configKeys[1].jwk = (not shown): has kid "k1" already used by a different key in keySources.configKeys[0]. Fix: give each key a distinct kid (or drop the kid to use kube\'s SHA-256 key id).');
  });

  test('config keys and CA bundle must fit the Lambda environment', () => {
    const ca = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(3000)}\n-----END CERTIFICATE-----\n`;
    const problems = problemsOf(withCluster((c) => {
      c.keySources = { configKeys: [{ pem: RSA_PUB }], clusterJwks: { url: 'https://10.0.0.10:6443/openid/v1/jwks', caBundlePem: ca } };
    }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^cluster "prod", keySources = \(not shown\): needs \d+ bytes of Lambda environment for configKeys and caBundlePem, more than the 3072 available \(Lambda allows 4 KiB in all\)\. Fix: give fewer configKeys and upload the others to keys\/ \(keySources\.upload\), or shorten the CA bundle to the one issuing CA\.$/);
  });
});

describe('validateConfig: service-account roles', () => {
  const role = (change: Json) => (c: Json) => { c.serviceAccountRoles = [{ id: 'payments-api', namespace: 'payments', serviceAccount: 'api', ...change }]; };

  test('a valid role id', () => {
    expectOnly(role({ id: '1st role' }), 'cluster "prod", serviceAccountRoles[0].id = "1st role": is not a valid role id. Fix: use up to 64 letters, digits and hyphens, starting with a letter.');
  });

  test('role ids are unique', () => {
    expectOnly((c) => {
      c.serviceAccountRoles = [
        { id: 'payments-api', namespace: 'payments', serviceAccount: 'api' },
        { id: 'paymentsapi', namespace: 'payments', serviceAccount: 'worker' },
      ];
    }, 'cluster "prod", serviceAccountRoles[1].id = "paymentsapi": duplicates serviceAccountRoles[0].id (ids are compared without hyphens and case because they name stack outputs). Fix: give every role a distinct id.');
  });

  test('role ids that differ only in case and hyphens are refused: they would name one stack output', () => {
    expectOnly((c) => {
      c.serviceAccountRoles = [
        { id: 'a-b', namespace: 'payments', serviceAccount: 'api' },
        { id: 'aB', namespace: 'payments', serviceAccount: 'worker' },
      ];
    }, 'cluster "prod", serviceAccountRoles[1].id = "aB": duplicates serviceAccountRoles[0].id (ids are compared without hyphens and case because they name stack outputs). Fix: give every role a distinct id.');
  });

  test('never a wildcard namespace', () => {
    expectOnly(role({ namespace: '*' }), 'cluster "prod", serviceAccountRoles[0].namespace = "*": contains a wildcard. Fix: name one namespace: wildcards across namespaces are not allowed (use match "namespace" for every service account of one namespace).');
  });

  test('never a wildcard service account', () => {
    expectOnly(role({ serviceAccount: '*' }), 'cluster "prod", serviceAccountRoles[0].serviceAccount = "*": contains a wildcard. Fix: give the exact name; for several service accounts set match to "namePrefix" (name prefix) or "namespace" (whole namespace).');
  });

  test('an exact match names the service account', () => {
    expectOnly(role({ serviceAccount: undefined }), 'cluster "prod", serviceAccountRoles[0].serviceAccount = (missing): is missing. Fix: name the service account, or set match to "namespace" to trust all of the namespace.');
  });

  test('a namespace match names no service account', () => {
    expectOnly(role({ match: 'namespace' }), 'cluster "prod", serviceAccountRoles[0].serviceAccount = "api": is set with match "namespace", which trusts every service account of the namespace. Fix: remove serviceAccount, or use match "exact".');
  });

  test('a known match kind', () => {
    expectOnly(role({ match: 'glob' }), 'cluster "prod", serviceAccountRoles[0].match = "glob": is not "exact", "namespace" or "namePrefix". Fix: use "exact" (one service account), "namespace" (all of a namespace) or "namePrefix".');
  });

  test('a Kubernetes namespace name', () => {
    expectOnly(role({ namespace: 'Payments' }), 'cluster "prod", serviceAccountRoles[0].namespace = "Payments": is not a Kubernetes namespace name. Fix: use a DNS label: lowercase letters, digits and hyphens, at most 63 characters.');
  });

  test('the audience is one of the provider\'s', () => {
    expectOnly(role({ audience: 'vault' }), 'cluster "prod", serviceAccountRoles[0].audience = "vault": is not one of the provider\'s audiences ["sts.amazonaws.com"]. Fix: add it to the cluster\'s "audiences" (IAM refuses tokens for unregistered client IDs) or use one of them.');
  });

  test('managed policies are ARNs', () => {
    expectOnly(role({ managedPolicyArns: ['AmazonS3ReadOnlyAccess'] }), 'cluster "prod", serviceAccountRoles[0].managedPolicyArns[0] = "AmazonS3ReadOnlyAccess": is not an IAM managed policy ARN. Fix: give e.g. "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" or "arn:aws:iam::123456789012:policy/MyPolicy".');
  });

  test('inline statements carry no Principal', () => {
    expectOnly(role({ inlinePolicyStatements: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Principal: '*' }] }),
      'cluster "prod", serviceAccountRoles[0].inlinePolicyStatements[0] = {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Principal":"*"}: has a Principal. Fix: remove Principal: the statement is attached to the role itself.');
  });

  test('inline statements name actions', () => {
    expectOnly(role({ inlinePolicyStatements: [{ Effect: 'Allow', Resource: '*' }] }),
      'cluster "prod", serviceAccountRoles[0].inlinePolicyStatements[0] = {"Effect":"Allow","Resource":"*"}: has no Action. Fix: give exactly one of Action or NotAction, e.g. "Action": ["s3:GetObject"].');
  });
});

describe('validateConfig: rotation and sync', () => {
  test('grace period covers at least an hour', () => {
    expectOnly((c) => { c.rotation = { gracePeriodSeconds: 60 }; }, 'cluster "prod", rotation.gracePeriodSeconds = 60: is out of range (3600 to 31622400). Fix: give seconds between 3600 (1 h, the default token lifetime) and 31622400 (366 days); it must cover the longest token lifetime the cluster issues.');
  });

  test('schedule is whole minutes', () => {
    expectOnly((c) => { c.sync = { scheduleMinutes: 2.5 }; }, 'cluster "prod", sync.scheduleMinutes = 2.5: must be a whole number. Fix: give whole minutes between 1 and 60.');
  });

  test('cache max-age over an hour is refused with the reason', () => {
    expectOnly((c) => { c.sync = { cacheMaxAgeSeconds: 604800 }; }, 'cluster "prod", sync.cacheMaxAgeSeconds = 604800: is more than 3600 seconds: verifiers and CloudFront would keep serving an old JWKS that long and refuse tokens signed by a new key. Fix: use at most 3600 (default 300).');
  });
});

describe('validateConfig: Verify API', () => {
  const verify = (change: Json) => (c: Json) => { c.verifyApi = { audiences: ['verify.prod.example.com'], ...change }; };
  const sharedFix = 'Fix: use an audience dedicated to the Verify API in the pods\' projected tokens (e.g. "verify.example.com"), or set verifyApi.allowSharedAudiences to true to accept the risk.';

  test('an enabled API lists audiences', () => {
    expectOnly(verify({ audiences: [] }), 'cluster "prod", verifyApi.audiences = []: lists no audience while the Verify API is enabled. Fix: list the audiences callers may verify (e.g. ["verify.prod.example.com"]), or set verifyApi.enabled to false.');
  });

  test('not the STS audience', () => {
    expectOnly(verify({ audiences: ['sts.amazonaws.com'] }), `cluster "prod", verifyApi.audiences[0] = "sts.amazonaws.com": is the AWS STS audience: a service accepting it can be handed any token meant for AWS. ${sharedFix}`);
  });

  test('not another client ID of the IAM provider', () => {
    expectOnly((c) => { c.audiences = ['sts.amazonaws.com', 'irsa.internal']; verify({ audiences: ['irsa.internal'] })(c); },
      `cluster "prod", verifyApi.audiences[0] = "irsa.internal": is a client ID of the IAM provider: a service accepting it can be handed any token meant for AWS. ${sharedFix}`);
  });

  test('not the API server\'s default audience (the issuer)', () => {
    expectOnly((c) => { c.issuer = CUSTOM_ISSUER; verify({ audiences: ['https://oidc.example.com/cluster-a'] })(c); },
      `cluster "prod", verifyApi.audiences[0] = "https://oidc.example.com/cluster-a": is an API-server audience: a service accepting it can be handed tokens meant for the Kubernetes API. ${sharedFix}`);
  });

  test('not an explicit API-server audience', () => {
    expectOnly((c) => { c.apiServerAudiences = ['https://kubernetes.default.svc']; verify({ audiences: ['https://kubernetes.default.svc'] })(c); },
      `cluster "prod", verifyApi.audiences[0] = "https://kubernetes.default.svc": is an API-server audience: a service accepting it can be handed tokens meant for the Kubernetes API. ${sharedFix}`);
  });

  test('not a CloudFront issuer URL when the issuer is the default domain', () => {
    expectOnly(verify({ audiences: ['https://d111111abcdef8.cloudfront.net'] }),
      `cluster "prod", verifyApi.audiences[0] = "https://d111111abcdef8.cloudfront.net": looks like the CloudFront issuer URL, kube-apiserver's default API audience. ${sharedFix}`);
  });

  test('default audiences are a subset', () => {
    expectOnly(verify({ defaultAudiences: ['other.example.com'] }), 'cluster "prod", verifyApi.defaultAudiences[0] = "other.example.com": is not in verifyApi.audiences. Fix: default audiences must be a subset of verifyApi.audiences.');
  });

  test('caller bindings need IAM authorization', () => {
    expectOnly(verify({ callerAudiences: { 'arn:aws:iam::123456789012:role/Billing': ['verify.prod.example.com'] } }),
      'cluster "prod", verifyApi.callerAudiences = {"arn:aws:iam::123456789012:role/Billing":["verify.prod.example.com"]}: needs verifyApi.iamAuth: without IAM authorization the caller is unknown. Fix: set verifyApi.iamAuth to true, or remove callerAudiences.');
  });

  test('caller roles are named without a path (sessions do not carry it)', () => {
    expectOnly(verify({ iamAuth: true, callerAudiences: { 'arn:aws:iam::123456789012:role/teams/Billing': ['verify.prod.example.com'] } }),
      'cluster "prod", verifyApi.callerAudiences["arn:aws:iam::123456789012:role/teams/Billing"] = ["verify.prod.example.com"]: is a role ARN with a path, which assumed-role sessions do not carry. Fix: key the entry by arn:aws:iam::ACCOUNT:role/NAME, without the path.');
  });

  test('caller audiences are verify audiences', () => {
    expectOnly(verify({ iamAuth: true, callerAudiences: { 'arn:aws:iam::123456789012:role/Billing': ['billing'] } }),
      'cluster "prod", verifyApi.callerAudiences["arn:aws:iam::123456789012:role/Billing"][0] = "billing": is not in verifyApi.audiences. Fix: add it to verifyApi.audiences or remove it here.');
  });

  test('throttle within API Gateway limits', () => {
    expectOnly(verify({ throttle: { burstLimit: 0 } }), 'cluster "prod", verifyApi.throttle.burstLimit = 0: is out of range (1 to 5000). Fix: give a whole number of requests between 1 and 5000.');
  });

  test('unknown-kid cooldown of at least 30 s', () => {
    expectOnly(verify({ unknownKidCooldownSeconds: 1 }), 'cluster "prod", verifyApi.unknownKidCooldownSeconds = 1: is out of range (30 to 3600). Fix: give whole seconds between 30 and 3600: a shorter cooldown lets a flood of random kids cause a key fetch per request.');
  });

  test('stale window at least the key TTL', () => {
    expectOnly(verify({ keysTtlSeconds: 600, staleWindowSeconds: 300 }), 'cluster "prod", verifyApi.staleWindowSeconds = 300: is shorter than keysTtlSeconds (600). Fix: make the stale window at least as long as the key cache TTL.');
  });

  test('clock skew within 5 minutes', () => {
    expectOnly(verify({ clockSkewSeconds: 3600 }), 'cluster "prod", verifyApi.clockSkewSeconds = 3600: is out of range (0 to 300). Fix: give whole seconds between 0 and 300.');
  });
});

describe('validateConfig: issuer site', () => {
  test('document writers are IAM principal ARNs', () => {
    expectOnly((c) => { c.issuerSite = { documentWriterArns: ['BreakGlass'] }; }, 'cluster "prod", issuerSite.documentWriterArns[0] = "BreakGlass": is not an IAM role, user or account-root ARN. Fix: give e.g. "arn:aws:iam::123456789012:role/BreakGlass".');
  });

  test('error caching is whole seconds up to 5 minutes', () => {
    expectOnly((c) => { c.issuerSite = { errorCachingTtlSeconds: -1 }; }, 'cluster "prod", issuerSite.errorCachingTtlSeconds = -1: is out of range (0 to 300). Fix: give whole seconds between 0 and 300.');
  });
});

describe('validateConfig: per-route throttles', () => {
  test('only the three routes', () => {
    expectOnly((c) => { c.verifyApi = { audiences: ['verify.prod.example.com'], routeThrottles: { verfy: { rateLimit: 1, burstLimit: 1 } } }; },
      'cluster "prod", verifyApi.routeThrottles.verfy = {"rateLimit":1,"burstLimit":1}: is not a known field. Fix: did you mean "verify"?.');
  });

  test('within API Gateway limits', () => {
    expectOnly((c) => { c.verifyApi = { audiences: ['verify.prod.example.com'], routeThrottles: { auth: { rateLimit: 0, burstLimit: 1 } } }; },
      'cluster "prod", verifyApi.routeThrottles.auth.rateLimit = 0: is out of range (1 to 10000). Fix: give requests per second between 1 and 10000.');
  });
});

describe('validateConfig: alarms', () => {
  test('emails are addresses', () => {
    expectOnly((c) => { c.alarms = { emails: ['oncall'] }; }, 'cluster "prod", alarms.emails[0] = "oncall": is not an e-mail address. Fix: give e.g. "oncall@example.com".');
  });
});
