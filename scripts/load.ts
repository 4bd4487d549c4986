/**
 * `npm run load`: local mode's verify route under a bounded load from a second process.
 *
 * This process starts local mode (cli/local-mode.ts, port 0 on 127.0.0.1, a throw-away state
 * folder and demo key) and mints a mix of valid and invalid tokens; a second process (this script
 * again, with `--client`) runs autocannon against POST /verify for a fixed duration, checks every
 * answer against the verdict expected for its token, and reports back. Prints throughput, p50/p99
 * latency, wrong verdicts and 5xx; exits non-zero unless both are 0 (and there were no connection
 * errors or timeouts). Not part of `npm test`: figures depend on the machine.
 *
 * Flags: --duration SECONDS (default 10), --connections N (default 10).
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOCAL_AUDIENCE, mintDemoToken, startLocalMode } from '../cli/local-mode';
import { parseKeyMaterial } from '../core/keys';

/** One request of the mix and the answer it must get. */
interface LoadCase {
  readonly label: string;
  readonly body: string;
  readonly expectStatus: number;
  /** `authenticated` in a 200 answer; absent for non-200 expectations. */
  readonly expectAuthenticated?: boolean;
}

/** What the client process reports. */
interface ClientReport {
  readonly requests: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly wrongVerdicts: number;
  readonly serverErrors: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly byLabel: Record<string, { count: number; wrong: number }>;
  readonly firstWrong?: string;
}

interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  onResponse: (status: number, body: string) => void;
}
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  duration: number;
  errors: number;
  timeouts: number;
  '5xx': number;
}
type Autocannon = (options: Record<string, unknown>, callback: (err: Error | null, result: AutocannonResult) => void) => unknown;

const args = process.argv.slice(2);

function flag(name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`${name} needs a whole number greater than 0, got ${JSON.stringify(args[index + 1])}`);
    process.exit(2);
  }
  return value;
}

