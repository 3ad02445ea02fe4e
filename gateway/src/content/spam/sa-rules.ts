/*
 * content/spam/sa-rules.ts — evaluate SpamAssassin's rules (translated to data by
 * sa-convert.ts, kept in rules/spamassassin/rules.yaml) on a parsed message.
 *
 * What each rule type sees, as in SpamAssassin:
 * - header: the named header's value, RFC 2047-decoded unless :raw, several occurrences joined
 *   by newlines; :addr the first address, :name the display name; ALL the header block as
 *   received; ToCc To and Cc; MESSAGEID the Message-Id family; EnvelopeFrom as SpamAssassin's
 *   get_envelope_from; X-Spam-Relays-* computed from Received (sa-relays.ts). An absent header
 *   reads as its [if-unset] value, else as empty. mimeheader: a header of any MIME part.
 * - body: the Subject, then every text/plain and text/html part rendered as SpamAssassin does
 *   (renderedBody, bodyLines), one line per paragraph, whitespace collapsed, as UTF-8 bytes;
 *   rawbody: each text part's transfer-decoded bytes in 2–4 KB chunks, as
 *   SpamAssassin (sa-mime.ts rawbodyChunks); uri: each link and each e-mail address in the
 *   text (as mailto:), with SpamAssassin's canonical variants (sa-uri.ts); full: the raw message.
 * - eval: a ported Perl function (sa-eval.ts) on a lazily built view (MIME, HTML, relays).
 * - meta: an expression over other rules (true = 1).
 * Evaluation is lazy: the scoring rules run for every message, a sub-rule only when a meta's
 * expression reaches it (&& operands cheapest first, short-circuit). Each regex is compiled once,
 * to native code, just before its first run (nativeCode; regexp-tier.ts); a regex
 * runs only when the text holds its required literal or one of its required alternatives
 * (sa-prefilter.ts), and a body rule first runs once on all paragraphs joined. Inputs are bounded (the parsed text is at most 256 KiB, paragraphs 4 KiB,
 * at most 400 links). Hits named SA_<RULE> carry SpamAssassin's score from the data; rules named
 * __* and score-0 rules only feed metas.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Hit } from '../../core/index.js';
import type { ParsedMessage } from './parse.js';
import { metaTokens, type SaRule } from './sa-convert.js';
import { SA_EVALS, type EvalContext, type EvalFn } from './sa-eval.js';
import { htmlParts, messageMime, messageText, rawbodyChunks, renderedBody, renderedLines, utf8Bytes, type MimeFacts } from './sa-mime.js';
import { MultiSearch } from './sa-multisearch.js';
import { requiredAlternatives } from './sa-prefilter.js';
import { compileNow } from './regexp-tier.js';
import { messageRelays, type RelayHeaders } from './sa-relays.js';
import { saDecodeHeader, saSubject } from './sa-header.js';
import { messageUris } from './sa-uri.js';

interface CompiledRule {
  readonly rule: SaRule;
  readonly index: number;
  readonly re: RegExp | null;
  /**
   * A literal every match must contain (lower-cased when the regex ignores case), or null:
   * text without it cannot match, and a substring search is much cheaper than the regex
   * (SpamAssassin's own body-rule base extraction does the same).
   */
  readonly literal: string | null;
  /** When there is no single literal: lower-case strings one of which every match contains (sa-prefilter.ts). */
  readonly alternatives: readonly string[] | null;
  /**
   * The lower-case prefilter strings (the literal of a case-blind rule, or the alternatives) as
   * ids in the set's one-pass search of its text type (SaRuleSet.search), or null.
   */
  readonly searchIds: readonly number[] | null;
  /**
   * body rules without lookarounds: the same regex with the m flag run once on the paragraphs
   * joined by newlines (^ and $ then match at paragraph edges, which hold no newline); a miss
   * there is a miss in every paragraph, so most rules cost one pass instead of one per paragraph.
   */
  readonly joinedRe: RegExp | null;
  /** meta rules: the expression, asking g(i) for rule i's result (evaluated on demand). */
  readonly meta: ((g: (i: number) => number) => boolean) | null;
  readonly evalFn: EvalFn | null;
  /** `tflags multiple` rules: the regex with the g flag, to count matches (up to rule.max). */
  readonly countRe: RegExp | null;
  /** Which of re / joinedRe / countRe have had their first run (bits NATIVE_*, nativeCode). */
  native: number;
}

