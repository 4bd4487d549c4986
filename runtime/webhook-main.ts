#!/usr/bin/env node
/**
 * The container's entry point: the CLI with only the `webhook` command group, so the bundle
 * (scripts/bundle-webhook.ts) carries the webhook and not the AWS operator commands.
 * `node webhook.cjs webhook serve ...` / `node webhook.cjs webhook review ...`.
 */
import { CommandIo } from '../cli/command';
import { webhookCommand } from '../cli/commands/webhook';
import { main } from '../cli/main';

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

main(process.argv.slice(2), io, [webhookCommand]).then((status) => {
  process.exitCode = status;
});
