/**
 * The CLI runner without the command registry: argument parsing (`node:util` parseArgs, strict),
 * `--help` on every command, `--json` for scripts, and the exit-status contract
 * ({@link EXIT_STATUS_LINE}): 0 ok; 1 the answer is no, or AWS or the network stopped the command;
 * 2 the command line or an input is unusable. Errors print one line on stderr, never a stack.
 *
 * It imports no command, so an entry point that registers a few (runtime/webhook-main.ts) bundles
 * only those; cli/main.ts holds the full registry.
 */
import { parseArgs } from 'node:util';
import {
  CliError,
  Command,
  CommandContext,
  CommandGroup,
  CommandIo,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  LeafCommand,
  OptionSpec,
  ParsedArgs,
  UsageError,
} from './command';
import { errorLine, toJson } from './output';
import { packageVersion } from './version';

/** The program name used in help and messages. */
export const PROGRAM = 'kube-oidc';

/** Flags every command accepts. */
const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', description: 'print the result as one JSON document (for scripts)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/**
 * Runs the CLI on `argv` (the arguments after the program name) and returns the exit status.
 * Never throws: every failure becomes a message on stderr and a status.
 */
export async function runCommandLine(argv: readonly string[], io: CommandIo, commands: readonly Command[]): Promise<number> {
  const path: string[] = [PROGRAM];
  let available = commands;
  let group: CommandGroup | undefined;
  let rest = [...argv];
  try {
    for (;;) {
      const word = rest[0];
      if (word === undefined || word === '') {
        io.stderr(group ? groupHelp(group, path) : programHelp(commands));
        return EXIT_USAGE;
      }
      if (word === '--help' || word === '-h') {
        io.stdout(group ? groupHelp(group, path) : programHelp(commands));
        return EXIT_OK;
      }
      if (word === 'help') {
        io.stdout(helpFor(rest.slice(1), available, path, group, commands));
        return EXIT_OK;
      }
      if (word === '--version' && !group) {
        io.stdout(`${PROGRAM} ${packageVersion()}\n`);
        return EXIT_OK;
      }
      const command = available.find((candidate) => candidate.name === word);
      if (!command) {
        const names = available.map((candidate) => candidate.name).join(', ');
        throw new UsageError(word.startsWith('-')
          ? `expected a command before ${word} (commands: ${names})`
          : `unknown command ${JSON.stringify(word)} (commands: ${names})`);
      }
      path.push(command.name);
      rest = rest.slice(1);
      if ('subcommands' in command) {
        group = command;
        available = command.subcommands;
        continue;
      }
      return await runLeaf(command, rest, path, io);
    }
  } catch (err) {
    const terminator = argv.indexOf('--');
    const wantsJson = (terminator === -1 ? argv : argv.slice(0, terminator)).includes('--json');
    return reportError(err, path, io, wantsJson);
  }
}

/**
 * `help [COMMAND [SUBCOMMAND]]`: the help of the named command (or group), as its `--help` prints
 * it; an unknown name is a usage error listing the names that exist.
 */
function helpFor(words: readonly string[], available: readonly Command[], path: readonly string[], group: CommandGroup | undefined, commands: readonly Command[]): string {
  if (words.length === 0) return group ? groupHelp(group, [...path]) : programHelp(commands);
  const [word, ...more] = words;
  const command = available.find((candidate) => candidate.name === word);
  if (!command) {
    throw new UsageError(`no help for ${JSON.stringify(word)}: not a command here (commands: ${available.map((c) => c.name).join(', ')})`);
  }
  const nextPath = [...path, command.name];
  if ('subcommands' in command) return helpFor(more, command.subcommands, nextPath, command, commands);
  if (more.length > 0) throw new UsageError(`${nextPath.join(' ')} has no subcommands (got ${JSON.stringify(more[0])})`);
  return commandHelp(command, nextPath);
}

async function runLeaf(command: LeafCommand, argv: string[], path: string[], io: CommandIo): Promise<number> {
  const beforeTerminator = argv.indexOf('--') === -1 ? argv : argv.slice(0, argv.indexOf('--'));
  if (beforeTerminator.includes('--help') || beforeTerminator.includes('-h')) {
    io.stdout(commandHelp(command, path));
    return EXIT_OK;
  }
  const args = parseCommandLine(command, argv);
  const json = args.values.json === true;
  const context: CommandContext = {
    io,
    json,
    emit: (human, data) => io.stdout(json ? toJson(data) : human.endsWith('\n') ? human : `${human}\n`),
    note: (message) => io.stderr(message.endsWith('\n') ? message : `${message}\n`),
  };
  return command.run(args, context);
}

