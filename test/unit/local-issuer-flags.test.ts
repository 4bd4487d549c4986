/** How `local` binds --key-file and --jwks-url values to issuers (cli/local-mode.ts bindLocalIssuers). */
import { bindLocalIssuers, LocalModeSetupError } from '../../cli/local-mode';

const A = 'https://oidc.example.com/clusters/a';
const B = 'http://127.0.0.1:8787/clusters/b';

describe('bindLocalIssuers', () => {
  it('keeps the single-issuer form when nothing is bound', () => {
    expect(bindLocalIssuers({ issuers: [], keyFiles: ['sa.pub'], jwksUrls: [] })).toEqual({ issuer: undefined, keyFiles: ['sa.pub'], jwksUrl: undefined });
    expect(bindLocalIssuers({ issuers: [A], keyFiles: [], jwksUrls: ['https://api:6443/openid/v1/jwks?a=b'] })).toEqual({ issuer: A, keyFiles: [], jwksUrl: 'https://api:6443/openid/v1/jwks?a=b' });
  });

  it('reads a value starting with http(s):// as ISSUER=PATH split at its first "=", and any other value as a path', () => {
    expect(bindLocalIssuers({ issuers: [A, B], keyFiles: [`${A}=a=1.pub`, `${B}=/keys/b.pub`], jwksUrls: [] })).toEqual({
      issuers: [{ issuer: A, keyFiles: ['a=1.pub'] }, { issuer: B, keyFiles: ['/keys/b.pub'] }],
    });
    // A path holding "=" is a path, for the one issuer.
    expect(bindLocalIssuers({ issuers: [A], keyFiles: ['keys/x=y.pub', `${A}=a.pub`], jwksUrls: [] })).toEqual({ issuers: [{ issuer: A, keyFiles: ['a.pub', 'keys/x=y.pub'] }] });
  });

  it('binds a JWKS URL only when both sides are http(s) URLs and the issuer side has no query', () => {
    expect(bindLocalIssuers({ issuers: [A, B], keyFiles: [`${A}=a.pub`], jwksUrls: [`${B}=https://api:6443/openid/v1/jwks?x=y`] })).toEqual({
      issuers: [{ issuer: A, keyFiles: ['a.pub'] }, { issuer: B, keyFiles: [], jwksUrl: 'https://api:6443/openid/v1/jwks?x=y' }],
    });
    expect(() => bindLocalIssuers({ issuers: [A, B], keyFiles: [], jwksUrls: ['https://api:6443/jwks?issuer=https://x'] })).toThrow(/names no issuer/);
  });

  it.each([
    ['a binding without a file', { issuers: [A], keyFiles: [A], jwksUrls: [] }, /ISSUER=PATH/],
    ['a binding with an empty file', { issuers: [A], keyFiles: [`${A}=`], jwksUrls: [] }, /names no file/],
    ['a plain path with two issuers', { issuers: [A, B], keyFiles: ['sa.pub'], jwksUrls: [] }, /names no issuer, and 2 issuers are given/],
    ['an issuer not listed', { issuers: [A], keyFiles: [`${B}=b.pub`], jwksUrls: [] }, /not given with --issuer \(given: /],
    ['a trailing slash', { issuers: [A], keyFiles: [`${A}/=a.pub`], jwksUrls: [] }, /not given with --issuer/],
    ['an issuer given twice', { issuers: [A, A], keyFiles: [], jwksUrls: [] }, /given twice/],
    ['two JWKS URLs for one issuer', { issuers: [A, B], keyFiles: [], jwksUrls: [`${A}=https://x/1`, `${A}=https://x/2`] }, /2 times for issuer/],
  ])('refuses %s', (_why, flags, message) => {
    expect(() => bindLocalIssuers(flags)).toThrow(LocalModeSetupError);
    expect(() => bindLocalIssuers(flags)).toThrow(message);
  });
});
