/**
 * Runs pod-app.cjs as a pod would run: a process with the projected token file and the role ARN in
 * its environment and no AWS keys, talking to AWS through the recording proxy.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../infra/support/synth';
import { lambdaNodeBinary } from '../lambda-node';

/** What the pod printed. */
export interface PodResult {
  readonly exitCode: number | null;
  readonly output: { arn?: string; account?: string; body?: string; error?: string };
}

/** Settings of one pod run. */
export interface PodSettings {
  readonly roleArn: string;
  /** The projected service-account token. */
  readonly token: string;
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly key: string;
}

/** Runs the pod once (bounded to 30 s). */
export async function runPod(settings: PodSettings): Promise<PodResult> {
  const folder = mkdtempSync(path.join(tmpdir(), 'kube-oidc-pod-'));
  const tokenFile = path.join(folder, 'token');
  writeFileSync(tokenFile, settings.token, { mode: 0o600 });
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
    // What the pod identity webhook (or a hand-written pod spec) sets.
    AWS_ROLE_ARN: settings.roleArn,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_REGION: settings.region,
    AWS_DEFAULT_REGION: settings.region,
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    AWS_ENDPOINT_URL: settings.endpoint,
    AWS_CONFIG_FILE: path.join(folder, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(folder, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const child = spawn(lambdaNodeBinary(), [path.join(__dirname, 'pod-app.cjs'), settings.bucket, settings.key], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exitCode = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => { clearTimeout(timer); resolve(code); });
  });
  rmSync(folder, { recursive: true, force: true });
  try {
    return { exitCode, output: JSON.parse(stdout.trim().split('\n').pop() ?? '') as PodResult['output'] };
  } catch {
    return { exitCode, output: { error: `no JSON output; stderr: ${stderr.slice(0, 500)}` } };
  }
}
