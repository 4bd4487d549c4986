/**
 * The documentation's own rules: every code block of the user pages carries an id and is checked
 * by a test under test/docs/ (which names it), ids are unique, and every relative link and anchor
 * of these pages leads somewhere.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { allDocBlocks, DOC_PAGES, projectFile, REPO_ROOT } from './support/doc-blocks';

/** Ids named in the tests of this folder, other than this one. */
function idsNamedInTests(): Set<string> {
  const folder = join(REPO_ROOT, 'test', 'docs');
  const named = new Set<string>();
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.test.ts') && f !== 'doc-coverage.test.ts')) {
    for (const match of readFileSync(join(folder, file), 'utf8').matchAll(/'([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) named.add(match[1]);
  }
  return named;
}

/** GitHub's heading anchors: lowercase, punctuation dropped (not - or _), spaces to hyphens. */
function anchorsOf(page: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of projectFile(page).split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = !inFence && /^#{1,6} (.+)$/.exec(line);
    if (heading) anchors.add(heading[1].toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return anchors;
}

describe('documentation blocks', () => {
  const blocks = allDocBlocks();

  test('every page has blocks, and every block has an id', () => {
    for (const page of DOC_PAGES) expect(blocks.filter((b) => b.page === page).length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.id === undefined).map((b) => `${b.page}:${b.line}`)).toEqual([]);
  });

  test('ids are unique', () => {
    const ids = blocks.map((b) => b.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  test('every block is checked by a test that names it', () => {
    const named = idsNamedInTests();
    expect(blocks.filter((b) => !named.has(b.id as string)).map((b) => `${b.page}:${b.line} ${b.id}`)).toEqual([]);
  });
});

describe('links', () => {
  test.each([...DOC_PAGES])('%s: every relative link and anchor resolves', (page) => {
    const broken: string[] = [];
    const text = projectFile(page).replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#');
      const resolved = file === '' ? page : join(dirname(page), file);
      if (!existsSync(join(REPO_ROOT, resolved))) broken.push(`${target}: no file ${resolved}`);
      else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${target}: no heading #${anchor} in ${resolved}`);
    }
    expect(broken).toEqual([]);
  });
});