/** A kube-shaped token signed byte for byte with node:crypto (claims and header as given). */
function signed(privateKey: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

function kubeClaims(issuer: string, audience: string, iat: number, lifetime = 3600): Record<string, unknown> {
  return {
    aud: [audience],
    exp: iat + lifetime,
    iat,
    iss: issuer,
    jti: randomUUID(),
    'kubernetes.io': { namespace: 'default', node: { name: 'load-node', uid: randomUUID() }, pod: { name: 'load-pod', uid: randomUUID() }, serviceaccount: { name: 'demo', uid: randomUUID() } },
    nbf: iat,
    sub: 'system:serviceaccount:default:demo',
  };
}

/** Valid tokens (several, so that no single cached answer could pass) and one of each refusal. */
async function loadCases(mode: Awaited<ReturnType<typeof startLocalMode>>): Promise<LoadCase[]> {
  const now = Math.floor(Date.now() / 1000);
  const demoKey = createPrivateKey(mode.demoPrivateKeyPem!);
  const kid = parseKeyMaterial(mode.demoPrivateKeyPem!, 'demo key').keys[0].jwk.kid;
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const audience = mode.audiences[0] ?? DEFAULT_LOCAL_AUDIENCE;
  const verify = (token: string) => JSON.stringify({ token });
  const cases: LoadCase[] = [];
  for (let i = 0; i < 20; i += 1) cases.push({ label: 'valid', body: verify(await mintDemoToken(mode, now)), expectStatus: 200, expectAuthenticated: true });
  const good = await mintDemoToken(mode, now);
  const [h, p, s] = good.split('.');
  const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  const refusals: Record<string, string> = {
    'tampered signature': `${h}.${p}.${flipped}`,
    'other audience': signed(demoKey, { alg: 'RS256', kid }, kubeClaims(mode.issuer, 'someone-else', now)),
    'other issuer': signed(demoKey, { alg: 'RS256', kid }, kubeClaims('https://attacker.example', audience, now)),
    expired: signed(demoKey, { alg: 'RS256', kid }, kubeClaims(mode.issuer, audience, now - 7200)),
    'unknown key': signed(stranger, { alg: 'RS256', kid: 'not-a-published-kid' }, kubeClaims(mode.issuer, audience, now)),
    'alg none': `${Buffer.from('{"alg":"none","kid":"x"}').toString('base64url')}.${p}.`,
    'not a token': 'definitely-not-a-jwt',
  };
  for (const [label, token] of Object.entries(refusals)) cases.push({ label, body: verify(token), expectStatus: 200, expectAuthenticated: false });
  cases.push({ label: 'malformed JSON', body: '{"token": ', expectStatus: 400 });
  return cases;
}

/** The load generator: runs in the second process. */
function runClient(configFile: string): void {
  const { url, duration, connections, cases } = JSON.parse(readFileSync(configFile, 'utf8')) as { url: string; duration: number; connections: number; cases: LoadCase[] };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as Autocannon;
  const byLabel: Record<string, { count: number; wrong: number }> = {};
  let wrongVerdicts = 0;
  let firstWrong: string | undefined;
  const requests: AutocannonRequest[] = cases.map((loadCase) => ({
    method: 'POST',
    path: '/verify',
    headers: { 'content-type': 'application/json' },
    body: loadCase.body,
    onResponse: (status: number, body: string) => {
      const tally = (byLabel[loadCase.label] ??= { count: 0, wrong: 0 });
      tally.count += 1;
      let right = status === loadCase.expectStatus;
      if (right && loadCase.expectAuthenticated !== undefined) {
        try {
          right = (JSON.parse(body) as { authenticated?: unknown }).authenticated === loadCase.expectAuthenticated;
        } catch {
          right = false;
        }
      }
      if (!right) {
        tally.wrong += 1;
        wrongVerdicts += 1;
        firstWrong ??= `${loadCase.label}: HTTP ${status} ${body.slice(0, 200)}`;
      }
    },
  }));
  autocannon({ url, duration, connections, requests }, (err, result) => {
    if (err) {
      process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
      process.exitCode = 1;
      return;
    }
    const report: ClientReport = {
      requests: result.requests.total,
      durationSeconds: result.duration,
      requestsPerSecond: result.requests.average,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      wrongVerdicts,
      serverErrors: result['5xx'],
      errors: result.errors,
      timeouts: result.timeouts,
      byLabel,
      ...(firstWrong ? { firstWrong } : {}),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  });
}

async function main(): Promise<void> {
  const duration = flag('--duration', 10);
  const connections = flag('--connections', 10);
  const stateDir = mkdtempSync(join(tmpdir(), 'kube-oidc-load-'));
  const mode = await startLocalMode({ stateDir, port: 0 });
  try {
    const cases = await loadCases(mode);
    const configFile = join(stateDir, 'load-client.json');
    writeFileSync(configFile, JSON.stringify({ url: mode.url, duration, connections, cases }), { mode: 0o600 });
    console.log(`load: POST ${mode.url}/verify for ${duration} s, ${connections} connections, from a second process (autocannon); ${cases.length} request kinds (${cases.filter((c) => c.expectAuthenticated).length} valid tokens, ${cases.filter((c) => !c.expectAuthenticated).length} refusals)`);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);

    // Same runtime flags (tsx's loader) for the client, so it can run this very file.
    const child = spawn(process.execPath, [...process.execArgv, __filename, '--client', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const exitCode = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), (duration + 60) * 1000);
      child.once('close', (code) => { clearTimeout(timer); resolve(code); });
    });
    const line = output.trim().split('\n').pop() ?? '';
    let report: ClientReport & { error?: string };
    try {
      report = JSON.parse(line) as ClientReport & { error?: string };
    } catch {
      console.error(`the load client (exit ${exitCode}) printed no report: ${output.slice(0, 500)}`);
      process.exitCode = 1;
      return;
    }
    if (report.error) {
      console.error(`the load client failed: ${report.error}`);
      process.exitCode = 1;
      return;
    }
    console.log(`throughput: ${report.requestsPerSecond.toFixed(0)} requests/s (${report.requests} in ${report.durationSeconds.toFixed(1)} s)`);
    console.log(`latency: p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms`);
    for (const [label, tally] of Object.entries(report.byLabel).sort()) console.log(`  ${label.padEnd(20)} ${String(tally.count).padStart(8)} answered, ${tally.wrong} wrong`);
    console.log(`wrong verdicts: ${report.wrongVerdicts}; 5xx: ${report.serverErrors}; connection errors: ${report.errors}; timeouts: ${report.timeouts}`);
    if (report.firstWrong) console.log(`first wrong answer: ${report.firstWrong}`);
    const failed = report.wrongVerdicts > 0 || report.serverErrors > 0 || report.errors > 0 || report.timeouts > 0 || report.requests === 0;
    console.log(failed ? 'FAIL: every answer must be the expected verdict, with no 5xx' : 'OK: every answer was the expected verdict, no 5xx');
    process.exitCode = failed ? 1 : 0;
  } finally {
    await mode.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (args[0] === '--client') {
  runClient(args[1]);
} else {
  main().catch((err: unknown) => {
    console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
