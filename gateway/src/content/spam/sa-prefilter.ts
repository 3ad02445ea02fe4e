/*
 * content/spam/sa-prefilter.ts — for a (JavaScript) regex, a set of lower-case strings such that
 * every match contains at least one of them, or null when no such set is found. Text (lower-cased)
 * containing none of them cannot match, and a few substring searches are much cheaper than a
 * regex that may start at every position — SpamAssassin's body-rule base extraction does the
 * same. This extends requiredLiteral (sa-rules.ts) to alternations: `(?:foo|bar)baz?` → {foo, bar}.
 *
 * The regex is parsed into sequences, alternations, groups and atoms. A sequence's requirement
 * is its best element's (a run of literal characters, or a group that is required); an
 * alternation's is the union of its branches' (null if one branch has none). Lookarounds and
 * optional parts require nothing. Every string is at least 3 characters; at most 40 strings.
 */

type Req = string[] | null;

const MIN = 3;
const MAX_SET = 40;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  /** alternation := sequence ('|' sequence)* */
  alternation(): Req {
    const branches: Req[] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    if (branches.some((b) => b === null)) return null;
    const set = [...new Set(branches.flat() as string[])];
    return set.length > MAX_SET ? null : set;
  }

  /** sequence := (atom quantifier?)* — the best requirement among its runs and groups. */
  sequence(): Req {
    const candidates: string[][] = [];
    let run = '';
    const endRun = () => {
      if (run.length >= MIN) candidates.push([run]);
      run = '';
    };
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.atom();
      const q = this.quantifier();
      if (atom.kind === 'char') {
        if (q === null) { run += atom.ch; continue; }
        if (q.min >= 1) { run += atom.ch; endRun(); continue; }
        endRun();
        continue;
      }
      endRun();
      if (atom.kind === 'group' && atom.req && (q === null || q.min >= 1)) candidates.push(atom.req);
    }
    endRun();
    if (candidates.length === 0) return null;
    // The best: the longest shortest string, then the fewest strings.
    candidates.sort((a, b) => Math.min(...b.map((x) => x.length)) - Math.min(...a.map((x) => x.length)) || a.length - b.length);
    return candidates[0]!;
  }

  quantifier(): { min: number } | null {
    const c = this.s[this.i];
    let min: number | null = null;
    if (c === '*' || c === '?') { min = 0; this.i++; }
    else if (c === '+') { min = 1; this.i++; }
    else if (c === '{') {
      const m = /^\{(\d*)(?:,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) return null; // a literal {
      min = m[1] === '' ? 0 : Number(m[1]);
      this.i += m[0].length;
    }
    if (min === null) return null;
    if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++; // lazy / possessive
    return { min };
  }

  atom(): { kind: 'char'; ch: string } | { kind: 'group'; req: Req } | { kind: 'other' } {
    const c = this.s[this.i]!;
    if (c === '(') {
      this.i++;
      let look = false;
      if (this.s[this.i] === '?') {
        const m = /^\?(?::|=|!|<=|<!|<[A-Za-z_]\w*>)/.exec(this.s.slice(this.i));
        if (!m) throw new Error('unknown group');
        look = ['?=', '?!', '?<=', '?<!'].includes(m[0]);
        this.i += m[0].length;
      }
      const req = this.alternation();
      if (this.s[this.i] !== ')') throw new Error('unbalanced');
      this.i++;
      return look ? { kind: 'other' } : { kind: 'group', req };
    }
    if (c === '[') {
      this.i++;
      if (this.s[this.i] === '^') this.i++;
      if (this.s[this.i] === ']') this.i++;
      while (this.i < this.s.length && this.s[this.i] !== ']') {
        if (this.s[this.i] === '\\') this.i++;
        this.i++;
      }
      this.i++;
      return { kind: 'other' };
    }
    if (c === '\\') {
      const n = this.s[this.i + 1] ?? '';
      this.i += 2;
      if (n === 'x' && /^[0-9a-fA-F]{2}/.test(this.s.slice(this.i))) {
        const ch = String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 2), 16));
        this.i += 2;
        return { kind: 'char', ch: ch.toLowerCase() };
      }
      if (n === 'u' && /^[0-9a-fA-F]{4}/.test(this.s.slice(this.i))) {
        const ch = String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 4), 16));
        this.i += 4;
        return { kind: 'char', ch: ch.toLowerCase() };
      }
      if (n === 'n') return { kind: 'char', ch: '\n' };
      if (n === 't') return { kind: 'char', ch: '\t' };
      if (/[^A-Za-z0-9]/.test(n)) return { kind: 'char', ch: n.toLowerCase() };
      if (/[1-9]/.test(n)) { while (/[0-9]/.test(this.s[this.i] ?? '')) this.i++; }
      if (n === 'c') this.i++;
      return { kind: 'other' };
    }
    this.i++;
    if (c === '.' || c === '^' || c === '$') return { kind: 'other' };
    return { kind: 'char', ch: c.toLowerCase() };
  }
}

/** Lower-case strings one of which every match contains, or null. */
export function requiredAlternatives(src: string): string[] | null {
  try {
    const p = new Parser(src);
    const req = p.alternation();
    if (p.i !== src.length) return null;
    if (!req || req.length === 0 || req.some((x) => x.length < MIN)) return null;
    return req;
  } catch {
    return null;
  }
}