const NATIVE_RE = 1;
const NATIVE_JOINED = 2;
const NATIVE_COUNT = 4;

/**
 * A rule's regex, compiled to native code (compileNow) just before its first run: a rule whose
 * prefilter never lets its regex run costs no compiled code, so a receiver that has not seen
 * mail holds none, and one that has holds only what its mail needed (on the training mail 45 %
 * of the rule regexes never got past their prefilter).
 */
function nativeCode(c: CompiledRule, bit: number, re: RegExp): RegExp {
  if ((c.native & bit) === 0) {
    compileNow(re);
    c.native |= bit;
  }
  return re;
}

/** The rule's own regex (rules with a pattern only), native. */
const ruleRe = (c: CompiledRule): RegExp => nativeCode(c, NATIVE_RE, c.re!);

export interface SaRuleSet {
  readonly rules: readonly CompiledRule[];
  /** Evaluation order: non-meta first, metas after what they reference. */
  readonly order: readonly CompiledRule[];
  readonly byName: ReadonlyMap<string, CompiledRule>;
  /** The rules that score (not __*, score ≠ 0): evaluated for every message; others on demand. */
  readonly scoring: readonly CompiledRule[];
  /** Per-rule CPU time in ms (non-meta rules), when compiled with timing (bench/sa-rule-cost). */
  readonly timing: Float64Array | null;
  /** FreeMail plugin: is this address at a free mail provider (freemail_domains)? */
  readonly isFreemail: (address: string) => boolean;
  /** redirector_pattern regexes: the first group is the redirect's target. */
  readonly redirectors: readonly RegExp[];
  /** Per text type, one search for every lower-case prefilter string of its rules (sa-multisearch.ts). */
  readonly search: Readonly<Record<TextType, MultiSearch>>;
}

type TextType = 'body' | 'rawbody' | 'uri' | 'full';
const TEXT_TYPES: readonly TextType[] = ['body', 'rawbody', 'uri', 'full'];

export interface SaRuleFile {
  readonly source: string;
  readonly scoreSet: number;
  readonly skipped?: Record<string, number>;
  readonly rules: SaRule[];
  readonly freemail?: string[];
  readonly redirectors?: Array<{ re: string; flags: string }>;
}

/** FreeMail.pm's default $email_welcomelist: role and bounce addresses are never "freemail". */
const FREEMAIL_WELCOMELIST = /^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master|undisclosed.*|request-[a-f0-9]{16}|bounced?-|[a-f0-9]{8}(?:\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})|.+=.+=.+)@/i;

/**
 * freemail_domains → a test as FreeMail.pm's _is_freemail: not a welcomelisted address, then
 * exact domains, and patterns as its finish_parsing_end makes them (* is any run of characters
 * within one label, ? any one character).
 */
export function freemailTest(domains: readonly string[]): (address: string) => boolean {
  const exact = new Set(domains.filter((d) => !/[*?]/.test(d)));
  const patterns = domains.filter((d) => /[*?]/.test(d)).map((d) => d.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '[^.]*').replace(/\?/g, '.'));
  const re = patterns.length > 0 ? new RegExp(`@(?:${patterns.join('|')})$`, 'i') : null;
  return (address) => {
    const a = address.toLowerCase();
    const at = a.lastIndexOf('@');
    if (at <= 0 || FREEMAIL_WELCOMELIST.test(a)) return false;
    return exact.has(a.slice(at + 1)) || (re !== null && re.test(a));
  };
}

