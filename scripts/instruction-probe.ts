/**
 * Run by `npm run bench -- --instructions` under valgrind (bundled by esbuild first): verifies
 * tokens from a file with raw node:crypto or with the verify core. Two runs that differ only in
 * the number of measured verifications give, by subtraction, the instructions of one
 * verification, without start-up, key import or JIT warm-up.
 *
 * Usage: node instruction-probe.js TOKENS_JSON raw|core|reloaded|fleet WARMUP COUNT
 * (reloaded: the verify core as the Verify API's key cache runs it after its first refresh, a
 * second verifier built for the same keys; fleet: the verify core behind core/trusted-issuers.ts
 * with 100 trusted issuers, the tokens' issuer among them)
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PublicJwk } from '../core/keys';
import { createFleetVerifier } from '../core/trusted-issuers';
import { createVerifier } from '../core/verifier';
import { rawVerifier } from './raw-verifier';

/** The file the benchmark writes for the probe. */
export interface ProbeInput {
  readonly alg: 'RS256' | 'ES256';
  readonly jwk: PublicJwk;
  readonly issuer: string;
  readonly audience: string;
  readonly now: number;
  readonly tokens: readonly string[];
}

function main(): void {
  const [file, mode, warmupText, countText] = process.argv.slice(2);
  const input = JSON.parse(readFileSync(file, 'utf8')) as ProbeInput;
  const warmup = Number(warmupText);
  const count = Number(countText);
  if (input.tokens.length < warmup + count) throw new Error(`${file} has ${input.tokens.length} tokens, fewer than ${warmup + count}`);
  let verify: (token: string) => boolean;
  if (mode === 'raw') {
    verify = rawVerifier(input.alg, createPublicKey({ key: input.jwk as never, format: 'jwk' }), input);
  } else if (mode === 'fleet') {
    const members = Array.from({ length: 100 }, (_, index) => ({
      verifier: createVerifier({ keys: [input.jwk] }, { issuer: index === 57 ? input.issuer : `${input.issuer}/fleet-${index}`, allowedAudiences: [input.audience] }),
      cluster: `c${index}`,
    }));
    const fleet = createFleetVerifier(members);
    verify = (token) => fleet.verify(token, { now: input.now }).ok;
  } else if (mode === 'reloaded') {
    // V8 specializes a closure's optimized code to its context while it is the only closure of
    // its kind: building a second verifier (as every key-cache refresh does) ends that.
    createVerifier({ keys: [input.jwk] }, { issuer: input.issuer, allowedAudiences: [input.audience] });
    const core = createVerifier({ keys: [input.jwk] }, { issuer: input.issuer, allowedAudiences: [input.audience] });
    verify = (token) => core.verify(token, { now: input.now }).ok;
  } else {
    const core = createVerifier({ keys: [input.jwk] }, { issuer: input.issuer, allowedAudiences: [input.audience] });
    verify = (token) => core.verify(token, { now: input.now }).ok;
  }
  for (let i = 0; i < warmup + count; i += 1) {
    if (!verify(input.tokens[i])) throw new Error(`token ${i} was refused by ${mode}`);
  }
}

main();
