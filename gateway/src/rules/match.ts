/*
 * rules/match.ts — conditions compiled to functions over RuleFacts, with three answers:
 * true, false, or null ("cannot judge": `tuxhat rules replay` over a verdict record that no
 * longer has the headers or body). Groups follow PMG's object groups: any / all, then invert;
 * null propagates (any: a true wins, all: a false wins), so an unjudgeable rule is reported,
 * never counted as a match. Pure and synchronous: the message content is loaded before
 * (evaluate.ts). Runs in receiver workers and the CLI.
 */
import { readFileSync } from 'node:fs';
import { inNetworks, networkList } from '../core/index.js';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/index.js';
import type { Hit } from '../core/index.js';
import type { MessageContent } from './content.js';
import type { AddressMatcher, AttachmentMatcher, Group, WhatCondition, WhenCondition, WhoCondition } from './schema.js';

export type Tri = boolean | null;

/** What the rules can look at. A field that is null (or content undefined) cannot be judged. */
export interface RuleFacts {
  readonly direction: 'inbound' | 'outbound';
  readonly listener: string | null;
  readonly clientIp: string | null;
  readonly authUser: string | null;
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  /** Header fields as received; null when unknown (replay). */
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }> | null;
  readonly size: number;
  readonly hits: readonly Hit[];
  readonly auth: { readonly spf: string; readonly dkim: string; readonly dmarc: string; readonly arc: string } | null;
  readonly now: Date;
  /** The organisation's domains (config `domains`), for the `$local` domain entry. */
  readonly localDomains: ReadonlySet<string>;
  /** Parsed body; null: not loaded or over the parse limit (cannot judge). */
  readonly content: MessageContent | null;
}

/** A running score: content hits plus the score actions of rules matched so far. */
export interface EvalState {
  score: number;
}

export type Cond = (f: RuleFacts, st: EvalState) => Tri;

export function combine(mode: 'any' | 'all', invert: boolean, values: Iterable<Tri>): Tri {
  let unknown = false;
  let result: boolean = mode === 'all';
  for (const v of values) {
    if (v === null) unknown = true;
    else if (mode === 'any' && v) { result = true; break; }
    else if (mode === 'all' && !v) { result = false; break; }
  }
  if (unknown && (mode === 'any' ? !result : result)) return null;
  return invert ? !result : result;
}

export function compileGroup<C>(g: Group<C>, one: (c: C) => Cond): Cond {
  const conds = g.conditions.map(one);
  return (f, st) => combine(g.mode, g.invert, lazy(conds, f, st));
}

function* lazy(conds: readonly Cond[], f: RuleFacts, st: EvalState): Generator<Tri> {
  for (const c of conds) yield c(f, st);
}

const neg = (c: Cond, not: boolean | undefined): Cond => (not ? (f, st) => { const v = c(f, st); return v === null ? null : !v; } : c);

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '' : address.slice(at + 1).toLowerCase();
}

/** A list file: addresses and @domain (or bare domain) lines. */
function readList(file: string, ruleFile: string): { addresses: Set<string>; domains: string[] } {
  const path = resolve(dirname(ruleFile), file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(ruleFile, [`${ruleFile}: list ${path}: cannot read: ${(err as Error).message}`]);
  }
  const addresses = new Set<string>();
  const domains: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim().toLowerCase();
    if (!line) continue;
    if (line.startsWith('@')) domains.push(line.slice(1));
    else if (line.includes('@')) addresses.add(line);
    else domains.push(line);
  }
  return { addresses, domains };
}

export function addressTest(m: AddressMatcher, ruleFile: string): (address: string, local?: ReadonlySet<string>) => boolean {
  const addresses = new Set((m.address ?? []).map((a) => a.toLowerCase()));
  const domains = (m.domain ?? []).map((d) => d.toLowerCase().replace(/^@/, ''));
  if (m.list) {
    const l = readList(m.list, ruleFile);
    for (const a of l.addresses) addresses.add(a);
    domains.push(...l.domains);
  }
  const re = m.regex ? new RegExp(m.regex, 'iu') : null;
  const wantLocal = domains.includes('$local');
  return (address: string, local?: ReadonlySet<string>) => {
    if (m.empty && address === '') return true;
    if (address === '') return false;
    const a = address.toLowerCase();
    if (addresses.has(a)) return true;
    const d = domainOf(a);
    if (domains.some((x) => d === x || d.endsWith(`.${x}`))) return true;
    if (wantLocal && local && [...local].some((x) => d === x || d.endsWith(`.${x}`))) return true;
    return re !== null && re.test(a);
  };
}

/** The address inside a From: header value (last <...>, else the bare value). */
export function headerAddress(value: string): string {
  const m = /<([^<>]*)>\s*$/.exec(value.trim());
  return (m ? m[1]! : value).trim().toLowerCase();
}

