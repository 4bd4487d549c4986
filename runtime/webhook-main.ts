#!/usr/bin/env node
/**
 * The container's entry point: the CLI runner with only the `webhook` command group. It imports
 * cli/run.ts, not cli/main.ts (the registry of every command), so the bundle
 * (scripts/bundle-webhook.ts) carries the webhook and not the AWS operator commands.
 * `node webhook.cjs webhook serve ...` / `node webhook.cjs webhook review ...`.
 */
import { webhookCommand } from '../cli/commands/webhook';
import { processIo } from '../cli/process-io';
import { runCommandLine } from '../cli/run';

runCommandLine(process.argv.slice(2), processIo(), [webhookCommand]).then((status) => {
  process.exitCode = status;
});
