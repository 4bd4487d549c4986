/**
 * scripts/test-prerequisites (npm test's pretest; README and .ci/run rely on it, see readme.test.ts),
 * run against a PATH holding only the tools each case chooses, with fake `apt-get` and `id`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './support/doc-blocks';

const SCRIPT = join(REPO_ROOT, 'scripts/test-prerequisites');
const ALL_TOOLS = ['nginx', 'jq', 'curl', 'openssl', 'python3', 'bash', 'zsh', 'kubectl', 'moto_server', 'cfn-lint'];

interface Machine {
  readonly bin: string;
  readonly aptLog: string;
  run(): { status: number | null; stderr: string };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes an executable shell script. */
function executable(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/**
 * A machine whose PATH is one temp dir: the shell utilities the script uses, node, the given
 * tools (as stubs), `id` answering `uid`, and, when `apt` is set, an apt-get that logs its
 * arguments and "installs" a stub for every tool whose package it is asked for.
 */
function machine(options: { tools: readonly string[]; uid: number; apt: boolean }): Machine {
  const bin = mkdtempSync(join(tmpdir(), 'kube-oidc-prereq-'));
  dirs.push(bin);
  const aptLog = join(bin, 'apt.log');
  for (const util of ['sh', 'mktemp', 'cat', 'rm', 'chmod']) {
    const real = spawnSync('sh', ['-c', `command -v ${util}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(real, join(bin, util));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const tool of options.tools) executable(join(bin, tool), 'exit 0');
  executable(join(bin, 'id'), `echo ${options.uid}`);
  if (options.apt) {
    const toolOf: Record<string, string> = { 'nginx-light': 'nginx', jq: 'jq', curl: 'curl', openssl: 'openssl', python3: 'python3', bash: 'bash', zsh: 'zsh', 'kubernetes-client': 'kubectl' };
    const installs = Object.entries(toolOf)
      .map(([pkg, tool]) => `    ${pkg}) printf '#!/bin/sh\\nexit 0\\n' > "${bin}/${tool}"; chmod +x "${bin}/${tool}" ;;`)
      .join('\n');
    executable(join(bin, 'apt-get'), [
      `echo "$*" >> "${aptLog}"`,
      'echo "debconf: chatter that must not be shown" >&2',
      'if [ "$1" = install ] || [ "$3" = install ]; then',
      '  for arg in "$@"; do case "$arg" in',
      installs,
      '  esac; done',
      'fi',
      'exit 0',
    ].join('\n'));
  }
  return {
    bin,
    aptLog,
    run: () => {
      const result = spawnSync(join(bin, 'sh'), [SCRIPT], { encoding: 'utf8', env: { PATH: bin, KUBE_OIDC_PREREQ_SBIN: '' } });
      return { status: result.status, stderr: result.stderr };
    },
  };
}

describe('scripts/test-prerequisites (npm test\'s pretest)', () => {
  test('with every tool present it installs nothing and succeeds', () => {
    const box = machine({ tools: ALL_TOOLS, uid: 0, apt: true });
    const result = box.run();
    expect(result).toEqual({ status: 0, stderr: '' });
    expect(existsSync(box.aptLog)).toBe(false);
  });

  test('as root on Debian it installs nginx-light (after one apt-get update), quietly, and succeeds', () => {
    const box = machine({ tools: ALL_TOOLS.filter((tool) => tool !== 'nginx' && tool !== 'jq'), uid: 0, apt: true });
    const result = box.run();
    expect(result.status).toBe(0);
    expect(readFileSync(box.aptLog, 'utf8').trim().split('\n')).toEqual([
      'update -qq',
      'install -y -qq --no-install-recommends nginx-light jq',
    ]);
    expect(result.stderr).toContain('installing Debian packages: nginx-light jq');
    expect(result.stderr).not.toContain('debconf');
    expect(existsSync(join(box.bin, 'nginx'))).toBe(true);
  });

  test('when it may not install (not root), one message names every missing tool and its install line, and it fails', () => {
    const box = machine({ tools: ['jq', 'curl', 'openssl', 'python3', 'bash', 'zsh', 'kubectl', 'cfn-lint'], uid: 1000, apt: true });
    const result = box.run();
    expect(result.status).toBe(1);
    expect(existsSync(box.aptLog)).toBe(false);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      'test-prerequisites: the tests cannot run on this machine yet; nothing was run. Missing:',
      '  - nginx (run this as root on Debian/Ubuntu and it installs them): apt-get install -y nginx-light',
      '  - moto_server (Python, from PyPI): pip install "moto[server]>=5" cfn-lint',
    ]);
  });

  test('without apt-get (another OS) it names the Debian packages and fails, even as root', () => {
    const box = machine({ tools: ['bash', 'zsh', 'kubectl', 'moto_server', 'cfn-lint'], uid: 0, apt: false });
    const result = box.run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('  - nginx jq curl openssl python3 (run this as root on Debian/Ubuntu and it installs them): apt-get install -y nginx-light jq curl openssl python3');
    expect(result.stderr.match(/test-prerequisites:/g)).toHaveLength(1);
  });

  test('PyPI tools are never installed by it, even as root: it says how and fails before any test runs', () => {
    const box = machine({ tools: ALL_TOOLS.filter((tool) => tool !== 'moto_server' && tool !== 'cfn-lint'), uid: 0, apt: true });
    const result = box.run();
    expect(result.status).toBe(1);
    expect(existsSync(box.aptLog)).toBe(false);
    expect(result.stderr).toContain('  - moto_server cfn-lint (Python, from PyPI): pip install "moto[server]>=5" cfn-lint');
  });
});