export function compileSaRules(rules: readonly SaRule[], freemail: readonly string[] = [], opts: { timing?: boolean; reorder?: boolean; redirectors?: ReadonlyArray<{ re: string; flags: string }> } = {}): SaRuleSet {
  const byName = new Map<string, CompiledRule>();
  const compiled: CompiledRule[] = [];
  rules.forEach((rule, index) => {
    let re: RegExp | null = null;
    // Compiled at its first run (nativeCode): a RegExp object is cheap until then.
    if (rule.re !== undefined) re = new RegExp(rule.re, rule.flags ?? '');
    const literal = rule.re !== undefined ? requiredLiteral(rule.re) : null;
    const alternatives = rule.re !== undefined && literal === null && ['body', 'rawbody', 'uri', 'full'].includes(rule.type) ? requiredAlternatives(rule.re) : null;
    const c: CompiledRule = { rule, index, re, alternatives, searchIds: null, literal: literal && (rule.flags ?? '').includes('i') ? literal.toLowerCase() : literal, joinedRe: rule.type === 'body' && re && !/\(\?<?[=!]/.test(rule.re!) ? new RegExp(rule.re!, re.flags.includes('m') ? re.flags : `${re.flags}m`) : null, meta: null, evalFn: null,
      countRe: rule.max && re && rule.op !== 'exists' ? new RegExp(rule.re!, re.flags.includes('g') ? re.flags : `${re.flags}g`) : null, native: 0 };
    if (rule.type === 'eval') {
      const fn = SA_EVALS[rule.fn ?? ''];
      if (!fn) throw new Error(`SpamAssassin rule ${rule.name}: eval function ${rule.fn} is not ported`);
      (c as { evalFn: EvalFn | null }).evalFn = fn;
    }
    byName.set(rule.name, c);
    compiled.push(c);
  });
  // One search per text type over every lower-case prefilter string (same answers as one
  // includes() per string, in one pass over the text).
  const patterns: Record<TextType, string[]> = { body: [], rawbody: [], uri: [], full: [] };
  const ids: Record<TextType, Map<string, number>> = { body: new Map(), rawbody: new Map(), uri: new Map(), full: new Map() };
  for (const c of compiled) {
    const type = c.rule.type as TextType;
    if (!TEXT_TYPES.includes(type)) continue;
    const strings = c.alternatives ?? (c.literal !== null && (c.rule.flags ?? '').includes('i') ? [c.literal] : null);
    if (!strings) continue;
    (c as { searchIds: readonly number[] | null }).searchIds = strings.map((x) => {
      let id = ids[type].get(x);
      if (id === undefined) {
        id = patterns[type].length;
        patterns[type].push(x);
        ids[type].set(x, id);
      }
      return id;
    });
  }
  const search = Object.fromEntries(TEXT_TYPES.map((t) => [t, new MultiSearch(patterns[t])])) as Record<TextType, MultiSearch>;
  // Cost estimates (relative) for ordering a meta's && operands: cheap tests first, so an
  // expensive body regex behind a false header test never runs (the result is the same).
  const costMemo = new Map<string, number>();
  const cost = (name: string, depth = 0): number => {
    const memo = costMemo.get(name);
    if (memo !== undefined) return memo;
    const c = byName.get(name);
    const r = c?.rule;
    let v = 1;
    if (!r) v = 1;
    // A scoring rule runs for every message anyway: free to a meta.
    else if (!r.name.startsWith('__') && r.score !== 0) v = 0;
    // A regex with a required literal is mostly rejected by the substring prefilter.
    else if (r.type === 'body' || r.type === 'rawbody' || r.type === 'full') v = c!.literal !== null ? 3 : c!.alternatives !== null ? 3 + c!.alternatives.length / 4 : 20 + (r.re?.length ?? 0) / 20;
    else if (r.type === 'uri' || r.type === 'eval' || r.type === 'mimeheader') v = 5;
    else if (r.type === 'meta' && depth < 20) v = (metaTokens(r.expr ?? '') ?? []).filter((t) => /^[A-Za-z_]/.test(t)).reduce((a, t) => a + cost(t, depth + 1), 0);
    costMemo.set(name, v);
    return v;
  };
  for (const c of compiled) {
    if (c.rule.type !== 'meta') continue;
    const toks = metaTokens(c.rule.expr ?? '');
    if (!toks) throw new Error(`SpamAssassin rule ${c.rule.name}: meta syntax`);
    for (const t of toks) {
      if (/^[A-Za-z_]/.test(t) && !byName.has(t)) throw new Error(`SpamAssassin rule ${c.rule.name}: meta refers to unknown ${t}`);
    }
    const js = metaJs(toks, (t) => `g(${byName.get(t)!.index})`, opts.reorder === false ? () => 0 : cost, (t) => (byName.get(t)?.rule.max ?? 0) > 0);
    // The tokens are only numbers, g(i) and operators (metaTokens accepts nothing else).
    (c as { meta: CompiledRule['meta'] }).meta = new Function('g', `return !!(${js});`) as (g: (i: number) => number) => boolean;
  }

  // Metas after their references (depth-first).
  const order: CompiledRule[] = compiled.filter((c) => c.rule.type !== 'meta');
  const done = new Set<string>();
  const visit = (c: CompiledRule, stack: Set<string>) => {
    if (done.has(c.rule.name) || stack.has(c.rule.name)) return;
    stack.add(c.rule.name);
    for (const t of metaTokens(c.rule.expr ?? '') ?? []) {
      const ref = byName.get(t);
      if (ref?.rule.type === 'meta') visit(ref, stack);
    }
    done.add(c.rule.name);
    order.push(c);
  };
  for (const c of compiled) if (c.rule.type === 'meta') visit(c, new Set());
  const scoring = compiled.filter((c) => !c.rule.name.startsWith('__') && c.rule.score !== 0);
  const redirectors = (opts.redirectors ?? []).map((r) => compileNow(new RegExp(r.re, r.flags)));
  return { rules: compiled, order, byName, scoring, timing: opts.timing ? new Float64Array(compiled.length) : null, isFreemail: freemailTest(freemail), redirectors, search };
}

/**
 * A meta expression's tokens → JavaScript over g(i). Two rewrites that keep the result:
 * `RULE > N` (N ≥ 1) for a rule whose result is 0 or 1 is always false, so it is folded to 0
 * and the rule is not run (a `tflags multiple` rule's result is its count: never folded); and
 * the operands of an && chain (inside one pair of parentheses, with no || beside them) are
 * ordered cheapest first.
 */
export function metaJs(toks: readonly string[], ref: (name: string) => string, cost: (name: string) => number, counts: (name: string) => boolean = () => false): string {
  // Fold RULE > N / RULE >= N+1.
  const t: string[] = [];
  for (let i = 0; i < toks.length; i++) {
    const a = toks[i]!;
    const before = i === 0 ? '(' : toks[i - 1]!;
    const after = toks[i + 3];
    if (/^[A-Za-z_]/.test(a) && !counts(a) && (before === '(' || before === '&&' || before === '||') && (toks[i + 1] === '>' || toks[i + 1] === '>=') && /^\d/.test(toks[i + 2] ?? '')
      && (after === undefined || after === ')' || after === '&&' || after === '||')) {
      const n = Number(toks[i + 2]);
      if ((toks[i + 1] === '>' && n >= 1) || (toks[i + 1] === '>=' && n > 1)) {
        t.push('0');
        i += 2;
        continue;
      }
    }
    t.push(a);
  }
  // Parse into nested groups and reorder pure && chains.
  let pos = 0;
  const group = (): { text: string; cost: number } => {
    const parts: Array<{ text: string; cost: number }> = [];
    let cur: string[] = [];
    let curCost = 0;
    let hasOr = false;
    const flush = () => { parts.push({ text: cur.join(' '), cost: curCost }); cur = []; curCost = 0; };
    const seps: string[] = [];
    while (pos < t.length) {
      const tok = t[pos++]!;
      if (tok === '(') {
        const g = group();
        cur.push(`(${g.text})`);
        curCost += g.cost;
      } else if (tok === ')') break;
      else if (tok === '&&' || tok === '||') {
        if (tok === '||') hasOr = true;
        flush();
        seps.push(tok);
      } else if (/^[A-Za-z_]/.test(tok)) {
        cur.push(ref(tok));
        curCost += cost(tok);
      } else cur.push(tok);
    }
    flush();
    const total = parts.reduce((a, p) => a + p.cost, 0);
    if (hasOr || parts.length < 2) {
      let text = parts[0]!.text;
      for (let i = 1; i < parts.length; i++) text += ` ${seps[i - 1]} ${parts[i]!.text}`;
      return { text, cost: total };
    }
    return { text: [...parts].sort((a, b) => a.cost - b.cost).map((p) => p.text).join(' && '), cost: total };
  };
  return group().text;
}

/**
 * The longest run of literal characters at the top level of a regex that every match must
 * contain, if at least 3 long; null when there is none (or a top-level alternation). Groups,
 * classes, escapes other than escaped punctuation, and optional characters end a run.
 */
export function requiredLiteral(src: string): string | null {
  let best = '';
  let run = '';
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    let lit: string | null = null;
    if (c === '\\') {
      const n = src[i + 1] ?? '';
      i++;
      if (/[^A-Za-z0-9]/.test(n)) lit = n;
      else {
        end();
        if (n === 'x') i += 2;
        continue;
      }
    } else if (c === '|') return null;
    else if (c === '(' || c === '[') {
      end();
      // Skip the group or class (its content is not required as such).
      let depth = 0;
      let inClass = false;
      for (; i < src.length; i++) {
        const d = src[i]!;
        if (d === '\\') { i++; continue; }
        if (inClass) {
          if (d === ']') {
            inClass = false;
            if (depth === 0) break;
          }
          continue;
        }
        if (d === '[') {
          inClass = true;
          // A ] right after [ or [^ is a member, not the end.
          if (src[i + 1] === '^') i++;
          if (src[i + 1] === ']') i++;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      continue;
    } else if ('.^$)'.includes(c)) {
      end();
      continue;
    } else if ('*+?{'.includes(c)) {
      // A quantifier on the previous character: optional (?, *, {0,…}) removes it from the run.
      if (c === '?' || c === '*' || /^\{0[,}]/.test(src.slice(i))) run = run.slice(0, -1);
      end();
      if (c === '{') while (i < src.length && src[i] !== '}') i++;
      continue;
    } else lit = c;
    run += lit;
  }
  end();
  return best.length >= 3 ? best : null;
}

const cache = new Map<string, SaRuleSet>();

export function defaultSaRulesFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'rules', 'spamassassin', 'rules.yaml');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('rules/spamassassin/rules.yaml not found above gateway/src/content');
}

