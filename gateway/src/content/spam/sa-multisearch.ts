/*
 * content/spam/sa-multisearch.ts — which of many strings occur in a text, in one pass (an
 * Aho–Corasick automaton compiled to a DFA over the patterns' own alphabet). The rule engine's
 * prefilters (sa-rules.ts: a regex runs only when its required literal, or one of its required
 * alternatives, is in the text) asked `text.includes(s)` once per string — some 650 scans of the
 * body per message; this answers all of them with one scan, with the same answers.
 *
 * Patterns are matched as given (the caller lower-cases them and the text for case-blind rules).
 * Characters that appear in no pattern share one class, which always leads back to the root.
 */

export class MultiSearch {
  readonly size: number;
  /** charCode → class (0: in no pattern). */
  readonly #cls: Uint16Array;
  readonly #classes: number;
  /** DFA: next state for (state, class). */
  readonly #delta: Int32Array;
  /** For each state, the pattern ids that end there (its own and those of its suffix states). */
  readonly #out: ReadonlyArray<readonly number[] | null>;
  /** Ids of empty patterns: present in every text (as ''.includes). */
  readonly #empty: readonly number[];

  constructor(patterns: readonly string[]) {
    this.size = patterns.length;
    const cls = new Uint16Array(65536);
    let classes = 1;
    for (const p of patterns) for (let i = 0; i < p.length; i++) if (cls[p.charCodeAt(i)] === 0) cls[p.charCodeAt(i)] = classes++;
    this.#cls = cls;
    this.#classes = classes;
    // Trie.
    const next: Array<Map<number, number>> = [new Map()];
    const own: number[][] = [[]];
    const empty: number[] = [];
    patterns.forEach((p, id) => {
      if (p === '') {
        empty.push(id);
        return;
      }
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = cls[p.charCodeAt(i)]!;
        let t = next[s]!.get(c);
        if (t === undefined) {
          t = next.length;
          next.push(new Map());
          own.push([]);
          next[s]!.set(c, t);
        }
        s = t;
      }
      own[s]!.push(id);
    });
    // Breadth-first: failure links, outputs and the full transition table.
    const n = next.length;
    const delta = new Int32Array(n * classes);
    const fail = new Int32Array(n);
    const out: Array<number[] | null> = new Array<number[] | null>(n).fill(null);
    const queue: number[] = [];
    for (let c = 0; c < classes; c++) {
      const t = next[0]!.get(c);
      delta[c] = t ?? 0;
      if (t !== undefined) {
        fail[t] = 0;
        queue.push(t);
      }
    }
    out[0] = own[0]!.length > 0 ? own[0]! : null;
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q]!;
      const merged = [...own[s]!, ...(out[fail[s]!] ?? [])];
      out[s] = merged.length > 0 ? merged : null;
      for (let c = 0; c < classes; c++) {
        const t = next[s]!.get(c);
        if (t !== undefined) {
          fail[t] = delta[fail[s]! * classes + c]!;
          delta[s * classes + c] = t;
          queue.push(t);
        } else {
          delta[s * classes + c] = delta[fail[s]! * classes + c]!;
        }
      }
    }
    this.#delta = delta;
    this.#out = out;
    this.#empty = empty;
  }

  /** present[id] = 1 when pattern id occurs in text. */
  present(text: string): Uint8Array {
    const found = new Uint8Array(this.size);
    for (const id of this.#empty) found[id] = 1;
    const cls = this.#cls;
    const delta = this.#delta;
    const out = this.#out;
    const k = this.#classes;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      s = delta[s * k + cls[text.charCodeAt(i)]!]!;
      const o = out[s];
      if (o !== null) for (let j = 0; j < o!.length; j++) found[o![j]!] = 1;
    }
    return found;
  }
}
