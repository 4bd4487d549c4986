/** cfn-lint for the infra tests: one runner, one install hint. */
import { spawn, spawnSync } from 'node:child_process';

/** The error when cfn-lint is missing: the checks need it, so a missing tool fails rather than skips. */
export const CFN_LINT_HINT = 'cfn-lint is not installed or not on PATH: install it with `pip install cfn-lint`';

/** Lints templates with cfn-lint; errors are bit 2 of the exit code, warnings (4) and infos (8) pass. */
export function cfnLint(templates: string[]): Promise<{ code: number; output: string }> {
  const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(CFN_LINT_HINT);
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--format', 'parseable', '--', ...templates]);
    let output = '';
    child.stdout.on('data', (chunk) => { output += String(chunk); });
    child.stderr.on('data', (chunk) => { output += String(chunk); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
