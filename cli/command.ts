/**
 * The contract between the CLI framework (`cli/run.ts`) and its subcommands: a subcommand is one
 * module under `cli/commands/` exporting a {@link Command}, plus one line in the registry of
 * `cli/main.ts`. The framework parses and validates flags, prints `--help`, chooses human or JSON
 * output and maps errors to exit codes, so a command only does its work.
 */
import { readFileSync } from 'node:fs';

/** Exit status: success. */
export const EXIT_OK = 0;
/**
 * Exit status: the command ran and the answer is no (a rejected token, a failed check or sync, a
 * problem found by status), or something outside the command line stopped it (network, AWS,
 * credentials). Thrown as {@link CliError}.
 */
export const EXIT_FAILED = 1;
/**
 * Exit status: the command line or an input it names is unusable, so nothing was done: unknown
 * flag, missing or invalid value, a file missing or unreadable, a file that is not a usable key
 * (garbage, too weak), a malformed token given to `decode`. Thrown as {@link UsageError}.
 * (A token given to `verify` or `check --token` is what they judge: a malformed one is a verdict, 1.)
 */
export const EXIT_USAGE = 2;

/** One flag of a command, as `node:util` parseArgs takes it plus help text. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** One line for `--help`. */
  readonly description: string;
  /** Placeholder shown in help after the flag, e.g. `URL`. @default 'VALUE' for strings */
  readonly valueName?: string;
  /** The flag may be given several times; its value is then a string array. @default false */
  readonly multiple?: boolean;
  /** One-letter alias. @default - none */
  readonly short?: string;
  /** The framework refuses to run the command without it (exit 2). @default false */
  readonly required?: boolean;
  /** The default, for help text only (the command applies it). @default - none shown */
  readonly defaultText?: string;
}

/** Where a command reads and writes; replaced in tests, backed by the process in `bin/cli.ts`. */
export interface CommandIo {
  /** Writes to standard output (no newline added). */
  readonly stdout: (text: string) => void;
  /** Writes to standard error (no newline added). */
  readonly stderr: (text: string) => void;
  /** Reads all of standard input (for `-` arguments). */
  readonly readStdin: () => Promise<string>;
  /** The environment (read by commands only for documented AWS settings). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The clock; commands that judge time also take `--now`. */
  readonly now: () => Date;
  /** Resolves when the user asks a long-running command to stop (Ctrl-C, SIGTERM), with the signal name. */
  readonly untilInterrupted: () => Promise<string>;
}

/** Flag values and positional arguments after parsing. */
export interface ParsedArgs {
  /** Flag values by long name: string, boolean, or string[] for `multiple` flags; undefined when absent. */
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** What a running command gets besides its arguments. */
export interface CommandContext {
  readonly io: CommandIo;
  /** `--json` was given: print one JSON document on stdout, nothing else there. */
  readonly json: boolean;
  /**
   * Prints the result: `human` text, or `data` as JSON with `--json`. A trailing newline is added
   * when missing.
   */
  emit(human: string, data: unknown): void;
  /** Prints a one-line note on stderr (warnings, progress); never mixed into JSON stdout. */
  note(message: string): void;
}

/** A subcommand that does work. */
export interface LeafCommand {
  /** The word after the program name, e.g. `check`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Arguments after the flags in the usage line, e.g. `TOKEN|-`. @default '' */
  readonly usage?: string;
  /** Paragraphs for `--help` after the usage line. @default - the summary */
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Number of positional arguments allowed. @default { min: 0, max: 0 } */
  readonly positionals?: { readonly min: number; readonly max: number };
  /** Example invocations (without the program name) for `--help`. */
  readonly examples?: readonly string[];
  /** Does the work; returns the exit status. Throws {@link UsageError} or {@link CliError} for expected failures. */
  run(args: ParsedArgs, context: CommandContext): Promise<number>;
}

/** A command that only groups subcommands, e.g. `keys upload|list|revoke`. */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly description?: string;
  readonly subcommands: readonly Command[];
}

/** A registry entry. */
export type Command = LeafCommand | CommandGroup;

