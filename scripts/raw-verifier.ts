/**
 * The benchmarks' ceiling: raw `node:crypto` verification of a compact JWS plus the minimal claim
 * checks (exp, iss, aud), with none of the verify core's rules. Shared by `npm run bench` and the
 * instruction-count probe so both measure the same baseline.
 */
import { KeyObject, verify as cryptoVerify } from 'node:crypto';

/** What the raw loop compares the claims with. */
export interface RawExpectations {
  readonly issuer: string;
  readonly audience: string;
  /** Epoch seconds. */
  readonly now: number;
}

/** Split, one-shot verify, parse the payload, check exp/iss/aud. */
export function rawVerifier(alg: 'RS256' | 'ES256', publicKey: KeyObject, expected: RawExpectations): (token: string) => boolean {
  const key = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  const { issuer, audience, now } = expected;
  return (token) => {
    const dot2 = token.lastIndexOf('.');
    const dot1 = token.indexOf('.');
    if (!cryptoVerify('sha256', Buffer.from(token.slice(0, dot2)), key, Buffer.from(token.slice(dot2 + 1), 'base64url'))) return false;
    const claims = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString()) as { exp: number; iss: string; aud: string[] };
    return claims.exp > now && claims.iss === issuer && claims.aud.includes(audience);
  };
}
