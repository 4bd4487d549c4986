/**
 * Starts a real `moto_server` (the AWS stand-in for S3, CloudFront, IAM, STS, SSM, SNS) on a free
 * 127.0.0.1 port for one test file, and stops it by PID. A missing moto fails the suite with an
 * install hint: integration tests never skip silently.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';

/** A running moto server and the client settings that reach it. */
export interface Moto {
  readonly endpoint: string;
  readonly pid: number;
  /** Region and static test credentials (moto accepts any). */
  readonly clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string }; forcePathStyle: true };
  /** Environment for child processes and SDK clients created from the environment. */
  readonly env: Record<string, string>;
  s3(): S3Client;
  createBuckets(...names: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts moto_server; resolves when it answers. */
export async function startMoto(): Promise<Moto> {
  const which = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error('moto_server is not installed: the integration tests need it. Install it with `pip install "moto[server]>=5"`.');
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const region = 'us-east-1';
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const clientConfig = { endpoint, region, credentials, forcePathStyle: true as const };
  return {
    endpoint,
    pid: child.pid!,
    clientConfig,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_S3_FORCE_PATH_STYLE: 'true',
    },
    s3: () => new S3Client(clientConfig),
    async createBuckets(...names: string[]) {
      const s3 = new S3Client(clientConfig);
      for (const name of names) await s3.send(new CreateBucketCommand({ Bucket: name }));
      s3.destroy();
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resets moto's state between tests. */
export async function resetMoto(moto: Moto): Promise<void> {
  await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' });
}