/** The command line or an input it names is unusable: exit 2 with this one-line message and a pointer to `--help`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command ran into an expected failure (unreachable URL, malformed token): exit 1 with this one-line message. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A string flag's value, or undefined when absent. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`flag --${name} is not a single string flag`);
  return value;
}

/** A string flag's value; a {@link UsageError} naming the flag when absent or empty. */
export function requiredFlag(args: ParsedArgs, name: string, hint = ''): string {
  const value = stringFlag(args, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required${hint ? `: ${hint}` : ''}`);
  return value;
}

/** A repeatable string flag's values (empty when absent). */
export function listFlag(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [String(value)];
}

/** A boolean flag. */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** An integer flag within bounds, or the default when absent. */
export function integerFlag(args: ParsedArgs, name: string, defaultValue: number, min: number, max: number): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) return defaultValue;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Reads a text file named by a flag; a {@link UsageError} naming the flag and the cause when it cannot be read. */
export function readFlagFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new UsageError(`cannot read ${flag} ${path}: ${cause}`);
  }
}

/**
 * A token argument: the token itself, or `-` to read it from stdin (keeps it out of the shell
 * history and the process list). Surrounding whitespace is dropped.
 */
export async function readTokenArgument(value: string, io: CommandIo, flag = 'TOKEN'): Promise<string> {
  const token = value === '-' ? (await io.readStdin()).trim() : value.trim();
  if (token === '') throw new UsageError(`${flag} is empty${value === '-' ? ' (nothing on stdin)' : ''}`);
  // A file name given where the token belongs is a common slip (a JWT never contains "/").
  if (value !== '-' && token.includes('/')) {
    throw new UsageError(`${flag} looks like a file name; to read a token file, give - and redirect it: - < ${token}`);
  }
  return token;
}

/**
 * The instant a command judges time at: `--now` (ISO 8601, or epoch seconds) when given, for
 * reproducing what a verifier saw at another time; otherwise the clock.
 */
export function resolveNow(args: ParsedArgs, io: CommandIo): Date {
  const raw = stringFlag(args, 'now');
  if (raw === undefined) return io.now();
  const date = /^\d+(\.\d+)?$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--now must be an ISO 8601 time or epoch seconds, got ${JSON.stringify(raw)}`);
  return date;
}

/** The `--now` flag, shared by the commands that judge time. */
export const NOW_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'TIME',
  description: 'judge times as of this instant (ISO 8601 or epoch seconds) instead of the clock',
};

/**
 * Validates an issuer URL from the command line: absolute, https (or http on a loopback address
 * when `allowHttp`), no query or fragment. Give `allowHttp` (true or false) only when the command
 * has an `--allow-http` flag: the refusal of http then tells the user about it. A trailing slash is refused unless `allowTrailingSlash`
 * (the doctor accepts it so it can report it).
 */
export function parseIssuerFlag(value: string, flag: string, options: { allowHttp?: boolean; allowTrailingSlash?: boolean; isLoopback?: (host: string) => boolean } = {}): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be an absolute URL such as https://oidc.example.com/cluster-a, got ${JSON.stringify(value)}`);
  }
  if (url.protocol === 'http:') {
    // Advice names --allow-http only where the command has it (options.allowHttp is then a boolean).
    if (options.allowHttp === undefined) throw new UsageError(`${flag} must use https://: AWS STS and IAM accept only https issuers`);
    if (!options.allowHttp) throw new UsageError(`${flag} must use https:// (plain http is accepted only for loopback addresses with --allow-http)`);
    if (options.isLoopback && !options.isLoopback(url.hostname)) throw new UsageError(`${flag}: --allow-http accepts only loopback addresses (127.0.0.1, ::1, localhost), not ${url.hostname}`);
  } else if (url.protocol !== 'https:') {
    throw new UsageError(`${flag} must use https://, got ${url.protocol}`);
  }
  if (url.search || url.hash || value.includes('?') || value.includes('#')) throw new UsageError(`${flag} must not have a query or fragment`);
  if (!options.allowTrailingSlash && value.endsWith('/')) {
    throw new UsageError(`${flag} must not end with "/": the issuer is compared byte for byte, and IAM conditions on a trailing-slash issuer never match`);
  }
  return value;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes namespace (an RFC 1123 label, at most 63 characters). */
export function namespaceFlag(args: ParsedArgs, name = 'namespace'): string {
  const value = requiredFlag(args, name);
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new UsageError(`--${name} ${JSON.stringify(value)} is not a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)`);
  }
  return value;
}

/** A Kubernetes service account name (an RFC 1123 subdomain, at most 253 characters). */
export function serviceAccountFlag(args: ParsedArgs, name = 'service-account'): string {
  const value = requiredFlag(args, name);
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new UsageError(`--${name} ${JSON.stringify(value)} is not a service account name (lower-case letters, digits, "-" and ".", at most 253)`);
  }
  return value;
}

/** The default audience: what AWS STS expects in IRSA tokens. */
export const STS_AUDIENCE = 'sts.amazonaws.com';

/**
 * An audience flag, `sts.amazonaws.com` by default. The frequent typo `sts.amazon.com` is refused:
 * STS answers "Incorrect token audience" and nothing points at the cause.
 */
export function audienceFlag(args: ParsedArgs, name = 'audience'): string {
  const value = stringFlag(args, name) ?? STS_AUDIENCE;
  if (/^sts\.amazon\.com$/i.test(value)) throw new UsageError(`--${name} ${value} is a typo of ${STS_AUDIENCE}`);
  if (value.length > 255) throw new UsageError(`--${name} is longer than the 255 characters IAM allows for a client ID`);
  return value;
}

/** `--ca-file`: a private CA bundle (check, verify). */
export const CA_FILE_OPTION: OptionSpec = { type: 'string', valueName: 'FILE', description: 'a private CA bundle to trust instead of the public roots' };

/** `--allow-http`: plain http, for loopback addresses only (check, verify, discovery). */
export const ALLOW_HTTP_OPTION: OptionSpec = { type: 'boolean', description: 'accept plain http on loopback addresses (local mode, tests)' };
