/**
 * Runs documentation snippets for real: shell blocks under bash (with `kube-oidc` defined as the
 * docs define it), against local mode started in-process on a free 127.0.0.1 port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMode, mintDemoToken, startLocalMode } from '../../../cli/local-mode';
import { REPO_ROOT } from './doc-blocks';

/** What a test needs to run a snippet and to fail with a useful message when a tool is missing. */
export const TOOL_HINTS: Readonly<Record<string, string>> = {
  bash: 'bash is required to run the documented shell snippets: install it (Debian/Ubuntu: `apt-get install bash`)',
  curl: 'curl is required to run the documented curl commands: install it (Debian/Ubuntu: `apt-get install curl`)',
  jq: 'jq is required to run the documented jq commands: install it (Debian/Ubuntu: `apt-get install jq`)',
  python3: 'python3 is required to run examples/clients/verify.py: install it (Debian/Ubuntu: `apt-get install python3`)',
  openssl: 'openssl is required to run the documented key commands: install it (Debian/Ubuntu: `apt-get install openssl`)',
  nginx: 'nginx is required to run the nginx auth_request example: `npm test` installs it when run as root on Debian/Ubuntu (scripts/test-prerequisites); otherwise `apt-get install -y nginx-light`',
};

/** Fails (never skips) when a tool the snippets need cannot be run. */
export function requireTool(tool: keyof typeof TOOL_HINTS, command: string = tool, versionArgs: readonly string[] = ['--version']): void {
  const probe = spawnSync(command, versionArgs, { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(`${TOOL_HINTS[tool]} (${probe.error?.message ?? probe.stderr.trim()})`);
}

/** The `kube-oidc` shell function of docs/guide.md, bound to this checkout. */
export const KUBE_OIDC_FUNCTION = `kube-oidc() { "${REPO_ROOT}/node_modules/.bin/tsx" "${REPO_ROOT}/bin/cli.ts" "$@"; }`;

/** What one bash run produced. */
export interface ShellRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a script under `bash -eo pipefail` with `kube-oidc` defined, the given variables exported,
 * AWS settings removed and `TZ=UTC`; kills it after `timeoutMs`.
 */
export function runBash(script: string, options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<ShellRun> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith('AWS_')) env[name] = value;
  Object.assign(env, { TZ: 'UTC' }, options.env ?? {});
  const child = spawn('bash', ['-eo', 'pipefail', '-c', `${KUBE_OIDC_FUNCTION}\n${script}`], { cwd: options.cwd ?? REPO_ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += String(chunk); });
  child.stderr.on('data', (chunk) => { stderr += String(chunk); });
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`snippet did not finish within ${timeoutMs} ms: ${script}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Checks a script's syntax with `bash -n` without running it; returns bash's complaint, or ''. */
export function bashSyntaxError(script: string): string {
  const result = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  return result.status === 0 ? '' : result.stderr.trim();
}

/** Local mode for documentation tests, with a demo token for its first audience. */
export interface DocsLocalMode {
  readonly mode: LocalMode;
  /** A valid demo token (`system:serviceaccount:default:demo`, audience `audiences[0]`). */
  readonly token: string;
  close(): Promise<void>;
}

/** Starts local mode on a free port with its own state folder. */
export async function startDocsLocalMode(audiences: readonly string[]): Promise<DocsLocalMode> {
  const stateDir = mkdtempSync(join(tmpdir(), 'kube-oidc-docs-'));
  const mode = await startLocalMode({ port: 0, stateDir, audiences });
  const token = await mintDemoToken(mode, Math.floor(Date.now() / 1000));
  return {
    mode,
    token,
    async close() {
      await mode.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Runs the CLI in this process (`cli/main.ts`), as the executable would, and collects its output. */
export async function runCliInProcess(args: readonly string[], options: { stdin?: string; now?: Date; env?: Record<string, string> } = {}): Promise<ShellRun> {
  const { main } = await import('../../../cli/main');
  let stdout = '';
  let stderr = '';
  const status = await main(args, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    readStdin: async () => options.stdin ?? '',
    env: options.env ?? {},
    now: () => options.now ?? new Date(),
    untilInterrupted: () => new Promise<string>(() => undefined),
  });
  return { status, stdout, stderr };
}
