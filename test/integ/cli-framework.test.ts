/**
 * The CLI framework's contract, in-process (main() with an in-memory io): how a subcommand
 * module plugs in, argument validation, help, JSON, exit statuses and error lines. The spawned
 * tests cover the real executable; these cover the many small cases cheaply.
 */
import { CliError, Command, CommandIo, EXIT_OK, LeafCommand, listFlag, ParsedArgs, UsageError } from '../../cli/command';
import { COMMANDS, commandHelp, main } from '../../cli/main';

interface FakeIo extends CommandIo {
  readonly out: string[];
  readonly err: string[];
}

function fakeIo(options: { stdin?: string; env?: Record<string, string> } = {}): FakeIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    readStdin: async () => options.stdin ?? '',
    env: options.env ?? {},
    now: () => new Date(Date.UTC(2027, 0, 1)),
    untilInterrupted: () => new Promise(() => undefined),
  };
}

/** A command as another engineer would add one: a module exporting a LeafCommand. */
function recordingCommand(name: string, behaviour: (args: ParsedArgs) => Promise<number> = async () => EXIT_OK): LeafCommand & { calls: ParsedArgs[] } {
  const calls: ParsedArgs[] = [];
  return {
    name,
    summary: `the ${name} command`,
    usage: 'FILE...',
    positionals: { min: 1, max: 3 },
    options: {
      cluster: { type: 'string', valueName: 'NAME', required: true, description: 'the cluster' },
      tag: { type: 'string', multiple: true, description: 'a tag' },
      force: { type: 'boolean', short: 'f', description: 'do it anyway' },
      region: { type: 'string', valueName: 'R', defaultText: 'us-east-1', description: 'the region' },
    },
    calls,
    async run(args, context) {
      calls.push(args);
      const status = await behaviour(args);
      context.emit(`ran ${name}`, { ran: name, tags: listFlag(args, 'tag') });
      return status;
    },
  };
}

