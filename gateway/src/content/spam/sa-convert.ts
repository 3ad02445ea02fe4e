/*
 * content/spam/sa-convert.ts — SpamAssassin rule files (*.cf) → rule data our evaluator runs
 * (sa-rules.ts). Pure functions; bench/sa-rules.ts writes rules/spamassassin/rules.yaml with them.
 *
 * Translated: `header` (named headers with :raw/:addr/:name, ALL, ToCc, MESSAGEID, EnvelopeFrom,
 * `exists:`, `=~`/`!~`, `[if-unset: …]`), `body`, `rawbody`, `uri`, `full` regex rules, `meta`
 * (boolean and arithmetic over other rules), `replace_rules` templates (ReplaceTags), `score`
 * (one of the four score sets), `describe`, `tflags`. Perl regexes become JavaScript ones where
 * the meaning carries over (/x stripped, \A \z \Z, POSIX classes, possessive and atomic groups
 * loosened, a leading (?i) made a flag). Skipped, and counted by reason: `eval:` rules (Perl
 * code), network rules (tflags net: RBL, DCC, Razor, Pyzor, URIBL), SpamAssassin's pseudo
 * headers it computes from Received (X-Spam-Relays-*), `mimeheader`, regexes that do not
 * translate, and metas depending on anything skipped.
 */

export type SaRuleType = 'header' | 'body' | 'rawbody' | 'uri' | 'full' | 'meta';

export interface SaRule {
  readonly name: string;
  readonly type: SaRuleType;
  /** header rules: the header name (or ALL, ToCc, MESSAGEID, EnvelopeFrom) and modifier. */
  readonly header?: string;
  readonly mod?: 'raw' | 'addr' | 'name';
  /** header rules: '=~' match, '!~' must not match, 'exists' present. */
  readonly op?: '=~' | '!~' | 'exists';
  readonly ifUnset?: string;
  /** Regex source and flags, already JavaScript. */
  readonly re?: string;
  readonly flags?: string;
  /** meta rules: the expression over rule names. */
  readonly expr?: string;
  readonly score: number;
  readonly describe?: string;
}

export interface ConvertResult {
  readonly rules: SaRule[];
  readonly skipped: Record<string, string[]>;
}

interface Raw {
  type: string;
  name: string;
  def: string;
}

/** Strip an unescaped # comment (as SpamAssassin's config reader does) and unescape \#. */
function stripComment(line: string): string {
  const m = /(?<!\\)#/.exec(line);
  return (m ? line.slice(0, m.index) : line).replace(/\\#/g, '#').trim();
}

const POSIX: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: '\\s', punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9a-fA-F', word: '\\w', cntrl: '\\x00-\\x1f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e', blank: ' \\t',
};

/**
 * A Perl regex body and its flags → JavaScript source and flags, or an Error naming what does
 * not translate.
 */
