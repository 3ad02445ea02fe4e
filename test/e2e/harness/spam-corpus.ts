/*
 * test/e2e/harness/spam-corpus.ts — a small synthetic corpus for training and checking the
 * Bayes classifier in tests: spam and ham drawn from two disjoint vocabularies (plus shared
 * filler words), deterministic for a seed, written as an mbox, a maildir or single files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SPAM_WORDS = ['viagra', 'cheap', 'pills', 'winner', 'lottery', 'casino', 'bonus', 'unclaimed', 'prize', 'replica', 'watches', 'discount', 'pharmacy', 'mortgage', 'refinance', 'guaranteed', 'bitcoin', 'investment', 'doubling', 'inheritance'];
const HAM_WORDS = ['meeting', 'agenda', 'quarterly', 'review', 'project', 'milestone', 'deployment', 'kernel', 'patch', 'minutes', 'budget', 'roadmap', 'retrospective', 'invoice', 'colleague', 'schedule', 'architecture', 'release', 'standup', 'documentation'];
const FILLER = ['the', 'and', 'please', 'with', 'for', 'this', 'that', 'your', 'today', 'about'];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function corpusMessage(kind: 'spam' | 'ham', n: number, opts: { to?: string; from?: string } = {}): string {
  const r = rng((kind === 'spam' ? 7 : 13) * 100_003 + n);
  const words = kind === 'spam' ? SPAM_WORDS : HAM_WORDS;
  const pick = (xs: string[]) => xs[Math.floor(r() * xs.length)]!;
  const body = Array.from({ length: 6 }, () => Array.from({ length: 10 }, () => (r() < 0.6 ? pick(words) : pick(FILLER))).join(' ')).join('\r\n');
  const subject = `${pick(words)} ${pick(words)} ${pick(FILLER)}`;
  return [
    `From: ${opts.from ?? (kind === 'spam' ? `promo${n}@offers.test` : `colleague${n}@partner.test`)}`,
    `To: ${opts.to ?? 'user@corp.test'}`,
    `Subject: ${subject}`,
    `Date: Sat, 28 Nov 2026 04:00:${String(n % 60).padStart(2, '0')} +0000`,
    `Message-ID: <${kind}-${n}@corpus.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    body,
    '',
  ].join('\r\n');
}

/** n messages as one mbox file (mboxrd "From " separators). */
export function writeMbox(file: string, kind: 'spam' | 'ham', from: number, count: number): void {
  const parts: string[] = [];
  for (let i = from; i < from + count; i++) parts.push(`From MAILER-DAEMON Sat Nov 28 04:00:00 2026\n${corpusMessage(kind, i).replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1')}\n`);
  writeFileSync(file, parts.join(''));
}

/** n messages as a maildir (cur/ and new/, some in each). */
export function writeMaildir(dir: string, kind: 'spam' | 'ham', from: number, count: number): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = from; i < from + count; i++) writeFileSync(join(dir, i % 2 === 0 ? 'cur' : 'new', `${1_700_000_000 + i}.M${i}P1.host:2,S`), corpusMessage(kind, i));
}
