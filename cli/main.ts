/**
 * The operator CLI: the subcommand registry. The runner (parsing, help, `--json`, the exit-status
 * contract {@link EXIT_STATUS_LINE}) is cli/run.ts, which imports no command.
 *
 * Adding a subcommand: write `cli/commands/NAME.ts` exporting a {@link Command}, and add it to
 * {@link COMMANDS}.
 */
import type { Command, CommandIo } from './command';
import { checkCommand } from './commands/check';
import { completionCommand } from './commands/completion';
import { decodeCommand } from './commands/decode';
import { denyCommand } from './commands/deny';
import { discoveryCommand } from './commands/discovery';
import { jwksCommand } from './commands/jwks';
import { keysCommand } from './commands/keys';
import { localCommand } from './commands/local';
import { manifestCommand } from './commands/manifest';
import { statusCommand } from './commands/status';
import { syncCommand } from './commands/sync';
import { trustPolicyCommand } from './commands/trust-policy';
import { verifyCommand } from './commands/verify';
import { webhookCommand } from './commands/webhook';
import { PROGRAM, runCommandLine } from './run';

export { commandHelp, EXIT_STATUS_LINE, parseCommandLine, PROGRAM, programHelp } from './run';

/** The subcommands, in the order `--help` lists them. One line per command. */
export const COMMANDS: readonly Command[] = [
  localCommand,
  decodeCommand,
  verifyCommand,
  checkCommand,
  discoveryCommand,
  trustPolicyCommand,
  manifestCommand,
  jwksCommand,
  keysCommand,
  denyCommand,
  syncCommand,
  webhookCommand,
  statusCommand,
  completionCommand(() => COMMANDS, PROGRAM),
];

/**
 * Runs the CLI on `argv` (the arguments after the program name) with `commands` (all of them by
 * default) and returns the exit status. Never throws.
 */
export function main(argv: readonly string[], io: CommandIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  return runCommandLine(argv, io, commands);
}
