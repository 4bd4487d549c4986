/**
 * The key sets of several trusted issuers behind one Verify API: one {@link KeyCache} per issuer
 * (its own TTL, unknown-kid cooldown, single flight and stale window), behind the core's issuer
 * router (core/trusted-issuers.ts), which picks a token's cache by its `iss` alone.
 *
 * Nothing is fetched at start (which only checks each issuer's policy): an issuer's cache is built,
 * and its keys and deny list first read, when the first token naming it arrives, so a cold start
 * pays only for the issuers whose tokens come in, and a token naming an issuer that is not
 * configured is refused without any fetch. An issuer whose keys cannot be loaded answers 503 for
 * its own tokens only, once its stale window has passed; every other issuer keeps its own cache
 * and keeps answering.
 */
import { createIssuerRouter, type IssuerRouter, type TrustedIssuerKeys } from '../core/trusted-issuers';
import { validateVerifierPolicy, type Verifier, type VerifierPolicy } from '../core/verifier';
import type { KeySetProvider } from '../core/verify-api';
import { KeyCache } from './key-cache';

/** One trusted issuer: its names, its policy and where its keys and deny list come from. */
export interface TrustedIssuerSource {
  /** The configured cluster name, given in answers (`cluster`). */
  readonly cluster?: string;
  /** The issuer's policy; `policy.issuer` is the issuer, byte for byte as in `iss`. */
  readonly policy: VerifierPolicy;
  /** Reads the issuer's JWKS text; rejects when it cannot be read. */
  readonly loadJwks: () => Promise<string | undefined>;
  /** Reads the issuer's deny list text (`undefined`: none). */
  readonly loadDenyList: () => Promise<string | undefined>;
  /** @default 60 */
  readonly ttlSeconds?: number;
  /** @default 30 */
  readonly unknownKidCooldownSeconds?: number;
  /** @default 900 */
  readonly staleWindowSeconds?: number;
}

/** Options of {@link createIssuerKeyCaches}. */
export interface IssuerKeyCachesOptions {
  /** Milliseconds now. */
  readonly nowMs: () => number;
  /** Told about each fetch of each issuer, for logs and tests. */
  readonly onFetch?: (event: { issuer: string; cluster?: string; ok: boolean; reason: 'initial' | 'ttl' | 'unknown_kid'; error?: string }) => void;
}

/** The router the Verify API takes as its `keys`, plus each issuer's cache for metrics and tests. */
export interface IssuerKeyCaches extends IssuerRouter<TrustedIssuerKeys> {
  /** The cache of one configured issuer, built now if no token has named it yet (`undefined` for any other string). */
  cacheOf(issuer: string): KeyCache | undefined;
}

/**
 * One key cache per trusted issuer, behind the issuer router.
 *
 * @throws TypeError when an issuer is configured twice, a cluster name is shared, or a policy is
 * invalid (configuration errors, found at start rather than on the first token)
 */
export function createIssuerKeyCaches(sources: readonly TrustedIssuerSource[], options: IssuerKeyCachesOptions): IssuerKeyCaches {
  const caches = new Map<string, IssuerKeys>();
  const entries: TrustedIssuerKeys[] = sources.map((source) => {
    // Checks the policy now (it throws on a bad one): the cache would only meet it at the first load.
    try {
      validateVerifierPolicy(source.policy);
    } catch (err) {
      throw new TypeError(`trusted issuer ${JSON.stringify(source.policy?.issuer)}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const keys = new IssuerKeys(source, options);
    caches.set(keys.issuer, keys);
    return source.cluster === undefined ? { issuer: keys.issuer, keys } : { issuer: keys.issuer, cluster: source.cluster, keys };
  });
  const maxTokenBytes = Math.max(...sources.map((source) => source.policy.maxTokenBytes ?? 16_384));
  const router = createIssuerRouter(entries, { maxTokenBytes });
  return { route: router.route, issuers: router.issuers, cacheOf: (issuer) => caches.get(issuer)?.cache() };
}

/** One issuer's key set: its {@link KeyCache} is built on the first token naming the issuer. */
class IssuerKeys implements KeySetProvider {
  readonly issuer: string;
  private keyCache?: KeyCache;

  constructor(private readonly source: TrustedIssuerSource, private readonly options: IssuerKeyCachesOptions) {
    this.issuer = source.policy.issuer;
  }

  current(): Promise<Verifier | undefined> {
    return this.cache().current();
  }

  refreshForUnknownKid(kid: string): Promise<Verifier | undefined> {
    return this.cache().refreshForUnknownKid(kid);
  }

  /** The issuer's cache, the same one for good once built. */
  cache(): KeyCache {
    if (this.keyCache === undefined) {
      const { source, options, issuer } = this;
      this.keyCache = new KeyCache({
        loadJwks: source.loadJwks,
        loadDenyList: source.loadDenyList,
        policy: source.policy,
        nowMs: options.nowMs,
        ttlSeconds: source.ttlSeconds,
        unknownKidCooldownSeconds: source.unknownKidCooldownSeconds,
        staleWindowSeconds: source.staleWindowSeconds,
        onFetch: options.onFetch === undefined ? undefined : (event) => options.onFetch?.({ issuer, ...(source.cluster !== undefined ? { cluster: source.cluster } : {}), ...event }),
      });
    }
    return this.keyCache;
  }
}
