/**
 * Differential test of the fast path: on a generated corpus (valid tokens, every attack class,
 * random mutations), the verifier and the jose-based reference (test/support/tokens.ts) must
 * make the same accept/reject decision for every token.
 */
import { createVerifier } from '../../core/verifier';
import { generateVerifierCorpus, runDifferential } from '../support/tokens';

describe('fast path against jose.jwtVerify plus kube rules', () => {
  it('agrees on every token of the corpus (kid required)', async () => {
    const run = await runDifferential(generateVerifierCorpus({ seed: 7, mutationsPerToken: 150 }));
    expect(run.size).toBeGreaterThan(1000);
    expect(run.accepted).toBeGreaterThan(20);
    expect(run.disagreements).toEqual([]);
  });

  it('agrees on every token of the corpus (kid-less compatibility on)', async () => {
    const run = await runDifferential(generateVerifierCorpus({ seed: 11, mutationsPerToken: 60, kidlessCompat: true }));
    expect(run.accepted).toBeGreaterThan(20);
    expect(run.disagreements).toEqual([]);
  });

  it('the corpus exercises both decisions and every attack class is refused', () => {
    const corpus = generateVerifierCorpus({ seed: 3, mutationsPerToken: 5 });
    const verifier = createVerifier(corpus.jwks, corpus.policy, corpus.denyList);
    const decided = corpus.cases.map((testCase) => ({ label: testCase.label, ok: verifier.verify(testCase.token, { now: testCase.now, audiences: testCase.audiences }).ok }));
    expect(decided.filter((item) => item.label.startsWith('valid')).every((item) => item.ok)).toBe(true);
    const attacks = decided.filter((item) => item.label.startsWith('attack:'));
    expect(attacks.length).toBeGreaterThan(35);
    expect(attacks).toEqual(attacks.map((item) => ({ ...item, ok: false })));
    expect(decided.filter((item) => item.label === 'mutation').some((item) => !item.ok)).toBe(true);
  });
});
