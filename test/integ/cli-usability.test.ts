/**
 * What a CLI user expects, through the real executable where it matters: `--version`, `help
 * COMMAND`, help that lists only a command's own flags, shell completion that loads and completes,
 * one exit-status rule in every command, errors that say what was wrong with which input and what
 * to do (never a raw library message), and advice that names only flags that exist.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommandIo, LeafCommand } from '../../cli/command';
import { bashCompletion, zshCompletion } from '../../cli/commands/completion';
import { COMMANDS, commandHelp, main, PROGRAM } from '../../cli/main';
import { dropSdkNodeVersionWarning, isSdkNodeVersionWarning } from '../../cli/process-warnings';
import { PROJECT_ROOT, runCli } from '../support/cli';

const dir = mkdtempSync(join(tmpdir(), 'kube-oidc-cli-usability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const goodKey = file('good.pub', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
const weakKey = file('weak.pub', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
const garbagePem = file('garbage.pem', '-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n');
const garbagePublic = file('garbage.pub', '-----BEGIN PUBLIC KEY-----\nZ2FyYmFnZQ==\n-----END PUBLIC KEY-----\n');
const missing = join(dir, 'missing.pem');

/**
 * Runs the CLI in-process: fast, for the many small cases. The AWS SDK reads the process
 * environment, so for the run it sees exactly `env` plus an empty HOME (no ~/.aws) and no AWS_*
 * variables of the test's own environment.
 */
