/**
 * The process side of {@link CommandIo}: stdio, environment, wall clock and SIGINT/SIGTERM. The
 * entry points (bin/cli.ts, runtime/webhook-main.ts) hand it to the runner; tests use their own.
 */
import type { CommandIo } from './command';

/** The CommandIo of this process. */
export function processIo(): CommandIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    now: () => new Date(),
    untilInterrupted: () =>
      new Promise((resolve) => {
        const stop = (signal: string): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve(signal);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      }),
  };
}
