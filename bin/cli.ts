#!/usr/bin/env node
/**
 * The operator CLI's entry point: binds the process (argv, stdio, environment, clock, signals)
 * to `cli/main.ts` and exits with its status.
 */
import { main } from '../cli/main';
import { processIo } from '../cli/process-io';
import { dropSdkNodeVersionWarning } from '../cli/process-warnings';

// Before any AWS SDK module loads: the SDK warns about supported Node versions on every call.
dropSdkNodeVersionWarning(process as unknown as Parameters<typeof dropSdkNodeVersionWarning>[0]);

main(process.argv.slice(2), processIo()).then((status) => {
  // Let stdout drain before exiting: a piped `--json` document must arrive whole.
  process.exitCode = status;
});