export function perlToJs(src: string, perlFlags: string): { re: string; flags: string } | Error {
  let s = src;
  let flags = '';
  if (perlFlags.includes('i')) flags += 'i';
  if (perlFlags.includes('s')) flags += 's';
  if (perlFlags.includes('m')) flags += 'm';
  if (perlFlags.includes('x')) s = stripExtended(s);
  const lead = /^\(\?([ism]+)\)/.exec(s);
  if (lead) {
    for (const f of lead[1]!) if (!flags.includes(f)) flags += f;
    s = s.slice(lead[0].length);
  }
  if (/\(\?[a-z^-]*[:)]/.test(s.replace(/\(\?:/g, '').replace(/\(\?[=!<]/g, '').replace(/\(\?>/g, ''))) return new Error('inline modifier group');
  if (/\\[QEGKXRNpPC]|\(\?\||\(\?\(|\(\?[0-9R&]|\\g\{|\(\*/.test(s)) return new Error('Perl-only construct');
  s = s.replace(/\(\?#[^)]*\)/g, '')
    .replace(/\(\?>/g, '(?:')
    .replace(/\(\?P</g, '(?<')
    .replace(/\[:(\^?)([a-z]+):\]/g, (_m, neg: string, c: string) => (neg ? `\x00${c}` : POSIX[c] ?? `\x01${c}`))
    .replace(/\\A/g, '(?<![\\s\\S])')
    .replace(/\\z/g, '(?![\\s\\S])')
    .replace(/\\Z/g, '(?=\\n?(?![\\s\\S]))')
    .replace(/\\h/g, '[ \\t]')
    .replace(/\\x\{([0-9a-fA-F]{1,2})\}/g, (_m, h: string) => `\\x${h.padStart(2, '0')}`);
  if (s.includes('\x00') || s.includes('\x01')) return new Error('POSIX class');
  if (/\\x\{/.test(s)) return new Error('wide \\x{...}');
  // Possessive quantifiers (a++, a*+, a?+, a{2}+) → greedy ones.
  s = s.replace(/(?<!\\)([*+?}])\+/g, '$1');
  // Perl's {,n} is {0,n}.
  s = s.replace(/\{,(\d+)\}/g, '{0,$1}');
  try {
    new RegExp(s, flags);
  } catch (err) {
    return new Error(`not a JavaScript regex: ${(err as Error).message}`);
  }
  return { re: s, flags };
}

/** Perl /x: drop unescaped whitespace and # comments outside character classes. */
function stripExtended(s: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      out += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (s[i + 1] === ']') { out += ']'; i++; }
      continue;
    }
    if (/\s/.test(c)) continue;
    if (c === '#') {
      while (i < s.length && s[i] !== '\n') i++;
      continue;
    }
    out += c;
  }
  return out;
}

/** `/re/flags`, `m{re}flags`, `m!re!flags` → [body, flags, rest]. */
export function splitPerlRegex(text: string): [string, string, string] | null {
  let t = text.trim();
  let open = '/';
  if (t.startsWith('m') && t.length > 1 && !/[\w\s]/.test(t[1]!)) {
    open = t[1]!;
    t = t.slice(2);
  } else if (t.startsWith('/')) t = t.slice(1);
  else return null;
  const close = ({ '{': '}', '(': ')', '[': ']', '<': '>' } as Record<string, string>)[open] ?? open;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '\\') { i++; continue; }
    if (t[i] === close) {
      const rest = t.slice(i + 1);
      const flags = /^[a-z]*/.exec(rest)![0];
      let body = t.slice(0, i);
      // An escaped delimiter other than / means the character itself.
      if (close !== '/') body = body.split(`\\${close}`).join(close);
      return [body, flags, rest.slice(flags.length).trim()];
    }
  }
  return null;
}

/** Apply ReplaceTags templates (<A>, <post P2>, <inter W1> …) to one rule's regex text. */
function applyReplaceTags(def: string, tags: Map<string, string>): string {
  let out = def;
  for (let round = 0; round < 5 && /<[^<>]+>/.test(out); round++) {
    out = out.replace(/<((?:inter|pre|post) )?([A-Za-z0-9_]+)>/g, (m, _kind: string | undefined, tag: string) => {
      const key = _kind ? `${_kind.trim()} ${tag}` : tag;
      return tags.get(key) ?? m;
    });
  }
  return out;
}

/**
 * Convert the concatenated text of SpamAssassin's .cf files (in load order). `scoreSet` picks
 * which of the four scores a `score` line gives (0 no net/no Bayes, 1 net, 2 Bayes, 3 both).
 */
export function convertSaRules(files: ReadonlyArray<{ name: string; text: string }>, scoreSet: 0 | 1 | 2 | 3, opts: { negative?: boolean } = {}): ConvertResult {
  const defs = new Map<string, Raw>();
  const scores = new Map<string, number>();
  const describe = new Map<string, string>();
  const tflags = new Map<string, string>();
  const tags = new Map<string, string>();
  const replaceRules = new Set<string>();
  for (const { text } of files) {
    for (const rawLine of text.split(/\r?\n/)) {
      const line = stripComment(rawLine);
      if (line === '') continue;
      const m = /^(\S+)\s+(\S+)\s*(.*)$/.exec(line);
      if (!m) continue;
      const [, kw, name, rest] = m as unknown as [string, string, string, string];
      switch (kw) {
        case 'header': case 'body': case 'rawbody': case 'uri': case 'full': case 'meta': case 'mimeheader':
          defs.set(name, { type: kw, name, def: rest });
          break;
        case 'score': {
          const vals = rest.split(/\s+/).filter((v) => v !== '' && v !== '(' && v !== ')').map(Number).filter((v) => Number.isFinite(v));
          if (vals.length === 0) break;
          scores.set(name, vals.length >= 4 ? vals[scoreSet]! : vals[0]!);
          break;
        }
        case 'describe': describe.set(name, rest); break;
        case 'tflags': tflags.set(name, `${tflags.get(name) ?? ''} ${rest}`); break;
        case 'replace_tag': tags.set(name, rest); break;
        case 'replace_pre': case 'replace_post': case 'replace_inter':
          tags.set(`${kw.slice(8)} ${name}`, rest);
          break;
        case 'replace_rules': for (const r of `${name} ${rest}`.split(/\s+/)) if (r) replaceRules.add(r); break;
        default: break;
      }
    }
  }
  const skipped: Record<string, string[]> = {};
  const skip = (reason: string, name: string) => (skipped[reason] ??= []).push(name);
  const rules = new Map<string, SaRule>();
  // SpamAssassin's defaults for a rule without a `score` line: 1, or −1 for `tflags nice`.
  const defaultScore = (name: string) => (name.startsWith('__') ? 0 : name.startsWith('T_') ? 0.01 : /\bnice\b/.test(tflags.get(name) ?? '') ? -1 : 1);
  for (const raw of defs.values()) {
    const { name } = raw;
    const flags = tflags.get(name) ?? '';
    let score = scores.get(name) ?? defaultScore(name);
    // negative: false keeps SpamAssassin's ham-leaning ("nice") rules for metas only (score 0):
    // without its eval rules, the spam-leaning half they balance is partly missing.
    if (score < 0 && opts.negative === false && !name.startsWith('__')) {
      skip('negative score, kept for metas only (score 0)', name);
      score = 0;
    }
    const desc = describe.get(name);
    const base = { name, score, ...(desc ? { describe: desc } : {}) };
    if (/\bnet\b/.test(flags)) { skip('network (tflags net)', name); continue; }
    if (raw.type === 'mimeheader') { skip('mimeheader', name); continue; }
    if (raw.type === 'meta') {
      rules.set(name, { ...base, type: 'meta', expr: raw.def.trim() });
      continue;
    }
    let def = raw.def.trim();
    if (def.startsWith('eval:')) { skip('eval: (Perl code)', name); continue; }
    if (replaceRules.has(name)) def = applyReplaceTags(def, tags);
    if (raw.type === 'header') {
      const ex = /^exists:(\S+)$/.exec(def);
      if (ex) {
        rules.set(name, { ...base, type: 'header', header: ex[1]!, op: 'exists' });
        continue;
      }
      const h = /^(\S+?)(?::(raw|addr|name|host|domain|ip|revip|first|last))?\s*(=~|!~)\s*(.*)$/.exec(def);
      if (!h) { skip('header syntax', name); continue; }
      const [, header, mod, op, rx] = h as unknown as [string, string, string | undefined, '=~' | '!~', string];
      if (/^X-Spam-Relays|^X-Spam-/.test(header) && header !== 'X-Spam-Flag') { skip('SpamAssassin pseudo header (X-Spam-Relays-*)', name); continue; }
      if (mod && !['raw', 'addr', 'name'].includes(mod)) { skip(`header modifier :${mod}`, name); continue; }
      const parts = splitPerlRegex(rx);
      if (!parts) { skip('regex syntax', name); continue; }
      const js = perlToJs(parts[0], parts[1]);
      if (js instanceof Error) { skip(`regex: ${js.message.split(':')[0]}`, name); continue; }
      const unset = /^\[if-unset:\s*(.*)\]$/.exec(parts[2]);
      rules.set(name, {
        ...base, type: 'header', header, ...(mod ? { mod: mod as 'raw' | 'addr' | 'name' } : {}), op, re: js.re, flags: js.flags,
        ...(unset ? { ifUnset: unset[1]! } : {}),
      });
      continue;
    }
    const parts = splitPerlRegex(def);
    if (!parts) { skip('regex syntax', name); continue; }
    const js = perlToJs(parts[0], parts[1]);
    if (js instanceof Error) { skip(`regex: ${js.message.split(':')[0]}`, name); continue; }
    rules.set(name, { ...base, type: raw.type as SaRuleType, re: js.re, flags: js.flags });
  }
  // Metas: keep those whose every referenced rule is present (transitively); an absent rule
  // would read as false and silently change the meaning (a `!MISSING` would always be true).
  let changed = true;
  while (changed) {
    changed = false;
    for (const r of rules.values()) {
      if (r.type !== 'meta') continue;
      const bad = metaProblem(r.expr!, (n) => rules.has(n));
      if (bad) {
        rules.delete(r.name);
        skip(bad, r.name);
        changed = true;
      }
    }
  }
  // Drop what nothing uses: a rule that scores 0 (sub-rules, negative rules kept for metas)
  // and that no kept rule's meta refers to, directly or not, would cost time and say nothing.
  const used = new Set<string>();
  const use = (name: string) => {
    if (used.has(name)) return;
    used.add(name);
    const r = rules.get(name);
    if (r?.type === 'meta') for (const t of metaTokens(r.expr!) ?? []) if (rules.has(t)) use(t);
  };
  for (const r of rules.values()) if (r.score !== 0) use(r.name);
  for (const name of [...rules.keys()]) {
    if (!used.has(name)) {
      rules.delete(name);
      skip('unused (scores 0, feeds no kept meta)', name);
    }
  }
  return { rules: [...rules.values()], skipped };
}

const META_TOKEN = /\s*(\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|&&|\|\||[<>=!]=|[-+*/()<>!])/y;

/** Why a meta expression cannot be evaluated, or null. */
export function metaProblem(expr: string, known: (name: string) => boolean): string | null {
  const toks = metaTokens(expr);
  if (!toks) return 'meta syntax';
  for (const t of toks) if (/^[A-Za-z_]/.test(t) && !known(t)) return 'meta needs a skipped rule';
  return null;
}

export function metaTokens(expr: string): string[] | null {
  const out: string[] = [];
  META_TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    META_TOKEN.lastIndex = pos;
    const m = META_TOKEN.exec(expr);
    if (!m) return null;
    out.push(m[1]!);
    pos = META_TOKEN.lastIndex;
  }
  return out;
}