/** The rule set from the data file, compiled once per process. */
export function loadSaRules(file = defaultSaRulesFile()): SaRuleSet {
  let set = cache.get(file);
  if (!set) {
    const data = parseSaRuleText(readFileSync(file, 'utf8'));
    set = compileSaRules(data.rules, data.freemail ?? [], { redirectors: data.redirectors ?? [] });
    cache.set(file, set);
  }
  return set;
}

/**
 * The data file is YAML whose body is JSON (JSON is YAML 1.2), one rule per line, after a comment
 * header. It is read with JSON.parse: the YAML parser's document tree for 1.3 MB of rules grew
 * each receiver's heap by ~45 MB that V8 never gave back (idle RSS is a benchmark floor), and took
 * ~0.4 s per receiver start against ~10 ms. A file in any other YAML form still loads, through the
 * YAML parser.
 */
export function parseSaRuleText(text: string): SaRuleFile {
  const body = text.replace(/^(?:#[^\n]*\n|\s*\n)*/, '');
  if (body.startsWith('{')) {
    try {
      return JSON.parse(body) as SaRuleFile;
    } catch {
      // not JSON after all: the YAML parser says what is wrong with it
    }
  }
  return parseYaml(text, { maxAliasCount: -1 }) as SaRuleFile;
}

/** The body of the data file: JSON, one rule per line (diffable), readable as YAML. */
export function formatSaRuleFile(data: SaRuleFile): string {
  const { rules, ...rest } = data;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},\n"rules": [\n${rules.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
}

/** A header value as SpamAssassin's header rules see it without :raw (sa-header), as UTF-8 bytes. */
export function decodeWords(value: string, name = ''): string {
  return utf8Bytes(saDecodeHeader(name, value));
}

function firstAddress(v: string): string {
  const angle = /<([^<>\s]*@[^<>\s]*)>/.exec(v);
  if (angle) return angle[1]!;
  const bare = /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(v);
  return bare ? bare[0] : v.replace(/\([^)]*\)/g, '').trim();
}

function displayName(v: string): string {
  const lt = v.indexOf('<');
  if (lt > 0) return v.slice(0, lt).trim().replace(/^"(.*)"$/, '$1');
  const comment = /\(([^)]*)\)/.exec(v);
  return comment ? comment[1]!.trim() : '';
}


interface Views {
  header(name: string, mod: SaRule['mod']): string | undefined;
  readonly body: string[];
  readonly bodyJoined: string;
  readonly raw: string[];
  readonly uris: readonly string[];
  readonly full: string;
  /** The same texts joined, as is and lower-cased, for the literal prefilter. */
  readonly joined: Record<'body' | 'rawbody' | 'uri' | 'full', { readonly text: string; readonly lower: string }>;
  /** Every value of a header (decoded), in order. */
  all(name: string): string[];
  relays(): RelayHeaders;
  /** The MIME facts (sa-mime.ts), computed once. */
  mime(): MimeFacts;
  readonly rendered: string;
}

function views(msg: ParsedMessage, redirectors: readonly RegExp[]): Views {
  const byName = new Map<string, string[]>();
  for (const h of msg.headers) {
    const l = byName.get(h.name);
    if (l) l.push(h.value);
    else byName.set(h.name, [h.value]);
  }
  const get = (n: string) => byName.get(n.toLowerCase());
  const full = messageText(msg);
  // The MIME walk is needed for every message (body and rawbody read the text parts).
  const mime = messageMime(msg);
  const rendered = renderedBody(mime);
  // The Subject, then the rendered text's lines (UTF-8 bytes), as SpamAssassin's body rules read them.
  const body = [utf8Bytes(saSubject(msg)), ...renderedLines(mime)].slice(0, MAX_BODY_LINES);
  // Each link as written and its canonical variants (decoded host, redirect target, …), as SpamAssassin.
  const uris = messageUris(msg, redirectors);
  const j = (text: string) => ({ text, lower: text.toLowerCase() });
  const bodyJoined = body.join('\n');
  const raw = rawbodyChunks(mime).slice(0, 5000);
  const memo = new Map<string, string | undefined>();
  let relays: RelayHeaders | null = null;
  const getRelays = () => (relays ??= messageRelays(msg));
  let block: string | undefined;
  // The header block as received: LF line ends, folding kept, an mbox `From ` line dropped.
  const headerBlock = (): string => (block ??= headerBlockOf(full));
  return {
    all: (n) => (get(n) ?? []).map((v) => decodeWords(v, n)),
    relays: getRelays,
    mime: () => mime,
    rendered,
    joined: { body: j(bodyJoined), rawbody: j(raw.join('\n')), uri: j(uris.join('\n')), full: j(full) },
    header(name, mod) {
      const key = `${name}\u0000${mod ?? ''}`;
      if (memo.has(key)) return memo.get(key);
      const value = headerValue(name, mod);
      memo.set(key, value);
      return value;
    },
    body,
    bodyJoined,
    raw,
    uris,
    full,
  };
  function headerValue(name: string, mod: SaRule['mod']): string | undefined {
    let vals: string[] | undefined;
    if (/^ALL-(?:TRUSTED|INTERNAL|UNTRUSTED|EXTERNAL)$/.test(name)) {
      // As SpamAssassin's get_all_hdrs_in_rcvd_index_range: the headers above the trust boundary
      // (ALL-TRUSTED / ALL-INTERNAL) or below it (ALL-UNTRUSTED / ALL-EXTERNAL: after the last
      // Received line above the first untrusted relay), counted in Received headers; one
      // "Name: value" line per header (unfolded unless :raw).
      const hdrs = headerBlock().split(/\n(?![ \t])/).filter((x) => x !== '');
      // SpamAssassin's last_internal_relay_index (internal = trusted here): every Received line
      // (parsed or not) counts until the first untrusted relay.
      const last = getRelays().lastTrustedIndex;
      const above = name === 'ALL-TRUSTED' || name === 'ALL-INTERNAL';
      let idx = -1;
      let out = '';
      for (const h of hdrs) {
        const line = mod === 'raw' ? h : decodeWords(h.replace(/\n[ \t]+/g, ' '), /^[^:]*/.exec(h)![0]);
        if (/^received:/i.test(h)) {
          idx++;
          if (!above && idx === last) continue;
          if (above && idx === last + 1) { out += `${line}\n`; break; }
        }
        if (above ? idx < last + 1 : last <= idx) out += `${line}\n`;
      }
      return out === '' ? undefined : out;
    }
    if (name === 'ALL') {
      // As SpamAssassin: the header block as received (names in their own case, folding kept).
      const block = headerBlock();
      return mod === 'raw' ? block : block.split(/\n(?![ \t])/).map((h) => decodeWords(h, /^[^:]*/.exec(h)![0])).join('\n');
    }
    if (name === 'ToCc') vals = [...(get('to') ?? []), ...(get('cc') ?? [])];
    else if (name === 'MESSAGEID') vals = ['message-id', 'resent-message-id', 'x-message-id', 'x-original-message-id'].flatMap((n) => get(n) ?? []);
    else if (name === 'EnvelopeFrom') {
      // As SpamAssassin's get_envelope_from: the last untrusted relay's envelope-from, then
      // (unless a fetchmail hand-over with X-Sender makes it unknowable) X-Envelope-From,
      // Envelope-Sender, Return-Path — each only when no Received line stands above it (one
      // below a Received line was added further down the path, not by our MTA: X-Envelope-From
      // then means unknown, the other two are passed over).
      const r = getRelays();
      const hop = r.untrusted[0] ?? r.trusted[r.trusted.length - 1];
      if (hop && hop.envfrom.includes('@')) vals = [hop.envfrom];
      else if (/[^\s@]@[^\s@]/.test(firstAddress(decodeWords(get('x-sender')?.[0] ?? ''))) && (get('received') ?? []).some((x) => x.includes('(fetchmail'))) vals = undefined;
      else if (get('x-envelope-from')) vals = BELOW_RECEIVED.xEnvelopeFrom.test(headerBlock()) ? undefined : get('x-envelope-from');
      else if (get('envelope-sender') && !BELOW_RECEIVED.envelopeSender.test(headerBlock())) vals = get('envelope-sender');
      else vals = get('return-path') && !BELOW_RECEIVED.returnPath.test(headerBlock()) ? get('return-path') : undefined;
    }
    else if (/^x-spam-relays-/i.test(name)) {
      const v = getRelays().headers.get(name.toLowerCase());
      vals = v === undefined ? undefined : [v];
    } else vals = get(name);
    if (!vals || vals.length === 0) return undefined;
    const decoded = mod === 'raw' ? vals : vals.map((v) => decodeWords(v, name));
    if (mod === 'addr') return firstAddress(decoded[0]!);
    if (mod === 'name') return displayName(decoded[0]!);
    return decoded.join('\n');
  }
}

const MAX_BODY_LINES = 2000;

function headerBlockOf(full: string): string {
  const end = full.search(/\r?\n\r?\n/);
  return (end === -1 ? full : full.slice(0, end)).replace(/\r\n/g, '\n').replace(/^From [^\n]*\n/, '');
}

/** get_envelope_from's test that a header was added below a Received line (further down the path). */
const BELOW_RECEIVED = {
  xEnvelopeFrom: /^Received:[\s\S]*?^X-Envelope-From:/mi,
  envelopeSender: /^Received:[\s\S]*?^Envelope-Sender:/mi,
  returnPath: /^Received:[\s\S]*?^Return-Path:/mi,
};

function bodyLength(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const cuts = [crlf === -1 ? -1 : crlf + 4, lf === -1 ? -1 : lf + 2].filter((x) => x >= 0);
  return cuts.length === 0 ? 0 : raw.length - Math.min(...cuts);
}

function test(re: RegExp, s: string): boolean {
  re.lastIndex = 0;
  return re.test(s);
}

/**
 * A `tflags multiple` rule's result: its matches over every line (body paragraph, rawbody line,
 * link, the full text, the header value), at most rule.max — SpamAssassin's count. A `!~`
 * header rule counts 1 when it does not match.
 */
function countMatches(c: CompiledRule, v: Views): number {
  const r = c.rule;
  const max = r.max ?? 1;
  let texts: readonly string[];
  switch (r.type) {
    case 'body':
      if (c.joinedRe && !test(nativeCode(c, NATIVE_JOINED, c.joinedRe), v.bodyJoined)) return 0;
      texts = r.nosubject ? v.body.slice(1) : v.body;
      break;
    case 'rawbody': texts = v.raw; break;
    case 'uri': texts = v.uris; break;
    case 'full': texts = [v.full]; break;
    case 'header': {
      const s = v.header(r.header!, r.mod) ?? r.ifUnset ?? '';
      if (r.op === '!~') return test(ruleRe(c), s) ? 0 : 1;
      texts = [s];
      break;
    }
    default: return 0;
  }
  const re = nativeCode(c, NATIVE_COUNT, c.countRe!);
  let n = 0;
  for (const t of texts) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(t)) !== null) {
      if (++n >= max) return max;
      if (m[0] === '') re.lastIndex++;
    }
  }
  return n;
}

