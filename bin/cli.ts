#!/usr/bin/env node
/**
 * The operator CLI's entry point: binds the process (argv, stdio, environment, clock, signals)
 * to `cli/main.ts` and exits with its status.
 */
import { CommandIo } from '../cli/command';
import { main } from '../cli/main';
import { dropSdkNodeVersionWarning } from '../cli/process-warnings';

// Before any AWS SDK module loads: the SDK warns about supported Node versions on every call.
dropSdkNodeVersionWarning(process as unknown as Parameters<typeof dropSdkNodeVersionWarning>[0]);

const io: CommandIo = {
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

main(process.argv.slice(2), io).then((status) => {
  // Let stdout drain before exiting: a piped `--json` document must arrive whole.
  process.exitCode = status;
});
