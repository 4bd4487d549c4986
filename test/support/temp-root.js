// One temp folder per jest run: globalSetup points TMPDIR (what os.tmpdir() and the tools the
// tests start read) at a fresh folder, globalTeardown reports what the tests left in it, then
// removes it. A test that leaves a folder is a bug to fix, and the machine stays clean meanwhile;
// a leftover `cdk.out*` (an App synthesized without an outdir, see test/infra/support/synth.ts)
// fails the run.
const { chmodSync, mkdtempSync, readdirSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const ROOT_VARIABLE = 'KUBE_OIDC_TEST_TMP_ROOT';
/** Caches tools keep on purpose (tsx's compile cache), not left by a test. */
const TOOL_CACHES = [/^tsx-\d+$/];

/** Names left in `root`, tool caches excluded. */
function leftovers(root) {
  return readdirSync(root).filter((name) => !TOOL_CACHES.some((pattern) => pattern.test(name))).sort();
}

async function setup() {
  const root = mkdtempSync(join(tmpdir(), 'kube-oidc-jest-'));
  // nginx's workers run as another user and must reach the folders tests make here.
  chmodSync(root, 0o711);
  process.env[ROOT_VARIABLE] = root;
  process.env.TMPDIR = root;
}

async function teardown() {
  const root = process.env[ROOT_VARIABLE];
  if (!root) return;
  let left = [];
  try {
    left = leftovers(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (left.length === 0) return;
  const message = `tests left ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} (removed now; the test that makes them should remove them): ${left.join(', ')}`;
  const cdkOut = left.filter((name) => name.startsWith('cdk.out'));
  if (cdkOut.length > 0) throw new Error(`${message}\n${cdkOut.length} are CDK cloud assemblies: synthesize with an outdir the test removes (testApp() in test/infra/support/synth.ts does).`);
  process.stderr.write(`warning: ${message}\n`);
}

module.exports = { setup, teardown, leftovers, ROOT_VARIABLE };
