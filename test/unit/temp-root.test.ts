/**
 * test/support/temp-root.js, jest's globalSetup/globalTeardown: what a run leaves in its temp
 * folder is reported, a leftover cloud assembly fails the run, and the folder goes either way.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Plain JavaScript: jest loads it as globalSetup/globalTeardown without a transform.
const tempRoot = require('../support/temp-root') as {
  setup(): Promise<void>;
  teardown(): Promise<void>;
  leftovers(root: string): string[];
  ROOT_VARIABLE: string;
};

/** Runs `body` with the run-root variables pointing at a fresh folder, restoring them after. */
async function withRunRoot(body: (root: string) => Promise<void>): Promise<void> {
  const saved = { root: process.env[tempRoot.ROOT_VARIABLE], tmp: process.env.TMPDIR };
  const root = mkdtempSync(join(tmpdir(), 'kube-oidc-temp-root-test-'));
  process.env[tempRoot.ROOT_VARIABLE] = root;
  try {
    await body(root);
  } finally {
    process.env[tempRoot.ROOT_VARIABLE] = saved.root;
    if (saved.tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved.tmp;
    rmSync(root, { recursive: true, force: true });
  }
}

describe('the per-run temp folder', () => {
  test('this run uses one: os.tmpdir() is the folder globalSetup made', () => {
    const root = process.env[tempRoot.ROOT_VARIABLE];
    expect(root).toMatch(/kube-oidc-jest-/);
    expect(tmpdir()).toBe(root);
  });

  test('setup makes a folder others can traverse (nginx workers) and points TMPDIR at it', async () => {
    const saved = { root: process.env[tempRoot.ROOT_VARIABLE], tmp: process.env.TMPDIR };
    try {
      await tempRoot.setup();
      const made = process.env[tempRoot.ROOT_VARIABLE] as string;
      expect(made).not.toBe(saved.root);
      expect(process.env.TMPDIR).toBe(made);
      expect(statSync(made).mode & 0o777).toBe(0o711);
      rmSync(made, { recursive: true, force: true });
    } finally {
      process.env[tempRoot.ROOT_VARIABLE] = saved.root;
      if (saved.tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved.tmp;
    }
  });

  test('a clean run passes and the folder is removed; tool caches do not count', async () => {
    await withRunRoot(async (root) => {
      mkdirSync(join(root, 'tsx-0'));
      expect(tempRoot.leftovers(root)).toEqual([]);
      await expect(tempRoot.teardown()).resolves.toBeUndefined();
      expect(existsSync(root)).toBe(false);
    });
  });

  test('a leftover cdk.out* fails the run, names it, and is removed all the same', async () => {
    await withRunRoot(async (root) => {
      mkdirSync(join(root, 'cdk.outAbC123'));
      mkdirSync(join(root, 'kube-oidc-pki-x'));
      await expect(tempRoot.teardown()).rejects.toThrow(/tests left 2 temp entries .*cdk\.outAbC123, kube-oidc-pki-x[\s\S]*CDK cloud assemblies/);
      expect(existsSync(root)).toBe(false);
    });
  });

  test('other leftovers are reported as a warning, not a failure', async () => {
    await withRunRoot(async (root) => {
      mkdirSync(join(root, 'kube-oidc-pki-y'));
      const written: string[] = [];
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { written.push(String(chunk)); return true; });
      try {
        await expect(tempRoot.teardown()).resolves.toBeUndefined();
      } finally {
        spy.mockRestore();
      }
      expect(written.join('')).toContain('warning: tests left 1 temp entry');
      expect(written.join('')).toContain('kube-oidc-pki-y');
      expect(existsSync(root)).toBe(false);
    });
  });
});
