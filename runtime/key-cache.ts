/**
 * The verifier's key set, cached across requests (and across invocations of a warm Lambda):
 * - loaded on first use, refreshed when older than the TTL;
 * - an unknown kid triggers at most one refetch per cooldown, however many requests carry one,
 *   so a flood of random kids cannot turn into a flood of fetches;
 * - one fetch in flight at a time, shared by every waiting request;
 * - when the store is unreachable, the last good set keeps serving for the stale window, then
 *   `current()` answers `undefined` (the API's 503) until the store is back.
 */
import { parseDenyList } from '../core/deny-list';
import { createVerifier, Verifier, VerifierPolicy } from '../core/verifier';
import type { KeySetProvider } from '../core/verify-api';

/** Where the key set comes from, and the timings. */
export interface KeyCacheOptions {
  /** Reads the published JWKS text; rejects when the store is unreachable. */
  readonly loadJwks: () => Promise<string | undefined>;
  /** Reads the deny list text (`undefined`: none exists). */
  readonly loadDenyList: () => Promise<string | undefined>;
  readonly policy: VerifierPolicy;
  /** Milliseconds now. */
  readonly nowMs: () => number;
  /** @default 60 */
  readonly ttlSeconds?: number;
  /** @default 30 */
  readonly unknownKidCooldownSeconds?: number;
  /** @default 900 */
  readonly staleWindowSeconds?: number;
  /** Told about each fetch, for logs and tests. */
  readonly onFetch?: (event: { ok: boolean; reason: 'initial' | 'ttl' | 'unknown_kid'; error?: string }) => void;
}

/** A {@link KeySetProvider} over a store, with TTL, cooldown and stale window. */
export class KeyCache implements KeySetProvider {
  private verifier?: Verifier;
  private loadedAtMs?: number;
  private lastAttemptMs = Number.NEGATIVE_INFINITY;
  private lastUnknownKidFetchMs = Number.NEGATIVE_INFINITY;
  private inFlight?: Promise<boolean>;
  private readonly ttlMs: number;
  private readonly cooldownMs: number;
  private readonly staleMs: number;

  constructor(private readonly options: KeyCacheOptions) {
    this.ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.cooldownMs = (options.unknownKidCooldownSeconds ?? 30) * 1000;
    this.staleMs = (options.staleWindowSeconds ?? 900) * 1000;
  }

  /** The verifier for the current key set, or `undefined` when none is usable. */
  async current(): Promise<Verifier | undefined> {
    const now = this.options.nowMs();
    const expired = this.loadedAtMs === undefined || now - this.loadedAtMs >= this.ttlMs;
    if (this.inFlight) {
      // Requests that arrive while a fetch runs wait for it (a cold start must not answer 503).
      await this.inFlight;
    } else if (expired && now - this.lastAttemptMs >= Math.min(this.cooldownMs, this.ttlMs)) {
      // After a failed fetch, wait a cooldown before the next one: a down store must not be hammered.
      await this.fetch(this.verifier ? 'ttl' : 'initial');
    }
    return this.usable(this.options.nowMs());
  }

  /**
   * Called when a token's kid is not in the set: refetches at most once per cooldown (the new key
   * may have just been published) and returns the new verifier, or `undefined` when no refetch
   * happened or it failed.
   */
  async refreshForUnknownKid(_kid: string): Promise<Verifier | undefined> {
    const now = this.options.nowMs();
    if (now - this.lastUnknownKidFetchMs < this.cooldownMs) return undefined;
    this.lastUnknownKidFetchMs = now;
    const ok = await this.fetch('unknown_kid');
    return ok ? this.usable(this.options.nowMs()) : undefined;
  }

  /** Milliseconds since the last successful load, for metrics (`undefined`: never loaded). */
  ageMs(): number | undefined {
    return this.loadedAtMs === undefined ? undefined : this.options.nowMs() - this.loadedAtMs;
  }

  private usable(now: number): Verifier | undefined {
    if (!this.verifier || this.loadedAtMs === undefined) return undefined;
    return now - this.loadedAtMs <= this.staleMs ? this.verifier : undefined;
  }

  private fetch(reason: 'initial' | 'ttl' | 'unknown_kid'): Promise<boolean> {
    if (!this.inFlight) {
      this.lastAttemptMs = this.options.nowMs();
      this.inFlight = this.load(reason).finally(() => { this.inFlight = undefined; });
    }
    return this.inFlight;
  }

  private async load(reason: 'initial' | 'ttl' | 'unknown_kid'): Promise<boolean> {
    try {
      const [jwksText, denyText] = await Promise.all([this.options.loadJwks(), this.options.loadDenyList()]);
      if (jwksText === undefined) throw new Error('no published JWKS yet');
      const jwks = JSON.parse(jwksText) as { keys?: unknown };
      if (!Array.isArray(jwks.keys)) throw new Error('published JWKS has no "keys" array');
      const denyList = denyText === undefined ? undefined : parseDenyList(denyText);
      this.verifier = createVerifier({ keys: jwks.keys }, this.options.policy, denyList);
      this.loadedAtMs = this.options.nowMs();
      this.options.onFetch?.({ ok: true, reason });
      return true;
    } catch (err) {
      // A half-read set (keys without the deny list) is never installed: the last good one stays.
      this.options.onFetch?.({ ok: false, reason, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }
}
