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
 * code) unless ported (sa-eval.ts), network rules (tflags net: kept as always false, as SpamAssassin
 * without network tests), SpamAssassin's other pseudo headers (X-Spam-Relays-* are computed by
 * sa-relays.ts), `mimeheader`, regexes that do not translate, and metas depending on anything
 * skipped. `(?i:…)` groups become both-case classes (Node 20 has no inline modifiers).
 */

export type SaRuleType = 'header' | 'mimeheader' | 'body' | 'rawbody' | 'uri' | 'full' | 'meta' | 'eval';

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
  /** eval rules: SpamAssassin's function name (ported in sa-eval.ts) and its arguments. */
  readonly fn?: string;
  readonly args?: string[];
  readonly score: number;
  readonly describe?: string;
  /**
   * `tflags multiple` (regex rules): the rule's result is its number of matches, at most this
   * many (SpamAssassin's maxhits, 255 when unset), for metas that count (`__BODY_TEXT_LINE < 3`).
   */
  readonly max?: number;
  /** `tflags nosubject` (body rules): the Subject line is not part of the text. */
  readonly nosubject?: true;
}

export interface ConvertResult {
  readonly rules: SaRule[];
  /** freemail_domains (FreeMail plugin data: a domain, or a pattern with * and ?). */
  readonly freemail: string[];
  /** redirector_pattern: a redirecting URL's target is the regex's first group (sa-uri.ts). */
  readonly redirectors: Array<{ re: string; flags: string }>;
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
  const inl = inlineCaseless(s, flags.includes('i'));
  if (inl instanceof Error) return inl;
  s = inl;
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

/**
 * Perl's case-insensitive group `(?i:…)` (JavaScript has no inline modifiers in Node 20): under
 * the i flag it is a plain group; otherwise each letter in it becomes a class of both cases
 * (`(?i:sum)` → `(?:[sS][uU][mM])`), ranges in classes get their other-case range.
 */
export function inlineCaseless(src: string, caseless: boolean): string | Error {
  let out = '';
  let i = 0;
  while (i < src.length) {
    if (src[i] === '\\') { out += src.slice(i, i + 2); i += 2; continue; }
    if (src[i] === '[') {
      const end = classEnd(src, i);
      out += src.slice(i, end);
      i = end;
      continue;
    }
    if (!src.startsWith('(?i:', i)) { out += src[i]; i++; continue; }
    // Find the group's end.
    let depth = 0;
    let j = i;
    for (; j < src.length; j++) {
      const c = src[j]!;
      if (c === '\\') { j++; continue; }
      if (c === '[') { j = classEnd(src, j) - 1; continue; }
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    if (j >= src.length) return new Error('inline modifier group');
    // A (?i:…) inside a (?i:…) group adds nothing.
    const inner = src.slice(i + 4, j).replace(/\(\?i:/g, '(?:');
    if (/\(\?[a-z^-]*[:)]/.test(inner.replace(/\(\?[:=!<>]/g, ''))) return new Error('inline modifier group');
    out += `(?:${caseless ? inner : bothCases(inner)})`;
    i = j + 1;
  }
  return out;
}

/** The index just after the character class starting at src[start] === '['. */
function classEnd(src: string, start: number): number {
  let k = start + 1;
  if (src[k] === '^') k++;
  if (src[k] === ']') k++;
  for (; k < src.length; k++) {
    if (src[k] === '\\') { k++; continue; }
    if (src[k] === ']') return k + 1;
  }
  return src.length;
}

function bothCases(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      out += s.slice(i, i + 2);
      // \x41, \u0041 and \cX take further characters verbatim.
      if (s[i + 1] === 'x') { out += s.slice(i + 2, i + 4); i += 2; }
      i++;
      continue;
    }
    if (c === '[') {
      const end = classEnd(s, i);
      const body = s.slice(i + 1, end - 1);
      const extra = [...body.matchAll(/([a-zA-Z])-([a-zA-Z])|(?<!\\)([a-zA-Z])/g)]
        .map((m) => (m[1] ? `${swap(m[1])}-${swap(m[2]!)}` : swap(m[3]!))).join('');
      out += `[${body}${extra}]`;
      i = end - 1;
      continue;
    }
    if (c === '{') {
      const q = /^\{\d*,?\d*\}/.exec(s.slice(i));
      if (q) { out += q[0]; i += q[0].length - 1; continue; }
    }
    if (c === '(' && s[i + 1] === '?') {
      const g = /^\(\?(?:<[A-Za-z]\w*>|[:=!]|<[=!])/.exec(s.slice(i));
      if (g) { out += g[0]; i += g[0].length - 1; continue; }
    }
    out += /[a-zA-Z]/.test(c) ? `[${c}${swap(c)}]` : c;
  }
  return out;
}

const swap = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

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
  // Bracketing delimiters nest in Perl: m{a{0,20}b} ends at the balancing brace.
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '\\') { i++; continue; }
    if (close !== open && t[i] === open) { depth++; continue; }
    if (t[i] === close && depth > 0) { depth--; continue; }
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

/**
 * Hand translations of regexes JavaScript cannot express as written, where an equivalent exists
 * (checked against SpamAssassin's hits on TRAIN): `(?!(?i)\1)` is a case-insensitive
 * back-reference; the pseudo header it reads is lower-case, so the whole regex may ignore case.
 */
const HAND_TRANSLATED: Record<string, { re: string; flags: string }> = {
  __HELO_NOT_RDNS: { re: '^[^\\]]+ rdns=(\\S+) helo=(?!\\1)\\S', flags: 'i' },
};

/**
 * Apply ReplaceTags templates (<A>, <post P2>, <inter W1> …) to one rule's regex text, as
 * Mail::SpamAssassin::Plugin::ReplaceTags does: `<pre X>`, `<post X>` and `<inter X>` are
 * directives, not text — each is taken out of the rule, then X's value goes before every tag
 * (pre), after every tag (post) and between every two adjacent tags (inter; Perl's split leaves
 * an empty field there, and a leading one when the rule starts with a tag). Tags whose value holds
 * tags are expanded again (at most 5 passes); the directives apply on the pass that finds them.
 */
export function applyReplaceTags(def: string, tags: ReadonlyMap<string, string>): string {
  let out = def;
  for (let pass = 0; pass <= 5; pass++) {
    const directive: Record<string, string | undefined> = {};
    for (const kind of ['pre', 'post', 'inter']) {
      out = out.replace(new RegExp(`<${kind} (.+?)>`), (_m, name: string) => { directive[kind] = tags.get(`${kind} ${name}`); return ''; });
    }
    const parts = out.split(/(<[^<>]+>)/);
    // Perl's split drops trailing empty fields (a leading one stays).
    while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    let again = false;
    out = parts.map((part) => {
      if (part === '') return directive.inter ?? '';
      const tag = /<(.+?)>/.exec(part);
      if (!tag) return part;
      let p = part;
      if (directive.pre) p = p.replace(tag[0], `${directive.pre}${tag[0]}`);
      if (directive.post) p = p.split(tag[0]).join(`${tag[0]}${directive.post}`);
      const value = tags.get(tag[1]!);
      if (!value) return p;
      if (/<[^>]+>/.test(value)) again = true;
      return p.split(tag[0]).join(value);
    }).join('');
    if (!again) break;
  }
  return out;
}

/**
 * Convert the concatenated text of SpamAssassin's .cf files (in load order). `scoreSet` picks
 * which of the four scores a `score` line gives (0 no net/no Bayes, 1 net, 2 Bayes, 3 both).
 */
/** What SpamAssassin's `if` / `ifplugin` conditions are evaluated against. */
export interface SaConfEnv {
  /** SpamAssassin's version as its config compares it (4.0.1 = 4.000001). */
  readonly version: number;
  /** Loaded plugins (Mail::SpamAssassin::Plugin::X). */
  readonly plugins: ReadonlySet<string>;
  /** `can(Package::function)`: does the (loaded) code define it? */
  can(symbol: string): boolean;
}

/** Debian's SpamAssassin 4.0.1 as installed (loadplugin lines of /etc/spamassassin/*.pre). */
export const DEFAULT_SA_ENV: SaConfEnv = {
  version: 4.000001,
  plugins: new Set(['URIDNSBL', 'SPF', 'Rule2XSBody', 'Pyzor', 'Razor2', 'SpamCop', 'AutoLearnThreshold', 'WelcomeListSubject', 'MIMEHeader', 'ReplaceTags',
    'DKIM', 'Check', 'HTTPSMismatch', 'URIDetail', 'Bayes', 'BodyEval', 'DNSEval', 'HTMLEval', 'HeaderEval', 'MIMEEval', 'RelayEval', 'URIEval', 'WLBLEval',
    'VBounce', 'ImageInfo', 'FreeMail', 'AskDNS', 'HashBL', 'DMARC'].map((p) => `Mail::SpamAssassin::Plugin::${p}`)),
  // Every feature_*/has_* function 4.0.1's Conf.pm and loaded plugins define; compat_* are not functions there.
  can: (symbol) => { const plugin = /^(Mail::SpamAssassin::Plugin::\w+)::/.exec(symbol)?.[1]; return !/::compat_/.test(symbol) && (plugin === undefined || DEFAULT_SA_ENV.plugins.has(plugin)); },
};

/** An `if` condition: version comparisons, plugin(X), can(X), !, &&, ||, parentheses. */
export function evalSaCondition(expr: string, env: SaConfEnv): boolean {
  const js = expr.replace(/\bplugin\(\s*([\w:]+)\s*\)/g, (_m, p: string) => (env.plugins.has(p) ? '1' : '0'))
    .replace(/\bcan\(\s*([\w:]+)\s*\)/g, (_m, c: string) => (env.can(c) ? '1' : '0'))
    .replace(/\bversion\b/g, String(env.version));
  // Only numbers and operators are left; anything else is a condition we do not know: false.
  if (!/^[\d.\s()!<>=&|]*$/.test(js)) return false;
  return Boolean(new Function(`return (${js});`)());
}

/** `eval:fn('a', "b", 3)` → fn and its arguments as strings (Perl single quotes keep backslashes). */
export function parseEval(def: string): { fn: string; args: string[] } | null {
  const m = /^eval:([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$/.exec(def.trim());
  if (!m) return null;
  const args = [...m[2]!.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^,\s]+)/g)].map((a) => a[1] ?? a[2] ?? a[3]!);
  return { fn: m[1]!, args };
}

/**
 * `evals`: the names of SpamAssassin's eval functions that are ported (sa-eval.ts): their rules
 * are kept as `eval` rules; other `eval:` rules are skipped.
 */
export function convertSaRules(files: ReadonlyArray<{ name: string; text: string }>, scoreSet: 0 | 1 | 2 | 3, opts: { negative?: boolean; evals?: ReadonlySet<string>; metaOnly?: RegExp; env?: SaConfEnv } = {}): ConvertResult {
  const env = opts.env ?? DEFAULT_SA_ENV;
  const freemail: string[] = [];
  const redirectors: Array<{ re: string; flags: string }> = [];
  const defs = new Map<string, Raw>();
  const scores = new Map<string, number>();
  const describe = new Map<string, string>();
  const tflags = new Map<string, string>();
  const tags = new Map<string, string>();
  const replaceRules = new Set<string>();
  for (const { text } of files) {
    // if / ifplugin … else … endif, as SpamAssassin's config reader: lines in a false branch are
    // not read (before, a later `if (version < 4)` fallback such as `meta __SUBJ_ILLEGAL_CHARS 0`
    // replaced the real rule).
    const branches: boolean[] = [];
    for (const rawLine of text.split(/\r?\n/)) {
      const line = stripComment(rawLine);
      if (line === '') continue;
      const cond = /^(ifplugin|if|else|endif)\b\s*(.*)$/.exec(line);
      if (cond) {
        if (cond[1] === 'endif') branches.pop();
        else if (cond[1] === 'else') branches.push(!branches.pop());
        else branches.push(cond[1] === 'ifplugin' ? env.plugins.has(cond[2]!.trim()) : evalSaCondition(cond[2]!, env));
        continue;
      }
      if (branches.includes(false)) continue;
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
        case 'redirector_pattern': {
          const parts = splitPerlRegex(`${name} ${rest}`);
          const js = parts ? perlToJs(parts[0], parts[1]) : null;
          if (js && !(js instanceof Error)) redirectors.push(js);
          break;
        }
        case 'freemail_domains': freemail.push(...`${name} ${rest}`.split(/\s+/).filter((d) => d !== '').map((d) => d.toLowerCase())); break;
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
    // SpamAssassin's testing rules (T_*, 0.01 by default) say nothing a verdict could use, and some
    // are costly (T_FILL_THIS_FORM_SHORT alone was ~1 ms per message): metas only.
    if (name.startsWith('T_') && score !== 0) {
      skip('testing rule (T_*), kept for metas only (score 0)', name);
      score = 0;
    }
    // metaOnly: rules kept for metas only (score 0), chosen by validation inside TRAIN.
    if (opts.metaOnly?.test(name) && score !== 0 && !name.startsWith('__')) {
      skip('kept for metas only (score 0): raised false positives in validation', name);
      score = 0;
    }
    const desc = describe.get(name);
    // tflags multiple: a count of matches (capped), not a 0/1 result.
    const multiple = /\bmultiple\b/.test(flags) && ['body', 'rawbody', 'uri', 'full', 'header'].includes(raw.type) && !raw.def.trim().startsWith('eval:');
    const max = multiple ? Math.min(255, Number(/\bmaxhits=(\d+)/.exec(flags)?.[1] ?? 255)) : 0;
    const nosubject = raw.type === 'body' && /\bnosubject\b/.test(flags);
    const base = { name, score, ...(desc ? { describe: desc } : {}), ...(max > 0 ? { max } : {}), ...(nosubject ? { nosubject: true as const } : {}) };
    // Network tests (DNSBLs, URIBL, SPF, DKIM, Razor, …) read as false, as in SpamAssassin with
    // network tests off (score set 0 or 2): the metas that use them keep their meaning.
    // (A meta with tflags net is kept: it only combines other rules, as SpamAssassin -L runs it.)
    if (/\bnet\b/.test(flags) && raw.type !== 'meta') {
      skip('network (tflags net): false, as SpamAssassin without network tests', name);
      rules.set(name, { name, type: 'meta', expr: '0', score: 0 });
      continue;
    }
    if (raw.type === 'meta') {
      rules.set(name, { ...base, type: 'meta', expr: raw.def.trim() });
      continue;
    }
    let def = raw.def.trim();
    if (def.startsWith('eval:')) {
      const ev = parseEval(def);
      if (!ev || !opts.evals?.has(ev.fn) || !['header', 'body', 'rawbody', 'full', 'uri'].includes(raw.type)) { skip('eval: (Perl code)', name); continue; }
      rules.set(name, { ...base, type: 'eval', fn: ev.fn, args: ev.args });
      continue;
    }
    if (replaceRules.has(name)) def = applyReplaceTags(def, tags);
    if (raw.type === 'header' || raw.type === 'mimeheader') {
      const ex = /^exists:(\S+)$/.exec(def);
      if (ex) {
        rules.set(name, { ...base, type: raw.type, header: ex[1]!, op: 'exists' });
        continue;
      }
      const h = /^(\S+?)(?::(raw|addr|name|host|domain|ip|revip|first|last))?\s*(=~|!~)\s*(.*)$/.exec(def);
      if (!h) { skip('header syntax', name); continue; }
      const [, header, mod, op, rx] = h as unknown as [string, string, string | undefined, '=~' | '!~', string];
      if (/^X-Spam-/.test(header) && !/^X-Spam-Relays-(?:Trusted|Untrusted|Internal|External)$/.test(header) && header !== 'X-Spam-Flag') { skip('SpamAssassin pseudo header (X-Spam-*)', name); continue; }
      if (mod && !['raw', 'addr', 'name'].includes(mod)) { skip(`header modifier :${mod}`, name); continue; }
      const parts = splitPerlRegex(rx);
      if (!parts) { skip('regex syntax', name); continue; }
      const js = HAND_TRANSLATED[name] ?? perlToJs(parts[0], parts[1]);
      if (js instanceof Error) { skip(`regex: ${js.message.split(':')[0]}`, name); continue; }
      const unset = /^\[if-unset:\s*(.*)\]$/.exec(parts[2]);
      rules.set(name, {
        ...base, type: raw.type, header, ...(mod ? { mod: mod as 'raw' | 'addr' | 'name' } : {}), op, re: js.re, flags: js.flags,
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
  return { rules: [...rules.values()], skipped, freemail: [...new Set(freemail)], redirectors };
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
