/**
 * Runs the real CLI executable (`bin/cli.ts` under tsx) in a child process, the way an operator
 * runs it, and collects its exit status and output.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The project root, where `bin/cli.ts` lives. */
export const PROJECT_ROOT = join(__dirname, '..', '..');

/** What one run of the CLI produced. */
export interface CliRun {
  /** Exit status (null when killed by a signal). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Written to the child's stdin, which is then closed. @default - stdin closed at once */
  readonly stdin?: string;
  /** Variables added to (or, when undefined, removed from) the child's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Kill the child after this long and fail. @default 30000 */
  readonly timeoutMs?: number;
}

/** Children running at once: tests start many runs together, but the machine has few cores. */
const MAX_CONCURRENT_RUNS = 4;
let running = 0;
const waiting: (() => void)[] = [];

async function acquireSlot(): Promise<void> {
  if (running < MAX_CONCURRENT_RUNS) {
    running += 1;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function releaseSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else running -= 1;
}

/**
 * Spawns `node --import tsx bin/cli.ts ...args` (at most four at a time; later runs wait). The environment is the test's, minus AWS
 * settings (so no IAM lookup happens unless a test asks for one), with `TZ=UTC` so local times
 * are predictable.
 */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliRun> {
  await acquireSlot();
  try {
    return await spawnCli(args, options);
  } finally {
    releaseSlot();
  }
}

function spawnCli(args: readonly string[], options: RunCliOptions): Promise<CliRun> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('AWS_') && name !== 'KUBE_OIDC_DEBUG') env[name] = value;
  }
  env.TZ = 'UTC';
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bin', 'cli.ts'), ...args], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.end(options.stdin ?? '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kube-oidc ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${Buffer.concat(stderr).toString()}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}

/** Runs the CLI with `--json` and parses stdout, failing with the CLI's stderr when it is not JSON. */
export async function runCliJson<T = Record<string, unknown>>(args: readonly string[], options: RunCliOptions = {}): Promise<CliRun & { json: T }> {
  const run = await runCli([...args, '--json'], options);
  try {
    return { ...run, json: JSON.parse(run.stdout) as T };
  } catch {
    throw new Error(`kube-oidc ${args.join(' ')} --json printed no JSON (status ${run.status}); stdout: ${run.stdout.slice(0, 500)}; stderr: ${run.stderr.slice(0, 500)}`);
  }
}

/**
 * Runs the CLI's `main` in this process, for commands that need no AWS (e.g. `deny --state-dir`):
 * much faster than {@link runCli}. A command that waits for an interrupt (`local`) is interrupted
 * as soon as it waits, so it returns once it has started and printed its banner.
 */
export async function runCliInProcess(argv: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const { main } = await import('../../cli/main');
  let stdout = '';
  let stderr = '';
  const status = await main(argv, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    readStdin: async () => '',
    env: {},
    now: () => new Date(),
    untilInterrupted: async () => 'SIGINT',
  });
  return { status, stdout, stderr };
}
