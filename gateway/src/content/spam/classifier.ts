/*
 * content/spam/classifier.ts — token counts → spam probability (Robinson's f(w) and Fisher's
 * chi-square combining, as in SpamBayes and bogofilter; SpamAssassin's Bayes uses the same).
 *
 * Per token: p = (b/nspam) / (b/nspam + g/nham), pulled towards x = 0.5 with strength s for
 * rarely seen tokens: f = (s·x + n·p) / (s + n), n = b + g. Only tokens with |f − 0.5| ≥
 * minDev count, at most maxClues of the most extreme ones. H = C⁻¹(−2 Σ ln f, 2k),
 * S = C⁻¹(−2 Σ ln (1 − f), 2k), I = (1 + H − S) / 2 (SpamBayes' chi2_spamprob): near 1 spam,
 * near 0 ham, near 0.5 unsure (both or neither). Pure functions: no storage here.
 */

export interface TokenCounts {
  readonly spam: number;
  readonly ham: number;
}

export interface ClassifierParams {
  /** Strength of the prior for rare tokens (SpamBayes unknown_word_strength). */
  readonly s: number;
  /** The prior for an unseen token (SpamBayes unknown_word_prob). */
  readonly x: number;
  /** Tokens closer than this to 0.5 are ignored (SpamBayes minimum_prob_strength). */
  readonly minDev: number;
  /** At most this many clues, the most extreme first (SpamBayes max_discriminators). */
  readonly maxClues: number;
  /**
   * SpamAssassin's CombineChi: the products start at the class shares (nspam/n for Π(1 − f),
   * nham/n for Π f), which leans towards spam when less spam than ham was learned.
   */
  readonly saCombine?: boolean;
}

/**
 * s 0.1 and minDev 0.2: between SpamBayes' (0.45, 0.1) and SpamAssassin's (0.030, 0.346), chosen
 * on TRAIN with the band scores below under the false-positive guard (docs/benchmarks.md, the
 * fidelity stop): a less confident Bayes on mail unlike what it learned, as SpamAssassin's.
 */
export const DEFAULT_PARAMS: ClassifierParams = { s: 0.1, x: 0.5, minDev: 0.2, maxClues: 150, saCombine: true };

export interface Classification {
  /** 0 = certainly ham, 1 = certainly spam. */
  readonly probability: number;
  /** The clues used, most extreme first (token, f), for explanations and tests. */
  readonly clues: ReadonlyArray<readonly [string, number]>;
}

export function tokenProbability(c: TokenCounts, nspam: number, nham: number, p: ClassifierParams = DEFAULT_PARAMS): number {
  const spamRatio = nspam > 0 ? c.spam / nspam : 0;
  const hamRatio = nham > 0 ? c.ham / nham : 0;
  const n = c.spam + c.ham;
  if (spamRatio + hamRatio === 0) return p.x;
  const prob = spamRatio / (spamRatio + hamRatio);
  return (p.s * p.x + n * prob) / (p.s + n);
}

/** Upper tail of the chi-square distribution with an even number of degrees of freedom. */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

export function classify(tokens: Iterable<string>, lookup: (token: string) => TokenCounts | undefined, nspam: number, nham: number, p: ClassifierParams = DEFAULT_PARAMS): Classification {
  const scored: Array<[string, number]> = [];
  for (const t of tokens) {
    const c = lookup(t);
    if (!c) continue;
    const f = tokenProbability(c, nspam, nham, p);
    if (Math.abs(f - 0.5) >= p.minDev) scored.push([t, f]);
  }
  scored.sort((a, b) => Math.abs(b[1] - 0.5) - Math.abs(a[1] - 0.5));
  const clues = scored.slice(0, p.maxClues);
  if (clues.length === 0) return { probability: 0.5, clues };
  let lnH = p.saCombine ? Math.log(nham / (nspam + nham)) : 0;
  let lnS = p.saCombine ? Math.log(nspam / (nspam + nham)) : 0;
  for (const [, f0] of clues) {
    const f = Math.min(Math.max(f0, 1e-6), 1 - 1e-6);
    lnH += Math.log(f);
    lnS += Math.log(1 - f);
  }
  const k = clues.length;
  // Many near-1 clues make Σ ln(1 − f) very negative: spamminess S → 1 (and likewise H).
  const S = 1 - chi2Q(-2 * lnS, 2 * k);
  const H = 1 - chi2Q(-2 * lnH, 2 * k);
  return { probability: (S - H + 1) / 2, clues };
}
