/**
 * The places a sync reads the cluster's public keys from. Each source either answers with what
 * it holds (keys plus the inputs it had to skip) or throws: a throw is an outage, which keeps
 * that source's keys published rather than dropping them.
 */
import { KeyProblem, parseKeyMaterial, ParsedKey } from '../core/keys';
import type { ObjectStore } from './object-store';
import { httpGet, HttpGetOptions, HttpResponse } from './http-client';

/** What a healthy source holds. */
export interface SourceReading {
  readonly keys: ParsedKey[];
  readonly problems: KeyProblem[];
  /** Inputs that held private key material and were refused: a leak to alarm on. */
  readonly privateKeyInputs: string[];
}

/** A named place keys come from. */
export interface KeySource {
  /** Stable id, recorded in the rotation state (`upload`, `cluster-jwks`, `config`). */
  readonly id: string;
  read(): Promise<SourceReading>;
}

/**
 * Objects larger than this under the key prefix are skipped, by the size the listing gives, before
 * anything is downloaded: no key file is that big, and reading one whole would let anyone who can
 * upload exhaust the sync's memory and time.
 */
export const MAX_KEY_OBJECT_BYTES = 256 * 1024;

/**
 * Keys uploaded under a prefix of the private bucket. Whoever can write there can mint tokens
 * for every role, so private key material found there is refused, never used.
 */
export function uploadedKeysSource(store: ObjectStore, prefix: string): KeySource {
  return {
    id: 'upload',
    async read() {
      const reading: SourceReading = { keys: [], problems: [], privateKeyInputs: [] };
      for (const { key, size } of await store.listEntries(prefix)) {
        if (key.endsWith('/')) continue;
        const source = `${store.location}/${key}`;
        if (size > MAX_KEY_OBJECT_BYTES) {
          reading.problems.push({ source, reason: `${size} bytes, larger than ${MAX_KEY_OBJECT_BYTES}: not a key file, skipped without reading it` });
          continue;
        }
        const object = await store.get(key);
        if (!object) continue; // deleted between list and get
        // Replaced by a larger object between list and get: still refused.
        if (Buffer.byteLength(object.body) > MAX_KEY_OBJECT_BYTES) {
          reading.problems.push({ source, reason: `larger than ${MAX_KEY_OBJECT_BYTES} bytes: not a key file` });
          continue;
        }
        addPublicOnly(reading, parseKeyMaterial(object.body, source));
      }
      return reading;
    },
  };
}

/** Settings of the cluster's own JWKS endpoint. */
export interface ClusterJwksSettings {
  /** `https://APISERVER/openid/v1/jwks`. */
  readonly url: string;
  /** CA bundle of the API server's certificate. */
  readonly caPem?: string;
  /** Reads the bearer token fresh for each run (bound tokens expire). */
  readonly bearerToken?: () => Promise<string | undefined>;
  readonly timeoutMs?: number;
  /** For local mode and tests only: plain http to a loopback address. */
  readonly allowHttp?: boolean;
  /** Replaces the HTTP client, for tests of faults a real server cannot make. */
  readonly get?: (url: string, options: HttpGetOptions) => Promise<HttpResponse>;
}

/**
 * kube-apiserver's `/openid/v1/jwks`. A non-200 answer, a body that is not a JWKS, or a JWKS with
 * no usable key is an outage of this source, never "the cluster has no keys".
 */
export function clusterJwksSource(settings: ClusterJwksSettings): KeySource {
  const get = settings.get ?? httpGet;
  return {
    id: 'cluster-jwks',
    async read() {
      const bearerToken = settings.bearerToken ? await settings.bearerToken() : undefined;
      const response = await get(settings.url, { caPem: settings.caPem, bearerToken, timeoutMs: settings.timeoutMs ?? 5000, allowHttp: settings.allowHttp });
      if (response.status !== 200) throw new Error(`${settings.url} answered HTTP ${response.status}`);
      if (!response.body.trim().startsWith('{')) throw new Error(`${settings.url} did not return JSON (content-type ${response.headers['content-type'] ?? 'none'})`);
      const result = parseKeyMaterial(response.body, settings.url);
      if (result.keys.length === 0) throw new Error(`${settings.url} returned no usable key: ${result.problems.map((p) => p.reason).join('; ')}`);
      const reading: SourceReading = { keys: [], problems: [], privateKeyInputs: [] };
      addPublicOnly(reading, result);
      return reading;
    },
  };
}

/**
 * Keys given in the cluster configuration, converted to a JWKS at synth time, so the first
 * deploy publishes a working issuer with no extra step.
 */
export function configKeysSource(jwksJson: string): KeySource {
  return {
    id: 'config',
    async read() {
      const reading: SourceReading = { keys: [], problems: [], privateKeyInputs: [] };
      addPublicOnly(reading, parseKeyMaterial(jwksJson, 'cluster configuration'));
      return reading;
    },
  };
}

/**
 * The config key source, or `undefined` when the configuration lists no key (an upload-only or
 * cluster-endpoint-only setup): a source that is not configured is not a failing source, and must
 * not report "JWKS has no keys" on every run. Text that is not an empty key set still gives the
 * source, so that a malformed value is reported.
 */
export function configKeysSourceIfAny(jwksJson: string | undefined): KeySource | undefined {
  if (jwksJson === undefined || jwksJson.trim() === '') return undefined;
  try {
    const value = JSON.parse(jwksJson) as { keys?: unknown };
    if (Array.isArray(value.keys) && value.keys.length === 0) return undefined;
  } catch {
    // Reported by the source itself.
  }
  return configKeysSource(jwksJson);
}

function addPublicOnly(reading: SourceReading, result: { keys: ParsedKey[]; problems: KeyProblem[] }): void {
  reading.problems.push(...result.problems);
  for (const key of result.keys) {
    if (key.fromPrivateKey) {
      reading.privateKeyInputs.push(key.source);
      reading.problems.push({ source: key.source, reason: 'private key material refused: upload only the public key (`openssl pkey -pubout`), and treat this key as leaked' });
    } else {
      reading.keys.push(key);
    }
  }
}