async function inProcess(argv: readonly string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const runEnv: Record<string, string> = { HOME: dir, AWS_EC2_METADATA_DISABLED: 'true', ...env };
  const saved = { ...process.env };
  // The SDK's warning switch (test/support/quiet-aws-sdk.ts) stays: in-process runs skip bin/cli.ts's filter.
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_') && name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete process.env[name];
  Object.assign(process.env, runEnv);
  const io: CommandIo = {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    readStdin: async () => '',
    env: runEnv,
    now: () => new Date('2027-01-01T00:10:00Z'),
    untilInterrupted: () => new Promise(() => undefined),
  };
  try {
    const status = await main(argv, io);
    return { status, stdout, stderr };
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

function leaf(path: readonly string[]): LeafCommand {
  let available: readonly Command[] = COMMANDS;
  let found: Command | undefined;
  for (const name of path) {
    found = available.find((c) => c.name === name);
    if (!found) throw new Error(`no command ${path.join(' ')}`);
    if ('subcommands' in found) available = found.subcommands;
  }
  if (!found || 'subcommands' in found) throw new Error(`${path.join(' ')} is a group`);
  return found;
}

describe('--version and help', () => {
  test('--version prints the package version (exit 0)', async () => {
    const run = await runCli(['--version']);
    expect(run.status).toBe(0);
    const version = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
    expect(run.stdout).toBe(`kube-oidc ${version}\n`);
  });

  test('help COMMAND and help GROUP SUB print that command\'s own help, as --help does', async () => {
    for (const path of [['jwks'], ['keys', 'upload'], ['deny', 'add'], ['status']]) {
      const viaHelp = await inProcess(['help', ...path]);
      const viaFlag = await inProcess([...path, '--help']);
      expect(viaHelp.status).toBe(0);
      expect(viaHelp.stdout).toBe(viaFlag.stdout);
      expect(viaHelp.stdout).toContain(`Usage: kube-oidc ${path.join(' ')}`);
    }
    const group = await inProcess(['help', 'keys']);
    expect(group.stdout).toContain('Usage: kube-oidc keys SUBCOMMAND');
    const unknown = await inProcess(['help', 'nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('no help for "nope": not a command here (commands: local, decode');
  });

  test('each command\'s help lists only the flags it has: keys upload no longer shows sync\'s', async () => {
    const upload = (await inProcess(['keys', 'upload', '--help'])).stdout;
    for (const flag of ['--cluster', '--bucket', '--region', '--profile', '--config', '--json']) expect(upload).toContain(flag);
    for (const flag of ['--documents-bucket', '--issuer', '--distribution-id']) expect(upload).not.toContain(flag);
    const sync = (await inProcess(['sync', '--help'])).stdout;
    for (const flag of ['--documents-bucket', '--issuer', '--distribution-id', '--region', '--profile']) expect(sync).toContain(flag);
    // And a flag that help does not list is refused.
    const refused = await inProcess(['keys', 'upload', goodKey, '--bucket', 'b', '--documents-bucket', 'd']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('unknown option --documents-bucket');
  });
});

describe('shell completion', () => {
  const bashScript = (): string => bashCompletion(COMMANDS, PROGRAM);

  test('`completion bash` prints the script the registry generates, and refuses other shells (exit 2)', async () => {
    const run = await runCli(['completion', 'bash']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${bashScript()}`);
    const fish = await inProcess(['completion', 'fish']);
    expect(fish.status).toBe(2);
    expect(fish.stderr).toContain('completion is available for bash and zsh, not "fish"');
  });

  test('the bash script is valid bash and completes commands, subcommands, flags and file values', () => {
    const scriptFile = file('completion.bash', bashScript());
    expect(spawnSync('bash', ['-n', scriptFile], { encoding: 'utf8' }).stderr).toBe('');
    const probe = [
      `source ${scriptFile}`,
      'complete -p kube-oidc',
      't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _kube_oidc; echo "${COMPREPLY[*]}"; }',
      "t kube-oidc ''",
      't kube-oidc ke',
      "t kube-oidc keys ''",
      't kube-oidc keys upload --',
      't kube-oidc sync --cluster dev --dist',
      `t kube-oidc jwks ${join(dir, 'good.p')}`,
      `t kube-oidc discovery --jwks ${join(dir, 'weak.p')}`,
      "t kube-oidc help ''",
      "t kube-oidc completion ''",
    ].join('\n');
    const run = spawnSync('bash', ['-c', probe], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('complete -F _kube_oidc kube-oidc');
    expect(lines[1].split(' ')).toEqual(expect.arrayContaining(['local', 'decode', 'verify', 'check', 'keys', 'deny', 'sync', 'status', 'completion', 'help', '--version']));
    expect(lines[2]).toBe('keys');
    expect(lines[3]).toBe('upload list revoke --help');
    expect(lines[4]).toBe('--cluster --bucket --region --profile --config --json --help');
    expect(lines[5]).toBe('--distribution-id');
    expect(lines[6]).toBe(goodKey);
    expect(lines[7]).toBe(weakKey);
    expect(lines[8].split(' ')).toContain('status');
    expect(lines[9]).toBe('bash zsh');
  });

  test('the zsh script is valid zsh and offers the same words', () => {
    const probeZsh = spawnSync('zsh', ['--version'], { encoding: 'utf8' });
    if (probeZsh.error) throw new Error('zsh is not installed: the zsh completion test needs it. Install it with `apt-get install zsh`.');
    const scriptFile = file('completion.zsh', zshCompletion(COMMANDS, PROGRAM));
    expect(spawnSync('zsh', ['-n', scriptFile], { encoding: 'utf8' }).stderr).toBe('');
    // Outside a completion widget, compadd/_files/compdef are stubbed to print what they were given.
    const probe = [
      'compdef() { print -r -- "compdef $*" }',
      'compadd() { [[ $1 == -a ]] && print -r -- "${(P@)2}" }',
      '_files() { print -r -- FILES }',
      `source ${scriptFile}`,
      't() { words=("$@"); CURRENT=${#words}; _kube_oidc }',
      "t kube-oidc keys ''",
      "t kube-oidc keys upload --config ''",
      "t kube-oidc deny add ''",
    ].join('\n');
    const run = spawnSync('zsh', ['-c', probe], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n').slice(0, 4)).toEqual([
      'compdef _kube_oidc kube-oidc',
      'upload list revoke --help',
      'FILES',
      '--cluster --bucket --region --profile --config --state-dir --issuer --kind --reason --json --help',
    ]);
  });
});

describe('the AWS SDK\'s Node-version warning', () => {
  test('exactly that warning is dropped; every other warning passes', () => {
    const emitted: unknown[][] = [];
    const target = { emitWarning: (...args: unknown[]) => { emitted.push(args); } };
    dropSdkNodeVersionWarning(target as never);
    // How @aws-sdk/core emits it (message first word), and the typed forms.
    target.emitWarning('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after ...');
    target.emitWarning('the SDK will drop your node', 'NodeVersionSupportWarning');
    target.emitWarning('the SDK will drop your node', { type: 'NodeVersionSupportWarning' });
    target.emitWarning('Buffer() is deprecated', 'DeprecationWarning', 'DEP0005');
    target.emitWarning('something else');
    expect(emitted).toEqual([['Buffer() is deprecated', 'DeprecationWarning', 'DEP0005'], ['something else']]);
    expect(isSdkNodeVersionWarning(new Error('x'))).toBe(false);
  });

  test('the filter matches what the installed AWS SDK emits', () => {
    // Read the SDK's own source: if a release renames the warning, this fails instead of the CLI going noisy.
    const source = readFileSync(join(PROJECT_ROOT, 'node_modules', '@aws-sdk', 'core', 'dist-cjs', 'submodules', 'client', 'index.js'), 'utf8');
    const emitted = /process\.emitWarning\(`([^`:]+):/.exec(source);
    expect(emitted?.[1]).toBe('NodeVersionSupportWarning');
  });
});

describe('one exit-status rule, in every command', () => {
  // [argv, expected status, text the one-line error or output must contain]
  const cases: [string[], number, string][] = [
    // 2: an unusable input, whichever command reads it.
    [['jwks', weakKey], 2, 'RSA key of 1024 bits is too small'],
    [['discovery', '--issuer', 'https://oidc.example.com/a', '--jwks', weakKey], 2, 'RSA key of 1024 bits is too small'],
    [['keys', 'upload', weakKey, '--bucket', 'b'], 2, 'RSA key of 1024 bits is too small'],
    [['jwks', garbagePem], 2, 'the RSA PRIVATE KEY block cannot be decoded (corrupt, truncated or mislabelled base64)'],
    [['jwks', garbagePublic], 2, 'the PUBLIC KEY block cannot be decoded'],
    [['discovery', '--issuer', 'https://oidc.example.com/a', '--jwks', garbagePem], 2, 'the RSA PRIVATE KEY block cannot be decoded'],
    [['keys', 'upload', garbagePem, '--bucket', 'b'], 2, 'Nothing was uploaded'],
    [['jwks', missing], 2, `cannot read FILE ${missing}: no such file`],
    [['discovery', '--issuer', 'https://oidc.example.com/a', '--jwks', missing], 2, `cannot read --jwks ${missing}: no such file`],
    [['decode', 'abc'], 2, 'TOKEN is not a JWT: it has 1 part'],
    [['decode', 'eyJhbGciOiJSUzI1NiJ9.bm90anNvbg.c2ln'], 2, 'TOKEN\'s claims part does not decode to JSON'],
    [['decode', 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln', '--now', 'soon'], 2, '--now must be an ISO 8601 time or epoch seconds'],
    [['verify', 'a.b.c', '--issuer', 'ftp://x', '--audience', 'a'], 2, '--issuer must use https://'],
    [['check', '--issuer', 'https://oidc.example.com/a', '--ca-file', missing], 2, `cannot read --ca-file ${missing}`],
    [['trust-policy', '--issuer', 'https://oidc.example.com/a', '--namespace', 'Payments', '--service-account', 'api', '--account-id', '123456789012'], 2, 'is not a Kubernetes namespace name'],
    [['manifest', '--role-arn', 'x', '--namespace', 'a', '--service-account', 'b', '--region', 'eu-west-1'], 2, 'is not an IAM role ARN'],
    [['keys', 'revoke', 'kid'], 2, 'name the cluster: --cluster NAME'],
    [['deny', 'add', '--kind', 'bogus', 'x', '--bucket', 'b'], 2, '--kind must be one of'],
    [['deny', 'list', '--bucket', 'b', '--region', 'Mars'], 2, '--region Mars is not an AWS region name'],
    [['sync', '--bucket', 'b', '--jwks-url', 'https://10.0.0.1:6443/openid/v1/jwks', '--ca-file', missing], 2, `cannot read --ca-file ${missing}`],
    [['status'], 2, '--cluster is required'],
    [['completion'], 2, 'missing argument: bash|zsh'],
    // 1: the command ran and the answer is no, or the outside world stopped it.
    [['verify', 'a.b.c', '--issuer', 'http://127.0.0.1:9', '--audience', 'a', '--allow-http'], 1, 'cannot fetch the discovery document'],
    [['check', '--issuer', 'http://127.0.0.1:9', '--allow-http', '--skip-iam'], 1, 'FAIL'],
    [['keys', 'list', '--bucket', 'b'], 1, 'no AWS credentials found'],
    [['status', '--cluster', 'dev'], 1, 'no AWS credentials found'],
    // 0
    [['jwks', goodKey], 0, '"keys"'],
    [['discovery', '--issuer', 'https://oidc.example.com/a', '--jwks', goodKey], 0, '"jwks_uri"'],
    [['trust-policy', '--issuer', 'https://oidc.example.com/a', '--namespace', 'payments', '--service-account', 'api', '--account-id', '123456789012'], 0, 'sts:AssumeRoleWithWebIdentity'],
    [['completion', 'zsh'], 0, '#compdef kube-oidc'],
  ];

  test.each(cases)('%j exits %i', async (argv, status, text) => {
    const run = await inProcess(argv);
    expect({ status: run.status, output: run.stdout + run.stderr }).toEqual({ status, output: expect.stringContaining(text) });
    if (status !== 0) expect(run.stderr).toMatch(/^error: |\n?$/);
    // No raw library message reaches the user.
    expect(run.stdout + run.stderr).not.toMatch(/error:[0-9A-F]{8}:|routines::|Invalid Token or Protected Header|Failed to parse the decoded payload|ENOENT/);
  });

  test('a 1024-bit key is exit 2 in jwks, discovery --jwks and keys upload alike (spawned)', async () => {
    const runs = await Promise.all([
      runCli(['jwks', weakKey]),
      runCli(['discovery', '--issuer', 'https://oidc.example.com/a', '--jwks', weakKey]),
      runCli(['keys', 'upload', weakKey, '--bucket', 'b']),
    ]);
    expect(runs.map((run) => run.status)).toEqual([2, 2, 2]);
    for (const run of runs) {
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`${weakKey}#1 (PUBLIC KEY): RSA key of 1024 bits is too small: at least 2048 bits are required`);
      expect(run.stderr).toContain('RSA keys of at least 2048 bits');
    }
  });

  test('help states the rule in every command', () => {
    const leaves: [string[], LeafCommand][] = [];
    const visit = (command: Command, path: string[]): void => {
      if ('subcommands' in command) command.subcommands.forEach((sub) => visit(sub, [...path, sub.name]));
      else leaves.push([path, command]);
    };
    COMMANDS.forEach((command) => visit(command, [command.name]));
    for (const [path, command] of leaves) {
      const help = commandHelp(command, ['kube-oidc', ...path]);
      expect(help).toContain('Exit status: 0 ok; 1 the command ran and the answer is no');
      expect(help).toContain('2 the command line or an input is unusable');
    }
  });
});

describe('advice names flags that exist', () => {
  test('trust-policy refuses an http issuer without advising --allow-http, which it does not have', async () => {
    const run = await inProcess(['trust-policy', '--issuer', 'http://oidc.example.com/a', '--namespace', 'payments', '--service-account', 'api', '--account-id', '123456789012']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('error: --issuer must use https://: AWS STS and IAM accept only https issuers');
    expect(run.stderr).not.toContain('--allow-http');
  });

  /**
   * Every `--flag` in what a command prints must be one of its own flags, or belong to the command
   * the message names (`kube-oidc sync --cluster dev`), or be a kube-apiserver flag the advice is about.
   */
  const KUBE_APISERVER_FLAGS = ['--service-account-issuer', '--service-account-jwks-uri', '--service-account-extend-token-expiration', '--stack-name'];

  function flagsOf(path: string[]): Set<string> {
    return new Set([...Object.keys(leaf(path).options).map((name) => `--${name}`), '--json', '--help']);
  }

  function misnamedFlags(path: string[], text: string): string[] {
    const own = flagsOf(path);
    const problems: string[] = [];
    // Flags inside a quoted `kube-oidc OTHER ...` invocation are checked against OTHER.
    const quoted = [...text.matchAll(/`kube-oidc ([a-z-]+(?: [a-z]+)?)([^`]*)`/g)];
    let rest = text;
    for (const [whole, commandPath, args] of quoted) {
      rest = rest.replace(whole, '');
      const words = commandPath.split(' ');
      const target = (() => {
        try {
          return flagsOf(words);
        } catch {
          return flagsOf(words.slice(0, 1));
        }
      })();
      for (const flag of args.match(/--[a-z][a-z-]*/g) ?? []) if (!target.has(flag)) problems.push(`${flag} (in \`kube-oidc ${commandPath}\`)`);
    }
    for (const flag of rest.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []) {
      if (!own.has(flag) && !KUBE_APISERVER_FLAGS.includes(flag)) problems.push(flag);
    }
    return problems;
  }

  const bad: [string[], string[]][] = [
    [['trust-policy'], ['--issuer', 'http://oidc.example.com/a', '--namespace', 'payments', '--service-account', 'api', '--account-id', '123456789012']],
    [['trust-policy'], ['--issuer', 'https://oidc.example.com/a', '--namespace', 'payments', '--service-account', 'api']],
    [['trust-policy'], ['--issuer', 'https://oidc.example.com/a', '--namespace', 'payments', '--service-account', 'api', '--account-id', '1', '--partition', 'x']],
    [['discovery'], ['--issuer', 'http://oidc.example.com/a']],
    [['discovery'], ['--issuer', 'https://oidc.example.com/a/']],
    [['verify'], ['a.b.c', '--issuer', 'http://oidc.example.com', '--audience', 'a']],
    [['verify'], ['a.b.c', '--issuer', 'http://oidc.example.com', '--audience', 'a', '--allow-http']],
    [['check'], ['--issuer', 'http://oidc.example.com', '--skip-iam']],
    [['check'], ['--issuer', 'http://127.0.0.1:9', '--skip-iam']],
    [['check'], ['--issuer', 'https://oidc.example.com', '--cluster-ca-file', 'x']],
    [['manifest'], ['--role-arn', 'arn:aws:iam::123456789012:role/r', '--namespace', 'a', '--service-account', 'b']],
    [['manifest'], ['--role-arn', 'arn:aws:iam::123456789012:role/r', '--namespace', 'a', '--service-account', 'b', '--region', 'eu-west-1', '--audience', 'sts.amazon.com']],
    [['manifest'], ['--role-arn', 'arn:aws:iam::123456789012:role/r', '--namespace', 'a', '--service-account', 'b', '--region', 'eu-west-1', '--audience', 'api', '--expiration', '3607']],
    [['keys', 'list'], []],
    [['keys', 'list'], ['--cluster', 'a', '--bucket', 'b']],
    [['keys', 'list'], ['--cluster', 'dev']],
    [['keys', 'revoke'], ['kid', '--bucket', 'b']],
    [['deny', 'add'], ['--kind', 'x', 'v', '--bucket', 'b']],
    [['deny', 'add'], ['--kind', 'jti', 'v', '--issuer', 'http://127.0.0.1:8787/a']],
    [['deny', 'list'], ['--state-dir', '/nonexistent-kube-oidc-state']],
    [['sync'], ['--bucket', 'b', '--token-file', 'x']],
    [['sync'], ['--cluster', 'dev']],
    [['status'], ['--cluster', 'dev']],
    [['decode'], ['abc']],
    [['jwks'], [weakKey]],
    [['discovery'], ['--issuer', 'https://oidc.example.com/a', '--jwks', garbagePem]],
  ];

  test.each(bad)('%j %j: every --flag in the output exists', async (path, args) => {
    const withCredentials = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
    for (const env of [{}, withCredentials]) {
      const run = await inProcess([...path, ...args], env);
      expect(misnamedFlags(path, run.stdout + run.stderr)).toEqual([]);
    }
  });
});