/** Parses and validates a leaf command's arguments; every problem is a {@link UsageError}. */
export function parseCommandLine(command: LeafCommand, argv: readonly string[]): ParsedArgs {
  const specs = { ...command.options, ...GLOBAL_OPTIONS };
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(parseErrorMessage(err));
  }
  const counts = new Map<string, number>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'option') counts.set(token.name, (counts.get(token.name) ?? 0) + 1);
  }
  for (const [name, count] of counts) {
    if (count > 1 && !specs[name]?.multiple) throw new UsageError(`--${name} was given ${count} times; it takes one value`);
  }
  for (const [name, spec] of Object.entries(command.options)) {
    const value = parsed.values[name];
    if (spec.required && (value === undefined || value === '')) throw new UsageError(`--${name} is required`);
    if (spec.type === 'string' && value === '') throw new UsageError(`--${name} must not be empty`);
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  const positionals = parsed.positionals;
  if (positionals.length < min) throw new UsageError(`missing argument: ${command.usage ?? 'an argument'}`);
  if (positionals.length > max) {
    throw new UsageError(max === 0
      ? `unexpected argument ${JSON.stringify(shorten(positionals[0]))}: this command takes only flags`
      : `too many arguments: expected ${command.usage ?? `at most ${max}`}`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals };
}

function parseErrorMessage(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    // Key ids are base64url and may start with "-": such a value reads as short options.
    return /^-[^-]/.test(quoted) ? `unknown option ${quoted} (a value that starts with "-", such as a key id, goes after "--")` : `unknown option ${quoted}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    // Node quotes the option as "--name <value>" or "-n, --name": keep the long name.
    const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
    return /argument missing/.test(message) ? `${flag} needs a value` : `${flag} does not take a value`;
  }
  return message.split('\n')[0];
}

function reportError(err: unknown, path: string[], io: CommandIo, wantsJson: boolean): number {
  const message = err instanceof Error ? err.message : String(err);
  const status = err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  // Scripts that asked for JSON get a JSON verdict on stdout too, so they never parse an empty output.
  if (wantsJson) io.stdout(toJson({ ok: false, error: { status, message: errorLine('', message).replace(/^: /, '').trimEnd() } }));
  io.stderr(errorLine('error', message));
  if (err instanceof UsageError) {
    io.stderr(`(see '${path.join(' ')} --help')\n`);
  } else if (!(err instanceof CliError)) {
    // An unexpected failure is a bug: say so in one line, and show the stack only when asked.
    if (io.env.KUBE_OIDC_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    else io.stderr('(unexpected error: set KUBE_OIDC_DEBUG=1 to see where it happened)\n');
  }
  return status;
}

/** The help text of the program: usage and the command list. */
export function programHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `Usage: ${PROGRAM} COMMAND [options]`,
    '',
    'Operate and debug a Kubernetes service-account issuer published for AWS (IRSA) and external verifiers.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run '${PROGRAM} help COMMAND' (or '${PROGRAM} COMMAND --help') for a command's flags. Every command takes --json.`,
    `'${PROGRAM} --version' prints the version; '${PROGRAM} completion bash|zsh' prints shell completion.`,
    EXIT_STATUS_LINE,
    '',
  ].join('\n');
}

function groupHelp(group: CommandGroup, path: string[]): string {
  const width = Math.max(...group.subcommands.map((c) => c.name.length)) + 2;
  return [
    `Usage: ${path.join(' ')} SUBCOMMAND [options]`,
    '',
    group.description ?? group.summary,
    '',
    'Subcommands:',
    ...group.subcommands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run '${path.join(' ')} SUBCOMMAND --help' for its flags.`,
    EXIT_STATUS_LINE,
    '',
  ].join('\n');
}

/** The exit-status rule, printed in every help text; README's CLI section states the same rule. */
export const EXIT_STATUS_LINE = [
  'Exit status: 0 ok; 1 the command ran and the answer is no (a token rejected, a check or sync failed, status',
  'found a problem) or AWS or the network stopped it; 2 the command line or an input is unusable (unknown flag,',
  'bad value, file missing, not a usable key, a malformed token to decode): nothing was done.',
].join('\n');

/** The help text of one command. */
export function commandHelp(command: LeafCommand, path: readonly string[]): string {
  const required = Object.entries(command.options).filter(([, spec]) => spec.required);
  const usage = [
    path.join(' '),
    ...required.map(([name, spec]) => `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`),
    '[options]',
    command.usage ?? '',
  ].filter(Boolean).join(' ');
  const all = { ...command.options, ...GLOBAL_OPTIONS };
  const labels = Object.entries(all).map(([name, spec]) => {
    const flag = `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    return [spec.short ? `-${spec.short}, ${flag}` : `    ${flag}`, spec] as const;
  });
  const width = Math.max(...labels.map(([label]) => label.length)) + 2;
  const optionLines = labels.map(([label, spec]) => {
    const notes = [spec.required ? 'required' : '', spec.multiple ? 'repeatable' : '', spec.defaultText ? `default: ${spec.defaultText}` : '']
      .filter(Boolean)
      .join('; ');
    return `  ${label.padEnd(width)}${spec.description}${notes ? ` (${notes})` : ''}`;
  });
  const lines = [`Usage: ${usage}`, '', command.description ?? command.summary, '', 'Options:', ...optionLines];
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((example) => `  ${PROGRAM} ${example}`));
  lines.push('', EXIT_STATUS_LINE, '');
  return lines.join('\n');
}

function shorten(value: string): string {
  return value.length > 40 ? `${value.slice(0, 20)}...` : value;
}
