/**
 * The two public OIDC discovery documents, exactly as kube-apiserver serves them.
 *
 * Both are serialized canonically (fixed member order, keys sorted by kid) so that the same key
 * set always gives the same bytes: change detection is then a hash comparison.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html
 * @see kubernetes/pkg/serviceaccount/openidmetadata.go
 */
import { createHash } from 'node:crypto';
import type { PublicJwk, SigningAlg } from './keys';

/** Path of the discovery document below the issuer, as OIDC Discovery 1.0 fixes it. */
export const DISCOVERY_PATH = '/.well-known/openid-configuration';
/** Path of the JWKS below the issuer, the same one kube-apiserver serves. */
export const JWKS_PATH = '/openid/v1/jwks';
/**
 * A second copy of the JWKS, byte for byte: OAuth2-Proxy falls back to `ISSUER/.well-known/jwks.json`
 * when discovery of an extra JWT issuer fails, and then refuses every token until restarted unless
 * that URL answers.
 */
export const JWKS_ALIAS_PATH = '/.well-known/jwks.json';

/**
 * The most keys of each type the published JWKS may hold. AWS IAM, "Create an OpenID Connect (OIDC)
 * identity provider in IAM" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html):
 * the JWKS "must contain at least one key and can have a maximum of 100 RSA keys and 100 EC keys";
 * past that STS cannot find the token's kid. Kid-less duplicates count, as they are keys of the set.
 */
export const MAX_JWKS_KEYS_PER_TYPE: Readonly<Record<PublicJwk['kty'], number>> = { RSA: 100, EC: 100 };

/** A JSON Web Key Set as published: public keys only. */
export interface JwksDocument {
  readonly keys: readonly PublicJwk[];
}

/** The OpenID provider metadata kube-apiserver serves, field for field. */
export interface DiscoveryDocument {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly response_types_supported: readonly ['id_token'];
  readonly subject_types_supported: readonly ['public'];
  readonly id_token_signing_alg_values_supported: readonly SigningAlg[];
}

/** Where the two documents live, relative to the issuer's origin and as storage object keys. */
export interface DocumentPaths {
  /** URL of the JWKS, the discovery document's `jwks_uri`. */
  readonly jwksUri: string;
  /** URL of the discovery document. */
  readonly discoveryUrl: string;
  /** Object key of the discovery document (issuer path prefix, no leading slash). */
  readonly discoveryKey: string;
  /** Object key of the JWKS. */
  readonly jwksKey: string;
  /** URL of the JWKS copy at `/.well-known/jwks.json` (the same bytes as {@link jwksUri}). */
  readonly jwksAliasUrl: string;
  /** Object key of that copy. */
  readonly jwksAliasKey: string;
}

/**
 * Derives every document location from the one issuer value, so that the discovery document,
 * the object keys and the CloudFront paths cannot disagree.
 */
export function documentPaths(issuer: string): DocumentPaths {
  const pathPrefix = issuerPathPrefix(issuer);
  // OIDC Discovery 1.0 section 4: a terminating "/" is removed before appending, or the URLs
  // would hold "//" and name other objects than the keys below.
  const base = issuer.replace(/\/+$/, '');
  return {
    jwksUri: `${base}${JWKS_PATH}`,
    discoveryUrl: `${base}${DISCOVERY_PATH}`,
    discoveryKey: `${pathPrefix}${DISCOVERY_PATH}`.replace(/^\//, ''),
    jwksKey: `${pathPrefix}${JWKS_PATH}`.replace(/^\//, ''),
    jwksAliasUrl: `${base}${JWKS_ALIAS_PATH}`,
    jwksAliasKey: `${pathPrefix}${JWKS_ALIAS_PATH}`.replace(/^\//, ''),
  };
}

/** The path part of an issuer URL without trailing slash (`''` for a bare origin). */
export function issuerPathPrefix(issuer: string): string {
  const match = /^[a-z]+:\/\/[^/]+(\/.*)?$/i.exec(issuer);
  if (!match) throw new Error(`issuer ${JSON.stringify(issuer)} is not an absolute URL`);
  return (match[1] ?? '').replace(/\/+$/, '');
}

/** Member order of each JWK as go-jose writes it, so our output equals kube-apiserver's. */
const JWK_MEMBER_ORDER: Record<PublicJwk['kty'], readonly (keyof PublicJwk)[]> = {
  RSA: ['use', 'kty', 'kid', 'alg', 'n', 'e'],
  EC: ['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y'],
};

/** Options for building the published key set. */
export interface BuildJwksOptions {
  /**
   * Also publish each key with `kid: ""`, for tokens from clusters before Kubernetes 1.16 which
   * carry no kid (AWS STS treats a missing kid as the empty string).
   * @default false
   */
  readonly includeKidlessDuplicates?: boolean;
}

/**
 * Builds the JWKS from public keys: one entry per kid, sorted by kid, public members only,
 * whatever extra members the input objects carry.
 */
export function buildJwks(keys: readonly PublicJwk[], options: BuildJwksOptions = {}): JwksDocument {
  const byKid = new Map<string, PublicJwk>();
  for (const key of keys) {
    const candidate = canonicalJwk(key);
    const kept = byKid.get(key.kid);
    // Two different keys under one kid (external signers choose kids): keep the same one whatever
    // the input order, so the output stays a function of the key set.
    if (!kept || JSON.stringify(candidate) < JSON.stringify(kept)) byKid.set(key.kid, candidate);
  }
  const sorted = [...byKid.values()].sort((a, b) => compareStrings(a.kid, b.kid));
  const kidless = options.includeKidlessDuplicates ? sorted.map((key) => canonicalJwk({ ...key, kid: '' })) : [];
  return { keys: [...sorted, ...kidless] };
}

/** Serializes a JWKS to its canonical bytes. */
export function serializeJwks(jwks: JwksDocument): string {
  return JSON.stringify({ keys: jwks.keys.map(canonicalJwk) });
}

/** Builds the discovery document kube-apiserver would serve for this issuer and key set. */
export function buildDiscovery(issuer: string, jwks: JwksDocument): DiscoveryDocument {
  const algs = [...new Set(jwks.keys.map((key) => key.alg))].sort(compareStrings);
  return {
    issuer,
    jwks_uri: documentPaths(issuer).jwksUri,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
  };
}

/** Serializes a discovery document to its canonical bytes (kube-apiserver's member order). */
export function serializeDiscovery(doc: DiscoveryDocument): string {
  return JSON.stringify({
    issuer: doc.issuer,
    jwks_uri: doc.jwks_uri,
    response_types_supported: doc.response_types_supported,
    subject_types_supported: doc.subject_types_supported,
    id_token_signing_alg_values_supported: doc.id_token_signing_alg_values_supported,
  });
}

/** Hex SHA-256 of a serialized document, for change detection. */
export function contentHash(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** Copies only the public members of a JWK, in go-jose's member order. */
export function canonicalJwk(key: PublicJwk): PublicJwk {
  const out: Record<string, string> = {};
  for (const member of JWK_MEMBER_ORDER[key.kty]) {
    const value = key[member];
    if (typeof value === 'string') out[member] = value;
  }
  return out as unknown as PublicJwk;
}

/** Code-unit order, independent of locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
