/**
 * Reads the code blocks of the user documentation so tests can check them against the code.
 *
 * A block is marked by an HTML comment on the line right before its opening fence:
 *
 *     <!-- block: guide-manifest -->
 *     ```sh
 *     kube-oidc manifest ...
 *     ```
 *
 * Every fenced block of the pages in {@link DOC_PAGES} must carry a unique id, and every id must be
 * checked by a test under `test/docs/` (see doc-coverage.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../../cli/main';
import type { Command, LeafCommand } from '../../../cli/command';

/** The project root. */
export const REPO_ROOT = join(__dirname, '..', '..', '..');

/** The pages whose blocks are checked, relative to the project root. */
export const DOC_PAGES = [
  'docs/guide.md',
  'docs/key-rotation.md',
  'docs/receiving-services.md',
  'docs/troubleshooting.md',
  'docs/security-model.md',
  'docs/webhook.md',
] as const;

/** One fenced code block of a page. */
export interface DocBlock {
  /** The id of its `<!-- block: ID -->` marker, when it has one. */
  readonly id?: string;
  /** The page, relative to the project root. */
  readonly page: string;
  /** The info string of the fence (`sh`, `yaml`, `json`, `text`, ...). */
  readonly lang: string;
  /** The block's content without the fences, indentation of the fence removed, ending with a newline. */
  readonly text: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

const MARKER = /^\s*<!-- block: ([a-z0-9-]+) -->\s*$/;
const FENCE = /^(\s*)```(.*)$/;

/** Every fenced block of a page, in order. */
export function blocksOf(page: string): DocBlock[] {
  const lines = readFileSync(join(REPO_ROOT, page), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const indent = open[1];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^${indent}\`\`\`\\s*$`).test(lines[j]); j += 1) {
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    if (j >= lines.length) throw new Error(`${page}:${i + 1}: code block is never closed`);
    const marker = i > 0 ? MARKER.exec(lines[i - 1]) : null;
    blocks.push({ ...(marker ? { id: marker[1] } : {}), page, lang: open[2].trim(), text: `${body.join('\n')}\n`, line: i + 1 });
    i = j;
  }
  return blocks;
}

let allBlocks: DocBlock[] | undefined;

/** Every block of every documented page. */
export function allDocBlocks(): DocBlock[] {
  allBlocks ??= DOC_PAGES.flatMap((page) => blocksOf(page));
  return allBlocks;
}

/** The block with this id; fails the test when the docs have no such block. */
export function docBlock(id: string): DocBlock {
  const found = allDocBlocks().filter((block) => block.id === id);
  if (found.length !== 1) throw new Error(`expected one documentation block "${id}", found ${found.length}`);
  return found[0];
}

/** Reads a file of the project (examples, docs) as text. */
export function projectFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** Joins backslash-continued lines and drops comments and blank lines: one command per entry. */
export function shellCommands(script: string): string[] {
  const joined = script.replace(/\\\n\s*/g, ' ');
  return joined.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Splits a command line into words the way a POSIX shell would for the simple lines the docs use:
 * single and double quotes, backslash escapes in double quotes, `$(...)` kept as one word. Not a
 * shell: good enough to find the flags of a `kube-oidc` invocation.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed quote in: ${line}`);
      current += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j += 1) {
        if (line[j] === '\\' && j + 1 < line.length) j += 1;
      }
      if (j >= line.length) throw new Error(`unclosed quote in: ${line}`);
      current += line.slice(i + 1, j).replace(/\\(["\\$`])/g, '$1');
      i = j;
      inWord = true;
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j += 1) {
        if (line[j] === '(') depth += 1;
        if (line[j] === ')') depth -= 1;
        if (depth === 0) break;
      }
      current += line.slice(i, j + 1);
      i = j;
      inWord = true;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** The argument lists of every `kube-oidc ...` invocation in a script (pipes and `&&` split off). */
export function kubeOidcInvocations(script: string): string[][] {
  const invocations: string[][] = [];
  for (const command of shellCommands(script)) {
    for (const part of command.split(/\s(?:\||&&|;)\s/)) {
      const words = shellWords(part.trim());
      const start = words.indexOf('kube-oidc');
      if (start < 0) continue;
      const args: string[] = [];
      const after = words.slice(start + 1);
      for (let i = 0; i < after.length; i += 1) {
        // A redirection is the shell's, not an argument: `< file` and `<file` alike.
        if (/^[0-9]?[<>]/.test(after[i])) {
          if (/^[0-9]?[<>]+$/.test(after[i])) i += 1;
          continue;
        }
        args.push(after[i]);
      }
      invocations.push(args);
    }
  }
  return invocations;
}

