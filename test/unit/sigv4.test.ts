/**
 * The verifier Lambda's SigV4 signer: AWS's published S3 example, and agreement with the `aws4`
 * package (kept as a dev dependency for this comparison) on generated requests.
 */
import aws4 from 'aws4';
import fc from 'fast-check';
import { encodeS3Key, signRequestV4 } from '../../runtime/sigv4';

const EXAMPLE_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('SigV4 signing', () => {
  it('signs the GET Object example of the S3 documentation to the published signature', () => {
    // docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "Example: GET Object".
    const headers = signRequestV4(
      { method: 'GET', host: 'examplebucket.s3.amazonaws.com', path: '/test.txt', region: 'us-east-1', service: 's3', headers: { Range: 'bytes=0-9' } },
      EXAMPLE_CREDENTIALS,
      new Date('2013-05-24T00:00:00Z'),
    );
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(headers).toMatchObject({ host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-date': '20130524T000000Z' });
  });

  it('signs as aws4 does for any bucket, key, region, credentials and time', () => {
    const keySegment = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'Z', '0', '-', '_', '.', '~', ' ', '+', '!', "'", '(', ')', '*', '%', '=', '&', ':', 'é', '€'), fc.constant('😀')), minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(
        fc.constantFrom('docs-bucket', 'kube-oidc-private-1a2b', 'a.b.c'),
        fc.array(keySegment, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-2'),
        fc.option(fc.string({ unit: fc.constantFrom('A', 'b', '9', '/', '+', '='), minLength: 1, maxLength: 40 }), { nil: undefined }),
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.constantFrom(undefined, '127.0.0.1:50123'),
        (bucket, segments, region, sessionToken, date, endpointHost) => {
          const path = endpointHost === undefined ? `/${encodeS3Key(segments.join('/'))}` : `/${bucket}/${encodeS3Key(segments.join('/'))}`;
          const host = endpointHost ?? `${bucket}.s3.${region}.amazonaws.com`;
          const credentials = { ...EXAMPLE_CREDENTIALS, ...(sessionToken !== undefined ? { sessionToken } : {}) };
          const whole = new Date(Math.floor(date.getTime() / 1000) * 1000);
          const ours = signRequestV4({ method: 'GET', host, path, region, service: 's3' }, credentials, whole);
          const amzDate = whole.toISOString().replace(/[-:]|\.\d{3}/g, '');
          const theirs = aws4.sign({ service: 's3', region, method: 'GET', host, path, headers: { 'X-Amz-Date': amzDate } }, credentials);
          expect(ours.authorization).toBe(theirs.headers?.Authorization);
          expect(ours['x-amz-security-token']).toBe(theirs.headers?.['X-Amz-Security-Token']);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes a key per segment in RFC 3986, keeping its slashes', () => {
    expect(encodeS3Key('openid/v1/jwks')).toBe('openid/v1/jwks');
    expect(encodeS3Key("keys/a b+(c)!*'.pem")).toBe('keys/a%20b%2B%28c%29%21%2A%27.pem');
    expect(encodeS3Key('é/€')).toBe('%C3%A9/%E2%82%AC');
  });
});