/** Which rules hit over set.rules (1, or a `tflags multiple` rule's count) — the reportable ones come out of saHits. */
export function evaluateSa(set: SaRuleSet, msg: ParsedMessage, all = false): Uint8Array {
  const v = views(msg, set.redirectors);
  const h = new Uint8Array(set.rules.length);
  let ctx: EvalContext | null = null;
  const evalContext = (): EvalContext => {
    if (ctx) return ctx;
    ctx = {
      header: (name, mod) => v.header(name, mod),
      all: (name) => v.all(name),
      subject: msg.subject,
      bodyText: v.rendered,
      bodyLines: v.body,
      mailtoLinks: () => [...msg.html.slice(0, 256 * 1024).matchAll(/<a\s[^>]*?\bhref\s*=\s*["']?mailto:([^"'\s>]+)/gi)].map((m) => m[1]!),
      bodyLength: bodyLength(msg.raw),
      mime: () => v.mime(),
      html: () => htmlParts(v.mime()),
      relays: () => v.relays(),
      isFreemail: set.isFreemail,
    };
    return ctx;
  };
  // Lazy and memoised: the scoring rules are evaluated, and a sub-rule only when a meta's
  // expression reaches it (&& and || short-circuit), so an expensive __ rule behind a false
  // cheap one never runs. A rule no scoring rule asked for reads 0 in the result.
  const state = new Uint8Array(set.rules.length); // 0 not yet, 1 running, 2 done
  // Which prefilter strings each text contains: one pass per text type, on first need.
  const present: Partial<Record<TextType, Uint8Array>> = {};
  // Header values lower-cased once per message for the literal prefilter of case-blind rules.
  const lowered = new Map<string, string>();
  const lowerOf = (x: string) => {
    let l = lowered.get(x);
    if (l === undefined) lowered.set(x, (l = x.toLowerCase()));
    return l;
  };
  const g = (i: number): number => {
    if (state[i] === 2) return h[i]!;
    if (state[i] === 1) return 0; // a cycle (none in SpamAssassin's rules) reads false
    state[i] = 1;
    const c = set.rules[i]!;
    if (set.timing && c.rule.type !== 'meta') {
      const t0 = performance.now();
      h[i] = Number(run(c));
      set.timing[i]! += performance.now() - t0;
    } else h[i] = Number(run(c));
    state[i] = 2;
    return h[i]!;
  };
  const run = (c: CompiledRule): boolean | number => {
    const r = c.rule;
    if (c.searchIds !== null) {
      const found = (present[r.type as TextType] ??= set.search[r.type as TextType].present(v.joined[r.type as TextType].lower));
      if (!c.searchIds.some((id) => found[id] === 1)) return false;
    } else if (c.literal !== null && (r.type === 'body' || r.type === 'rawbody' || r.type === 'uri' || r.type === 'full')) {
      // A case-sensitive literal: a plain substring test on the text as is.
      if (!v.joined[r.type].text.includes(c.literal)) return false;
    }
    if (c.countRe !== null) return countMatches(c, v);
    switch (r.type) {
      case 'header': {
        const val = r.op === 'exists' ? v.header(r.header!, undefined) : v.header(r.header!, r.mod);
        if (r.op === 'exists') return val !== undefined;
        const s = val ?? r.ifUnset ?? '';
        // The literal prefilter on the header value too: without the literal, no match.
        if (c.literal !== null && !(c.rule.flags?.includes('i') ? lowerOf(s) : s).includes(c.literal)) return r.op === '!~';
        return r.op === '!~' ? !test(ruleRe(c), s) : test(ruleRe(c), s);
      }
      case 'body':
        if (c.joinedRe && !test(nativeCode(c, NATIVE_JOINED, c.joinedRe), v.bodyJoined)) return false;
        return (r.nosubject ? v.body.slice(1) : v.body).some((p) => test(ruleRe(c), p));
      case 'rawbody': return v.raw.some((l) => test(ruleRe(c), l));
      case 'uri': return v.uris.some((u) => test(ruleRe(c), u));
      case 'full': return test(ruleRe(c), v.full);
      case 'mimeheader': {
        // Any MIME part's header (decoded unless :raw), as SpamAssassin's MIMEHeader plugin.
        const name = r.header!.toLowerCase();
        const vals = evalContext().mime().parts.flatMap((p) => p.headers.filter((x) => x.name === name).map((x) => (r.mod === 'raw' ? x.value : decodeWords(x.value, name))));
        if (r.op === 'exists') return vals.length > 0;
        if (vals.length === 0) return r.op === '!~' ? !test(ruleRe(c), r.ifUnset ?? '') : test(ruleRe(c), r.ifUnset ?? '');
        return r.op === '!~' ? !vals.some((x) => test(ruleRe(c), x)) : vals.some((x) => test(ruleRe(c), x));
      }
      case 'meta': return c.meta!(g);
      case 'eval': return c.evalFn!(evalContext(), r.args ?? []);
    }
    return false;
  };
  for (const c of all ? set.rules : set.scoring) g(c.index);
  return h;
}

/** The reportable hits: rules not named __*, with a non-zero score. */
export function saHits(set: SaRuleSet, msg: ParsedMessage): Hit[] {
  const h = evaluateSa(set, msg);
  const out: Hit[] = [];
  for (const c of set.rules) {
    if (!h[c.index] || c.rule.name.startsWith('__') || c.rule.score === 0) continue;
    out.push(c.rule.describe ? { name: `SA_${c.rule.name}`, score: c.rule.score, detail: c.rule.describe.slice(0, 120) } : { name: `SA_${c.rule.name}`, score: c.rule.score });
  }
  return out;
}
