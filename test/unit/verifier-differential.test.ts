/**
 * Differential test of the fast path: on a generated corpus (valid tokens, every attack class,
 * random mutations), the verifier and the jose-based reference (test/support/tokens.ts) must
 * make the same accept/reject decision for every token.
 */
import { createVerifier } from '../../core/verifier';
import { generateVerifierCorpus, referenceVerify, type VerifierCorpus } from '../support/tokens';

async function disagreements(corpus: VerifierCorpus): Promise<{ label: string; fast: string; reference: boolean }[]> {
  const verifier = createVerifier(corpus.jwks, corpus.policy, corpus.denyList);
  const found: { label: string; fast: string; reference: boolean }[] = [];
  for (const testCase of corpus.cases) {
    const request = { now: testCase.now, ...(testCase.audiences !== undefined ? { audiences: testCase.audiences } : {}) };
    const fast = verifier.verify(testCase.token, request);
    const reference = await referenceVerify(testCase.token, corpus, request);
    if (fast.ok !== reference) found.push({ label: testCase.label, fast: fast.ok ? 'accepted' : `${fast.reason}: ${fast.message}`, reference });
  }
  return found;
}

describe('fast path against jose.jwtVerify plus kube rules', () => {
  it('agrees on every token of the corpus (kid required)', async () => {
    const corpus = generateVerifierCorpus({ seed: 7, mutationsPerToken: 60 });
    expect(corpus.cases.length).toBeGreaterThan(450);
    expect(await disagreements(corpus)).toEqual([]);
  });

  it('agrees on every token of the corpus (kid-less compatibility on)', async () => {
    const corpus = generateVerifierCorpus({ seed: 11, mutationsPerToken: 30, kidlessCompat: true });
    expect(await disagreements(corpus)).toEqual([]);
  });

  it('the corpus exercises both decisions and every attack class is refused', async () => {
    const corpus = generateVerifierCorpus({ seed: 3, mutationsPerToken: 5 });
    const verifier = createVerifier(corpus.jwks, corpus.policy, corpus.denyList);
    const decided = corpus.cases.map((testCase) => ({ label: testCase.label, ok: verifier.verify(testCase.token, { now: testCase.now, audiences: testCase.audiences }).ok }));
    expect(decided.filter((item) => item.label.startsWith('valid')).every((item) => item.ok)).toBe(true);
    expect(decided.filter((item) => item.label.startsWith('attack:'))).toEqual(
      decided.filter((item) => item.label.startsWith('attack:')).map((item) => ({ ...item, ok: false })),
    );
    expect(decided.filter((item) => item.label === 'mutation').some((item) => !item.ok)).toBe(true);
  });
});
