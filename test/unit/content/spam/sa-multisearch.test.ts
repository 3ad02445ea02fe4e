/*
 * Unit tests of content/spam/sa-multisearch.ts: the one-pass search answers exactly what one
 * includes() per pattern answers (overlapping patterns, suffixes of each other, repeated,
 * non-ASCII, empty), on fixed cases and on random texts.
 */
import t from 'tap';
import { MultiSearch } from '../../../../gateway/src/content/spam/sa-multisearch.js';

const naive = (patterns: string[], text: string) => patterns.map((p) => (text.includes(p) ? 1 : 0));

t.test('fixed cases: overlaps, suffixes, failure links, non-ASCII, empty', async (t) => {
  const patterns = ['he', 'she', 'his', 'hers', 'viagra', 'agra', 'über', 'ber', '', 'aab', 'ab'];
  const m = new MultiSearch(patterns);
  for (const text of ['ushers', 'cheap viagra now', 'fahrvergnügen über alles', 'aaab', 'nothing here', '', 'xhix']) {
    t.same([...m.present(text)], naive(patterns, text), JSON.stringify(text));
  }
});

t.test('random texts over a small alphabet agree with includes()', async (t) => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const word = (len: number) => Array.from({ length: len }, () => 'abcä'[rnd(4)]).join('');
  const patterns = Array.from({ length: 60 }, () => word(1 + rnd(5)));
  const m = new MultiSearch(patterns);
  let mismatches = 0;
  for (let i = 0; i < 300; i++) {
    const text = word(rnd(40));
    if (JSON.stringify([...m.present(text)]) !== JSON.stringify(naive(patterns, text))) mismatches++;
  }
  t.equal(mismatches, 0);
});