/**
 * Checks one `kube-oidc` argument list against the CLI's command registry: the command exists,
 * every flag is one of its flags, every string flag has a value, required flags are present and
 * the number of positional arguments fits. Returns the problems (none when it is valid).
 */
export function cliProblems(args: readonly string[]): string[] {
  let available: readonly Command[] = COMMANDS;
  let rest = [...args];
  let leaf: LeafCommand | undefined;
  const path: string[] = [];
  while (!leaf) {
    const word = rest.shift();
    const command = available.find((c) => c.name === word);
    if (!command) return [`no command "${[...path, word ?? ''].join(' ')}"`];
    path.push(command.name);
    if ('subcommands' in command) available = command.subcommands;
    else leaf = command;
  }
  const options: Record<string, { type: string; required?: boolean }> = { ...leaf.options, json: { type: 'boolean' }, help: { type: 'boolean' } };
  const problems: string[] = [];
  const positionals: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < rest.length; i += 1) {
    const word = rest[i];
    if (word.startsWith('--')) {
      const [name, inline] = word.slice(2).split(/=(.*)/s);
      const spec = options[name];
      if (!spec) {
        problems.push(`${path.join(' ')}: no flag --${name}`);
        continue;
      }
      seen.add(name);
      if (spec.type === 'string' && inline === undefined) {
        if (i + 1 >= rest.length) problems.push(`${path.join(' ')}: --${name} needs a value`);
        i += 1;
      }
    } else {
      positionals.push(word);
    }
  }
  for (const [name, spec] of Object.entries(leaf.options)) {
    if (spec.required && !seen.has(name) && !seen.has('help')) problems.push(`${path.join(' ')}: --${name} is required`);
  }
  const { min, max } = leaf.positionals ?? { min: 0, max: 0 };
  if (!seen.has('help') && (positionals.length < min || positionals.length > max)) {
    problems.push(`${path.join(' ')}: ${positionals.length} positional argument(s), expected ${min}..${max}`);
  }
  return problems;
}

/** `NAME=value` assignments of a script, in order (values unquoted, as the shell would see them). */
export function shellAssignments(script: string): Map<string, string> {
  const assignments = new Map<string, string>();
  for (const command of shellCommands(script)) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(command);
    if (match) assignments.set(match[1], shellWords(match[2]).join(' '));
  }
  return assignments;
}

/** Kube-apiserver flags of a block of `--flag=value` lines, in order. */
export function flagLines(text: string): { name: string; value: string }[] {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const match = /^--([a-z0-9-]+)=(.+)$/.exec(line);
    if (!match) throw new Error(`not a --flag=value line: ${line}`);
    return { name: match[1], value: match[2] };
  });
}

/**
 * Whether `actual` has the shape of `documented`: the same members at every level and the same
 * JSON types (arrays compared element by element up to the shorter length). Returns the paths that
 * differ, so a failing test says where.
 */
export function shapeDifferences(actual: unknown, documented: unknown, path = '$'): string[] {
  const typeOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
  if (typeOf(actual) !== typeOf(documented)) return [`${path}: ${typeOf(actual)} in the response, ${typeOf(documented)} in the docs`];
  if (Array.isArray(actual) && Array.isArray(documented)) {
    const differences: string[] = [];
    for (let i = 0; i < Math.min(actual.length, documented.length); i += 1) differences.push(...shapeDifferences(actual[i], documented[i], `${path}[${i}]`));
    return differences;
  }
  if (typeOf(actual) === 'object') {
    const a = actual as Record<string, unknown>;
    const d = documented as Record<string, unknown>;
    const differences: string[] = [];
    for (const key of new Set([...Object.keys(a), ...Object.keys(d)])) {
      if (!(key in a)) differences.push(`${path}.${key}: documented but not in the response`);
      else if (!(key in d)) differences.push(`${path}.${key}: in the response but not documented`);
      else differences.push(...shapeDifferences(a[key], d[key], `${path}.${key}`));
    }
    return differences;
  }
  return [];
}