export function header(f: RuleFacts, name: string): string[] | null {
  if (!f.headers) return null;
  const n = name.toLowerCase();
  return f.headers.filter((h) => h.name.toLowerCase() === n).map((h) => h.value.replace(/\r?\n[ \t]/g, ' ').trim());
}

export function compileWho(c: WhoCondition, ruleFile: string): Cond {
  let cond: Cond;
  if ('sender' in c) {
    const t = addressTest(c.sender, ruleFile);
    cond = (f) => t(f.mailFrom, f.localDomains);
  } else if ('recipient' in c) {
    const t = addressTest(c.recipient, ruleFile);
    cond = (f) => f.recipients.some((r) => t(r, f.localDomains));
  } else if ('from' in c) {
    const t = addressTest(c.from, ruleFile);
    cond = (f) => { const v = header(f, 'from'); return v === null ? null : v.some((x) => t(headerAddress(x), f.localDomains)); };
  } else if ('clientIp' in c) {
    // IPv4-mapped client addresses (::ffff:a.b.c.d) match IPv4 entries (core/networks.ts).
    const list = networkList(c.clientIp);
    cond = (f) => (f.clientIp === null ? null : inNetworks(list, f.clientIp));
  } else if ('authenticated' in c) {
    const a = c.authenticated;
    if (typeof a === 'boolean') cond = (f) => (f.authUser !== null) === a;
    else if (Array.isArray(a)) { const users = new Set(a.map((u) => u.toLowerCase())); cond = (f) => f.authUser !== null && users.has(f.authUser); }
    else { const re = new RegExp(a.regex, 'iu'); cond = (f) => f.authUser !== null && re.test(f.authUser); }
  } else {
    const names = new Set(c.listener);
    cond = (f) => (f.listener === null ? null : names.has(f.listener));
  }
  return neg(cond, c.not);
}

export function attachmentTest(m: AttachmentMatcher): (f: RuleFacts) => Tri {
  const name = m.name ? new RegExp(m.name, 'iu') : null;
  const type = m.type ? new RegExp(m.type, 'iu') : null;
  return (f) => {
    if (!f.content) return null;
    return f.content.attachments.some((a) => {
      if (a.inZip ? !m.inZip : m.onlyInZip) return false;
      return (name === null || name.test(a.filename)) && (type === null || type.test(a.contentType));
    });
  };
}

export function compileWhat(c: WhatCondition): Cond {
  let cond: Cond;
  if ('header' in c) {
    const { name, regex, present } = c.header;
    const re = regex ? new RegExp(regex, 'iu') : null;
    cond = (f) => {
      const values = header(f, name);
      if (values === null) return null;
      if (present === false) return values.length === 0;
      return re === null ? values.length > 0 : values.some((v) => re.test(v));
    };
  } else if ('subject' in c) {
    const re = new RegExp(c.subject, 'iu');
    cond = (f) => { const v = header(f, 'subject'); return v === null ? null : re.test(v[0] ?? ''); };
  } else if ('body' in c) {
    const re = new RegExp(c.body, 'iu');
    cond = (f) => (f.content === null ? null : re.test(f.content.text));
  } else if ('attachment' in c) {
    cond = attachmentTest(c.attachment);
  } else if ('size' in c) {
    const { min, max } = c.size;
    cond = (f) => (min === undefined || f.size >= min) && (max === undefined || f.size <= max);
  } else if ('score' in c) {
    const { min, max } = c.score;
    cond = (_f, st) => (min === undefined || st.score >= min) && (max === undefined || st.score <= max);
  } else if ('virus' in c) {
    const want = c.virus;
    cond = (f) => f.hits.some((h) => h.name === 'AV_VIRUS') === want;
  } else if ('symbol' in c) {
    const names = new Set(c.symbol);
    cond = (f) => f.hits.some((h) => names.has(h.name));
  } else {
    const want = c.auth;
    cond = (f) => {
      if (!f.auth) return null;
      const auth = f.auth;
      return (['spf', 'dkim', 'dmarc', 'arc'] as const).every((k) => {
        const words = want[k];
        if (!words) return true;
        const got = auth[k].split(',').map((w) => w.trim().toLowerCase());
        return words.some((w) => got.includes(w));
      });
    };
  }
  return neg(cond, c.not);
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday (mon..sun) and minutes since midnight of `now` in `zone`. */
export function localTime(now: Date, zone: string): { day: string; minutes: number } {
  let fmt = formatters.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, fmt);
  }
  const parts = fmt.formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '0';
  const day = get('weekday').toLowerCase().slice(0, 3);
  return { day: DAYS.includes(day) ? day : 'mon', minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

export function compileWhen(c: WhenCondition): Cond {
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
  const from = toMin(c.from);
  const to = toMin(c.to);
  const days = c.days ? new Set<string>(c.days) : null;
  const cond: Cond = (f) => {
    const { day, minutes } = localTime(f.now, c.zone);
    if (days && !days.has(day)) return false;
    return from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
  };
  return neg(cond, c.not);
}