describe('main', () => {
  test('a group with subcommands dispatches to the right module with parsed flags', async () => {
    const upload = recordingCommand('upload');
    const list = recordingCommand('list');
    const registry: Command[] = [{ name: 'keys', summary: 'manage keys', subcommands: [upload, list] }];
    const io = fakeIo();
    const status = await main(['keys', 'upload', 'a.pub', 'b.pub', '--cluster', 'c1', '--tag', 'x', '--tag', 'y', '-f'], io, registry);
    expect(status).toBe(0);
    expect(list.calls).toHaveLength(0);
    expect(upload.calls[0].positionals).toEqual(['a.pub', 'b.pub']);
    expect(upload.calls[0].values).toMatchObject({ cluster: 'c1', tag: ['x', 'y'], force: true });
    expect(io.out.join('')).toBe('ran upload\n');
  });

  test('--json makes emit print the data as JSON', async () => {
    const io = fakeIo();
    await main(['cmd', 'f', '--cluster', 'c', '--tag', 't', '--json'], io, [recordingCommand('cmd')]);
    expect(JSON.parse(io.out.join(''))).toEqual({ ran: 'cmd', tags: ['t'] });
  });

  test.each([
    [['cmd', 'f'], '--cluster is required'],
    [['cmd', '--cluster', 'c'], 'missing argument: FILE...'],
    [['cmd', 'a', 'b', 'c', 'd', '--cluster', 'c'], 'too many arguments: expected FILE...'],
    [['cmd', 'f', '--cluster', 'a', '--cluster', 'b'], '--cluster was given 2 times; it takes one value'],
    [['cmd', 'f', '--cluster'], '--cluster needs a value'],
    [['cmd', 'f', '--cluster', 'c', '--force=yes'], '--force does not take a value'],
    [['cmd', 'f', '--cluster', ''], '--cluster is required'],
    [['cmd', 'f', '--cluster', 'c', '--nope'], 'unknown option --nope'],
    [['cmd', '--cluster', 'c', '-Abc_def'], 'unknown option -A (a value that starts with "-", such as a key id, goes after "--")'],
    [['nope'], 'unknown command "nope" (commands: cmd)'],
    [['--cluster', 'x'], 'expected a command before --cluster (commands: cmd)'],
  ])('%j is a usage error (exit 2): %s', async (argv, message) => {
    const command = recordingCommand('cmd');
    const io = fakeIo();
    expect(await main(argv, io, [command])).toBe(2);
    expect(io.err[0]).toBe(`error: ${message}\n`);
    expect(io.err[1]).toMatch(/^\(see 'kube-oidc( cmd)? --help'\)\n$/);
    expect(command.calls).toHaveLength(0);
    expect(io.out).toEqual([]);
  });

  test('arguments after -- are positionals, even when they look like flags', async () => {
    const command = recordingCommand('cmd');
    expect(await main(['cmd', '--cluster', 'c', '--', '--help'], fakeIo(), [command])).toBe(0);
    expect(command.calls[0].positionals).toEqual(['--help']);
  });

  test('--help wins over missing or wrong flags, and describes every flag', async () => {
    const io = fakeIo();
    expect(await main(['cmd', '--bogus', '--help'], io, [recordingCommand('cmd')])).toBe(0);
    const help = io.out.join('');
    expect(help).toContain('Usage: kube-oidc cmd --cluster NAME [options] FILE...');
    expect(help).toMatch(/--tag VALUE +a tag \(repeatable\)/);
    expect(help).toMatch(/-f, --force +do it anyway/);
    expect(help).toMatch(/--region R +the region \(default: us-east-1\)/);
    expect(help).toMatch(/--cluster NAME +the cluster \(required\)/);
  });

  test('an expected failure is exit 1 with one line; with --json a JSON verdict too', async () => {
    const failing = recordingCommand('cmd', async () => {
      throw new CliError('cannot fetch https://x: connection refused\nsecond line');
    });
    const io = fakeIo();
    expect(await main(['cmd', 'f', '--cluster', 'c', '--json'], io, [failing])).toBe(1);
    expect(io.err).toEqual(['error: cannot fetch https://x: connection refused\n']);
    expect(JSON.parse(io.out.join(''))).toEqual({ ok: false, error: { status: 1, message: 'cannot fetch https://x: connection refused' } });
  });

  test('a usage error thrown by a command is exit 2', async () => {
    const picky = recordingCommand('cmd', async () => {
      throw new UsageError('--region must be an AWS region');
    });
    const io = fakeIo();
    expect(await main(['cmd', 'f', '--cluster', 'c'], io, [picky])).toBe(2);
    expect(io.err[0]).toBe('error: --region must be an AWS region\n');
  });

  test('an unexpected error prints one line, and the stack only with KUBE_OIDC_DEBUG', async () => {
    const buggy = recordingCommand('cmd', async () => {
      throw new TypeError('x is undefined');
    });
    const quiet = fakeIo();
    expect(await main(['cmd', 'f', '--cluster', 'c'], quiet, [buggy])).toBe(1);
    expect(quiet.err.join('')).not.toMatch(/^\s+at /m);
    expect(quiet.err[0]).toBe('error: x is undefined\n');
    const debug = fakeIo({ env: { KUBE_OIDC_DEBUG: '1' } });
    await main(['cmd', 'f', '--cluster', 'c'], debug, [buggy]);
    expect(debug.err.join('')).toMatch(/^\s+at /m);
  });

  test('error lines never carry a whole token', async () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const leaky = recordingCommand('cmd', async () => {
      throw new CliError(`rejected ${token}`);
    });
    const io = fakeIo();
    await main(['cmd', 'f', '--cluster', 'c'], io, [leaky]);
    expect(io.err[0]).toBe('error: rejected eyJhbGciOi...\n');
  });
});

describe('the registered commands', () => {
  test('each has a unique name, a summary, and help that mentions --json', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['decode', 'verify', 'check', 'discovery', 'trust-policy', 'manifest']));
    for (const command of COMMANDS) {
      expect(command.summary.length).toBeGreaterThan(10);
      if ('run' in command) expect(commandHelp(command, ['kube-oidc', command.name])).toContain('--json');
    }
  });

  test('verify reads the token from stdin with - and refuses an empty one', async () => {
    const io = fakeIo({ stdin: '\n' });
    expect(await main(['verify', '-', '--issuer', 'https://oidc.example.com', '--audience', 'a'], io)).toBe(2);
    expect(io.err[0]).toBe('error: TOKEN is empty (nothing on stdin)\n');
  });
});
