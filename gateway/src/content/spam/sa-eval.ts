/*
 * content/spam/sa-eval.ts — SpamAssassin's Perl-coded tests (`eval:` rules) ported as TypeScript
 * functions, one per SpamAssassin function name, so the rule data keeps SpamAssassin's own
 * definitions and arguments (`header DATE_IN_PAST_06_12 eval:check_for_shifted_date('-12','-6')`
 * becomes `{ type: eval, fn: check_for_shifted_date, args: ['-12', '-6'] }`) and every meta over
 * them comes alive. Ported from SpamAssassin 4.0.1's HeaderEval, MIMEEval, HTMLEval, BodyEval,
 * RelayEval and FreeMail plugins (Apache-2.0); behaviour as there unless a comment says
 * otherwise. A function gets a lazily computed view of the message (EvalContext): header values
 * as SpamAssassin's `get` returns them, the MIME facts (sa-mime.ts), the HTML facts (sa-html.ts),
 * the relays (sa-relays.ts) and the freemail domain list from the rule data.
 */
import type { HtmlFacts } from './sa-html.js';
import { decodedBody, renderedPart, type MimeFacts } from './sa-mime.js';
import { isPrivateIp, type RelayHeaders } from './sa-relays.js';
import { fixedRegExp } from './regexp-tier.js';

export interface EvalContext {
  /** SpamAssassin's $pms->get(NAME[:mod]): joined values (decoded), undefined when absent. */
  header(name: string, mod?: 'raw' | 'addr' | 'name'): string | undefined;
  /** Every value of a header, in order (decoded). */
  all(name: string): string[];
  readonly subject: string;
  /** Bytes of the message body as received (after the header block). */
  readonly bodyLength: number;
  /** Rendered body text: every text/plain and text/html part, HTML rendered as HTML.pm does. */
  readonly bodyText: string;
  /** What body rules see: the Subject, then the rendered paragraphs (whitespace collapsed), as UTF-8 bytes. */
  readonly bodyLines: readonly string[];
  /** The targets of the HTML's `<a href="mailto:…">` links (worked out when asked). */
  mailtoLinks(): readonly string[];
  mime(): MimeFacts;
  /** The facts of each text/html part (SpamAssassin's html_all). */
  html(): readonly HtmlFacts[];
  relays(): RelayHeaders;
  isFreemail(address: string): boolean;
}

export type EvalFn = (ctx: EvalContext, args: readonly string[]) => boolean;

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
/** SpamAssassin's %TZ (Util.pm): zone names it knows. */
const ZONES: Record<string, string> = {
  UT: '+0000', UTC: '+0000', NDT: '-0230', AST: '-0400', ADT: '-0300', NST: '-0330', EST: '-0500', EDT: '-0400', CST: '-0600', CDT: '-0500',
  MST: '-0700', MDT: '-0600', PST: '-0800', PDT: '-0700', HST: '-1000', AKST: '-0900', AKDT: '-0800', HADT: '-0900', HAST: '-1000', GMT: '+0000',
  BST: '+0100', IST: '+0100', WET: '+0000', WEST: '+0100', CET: '+0100', CEST: '+0200', EET: '+0200', EEST: '+0300', MSK: '+0300', MSD: '+0400',
  MET: '+0100', MEZ: '+0100', MEST: '+0200', MESZ: '+0200', BRST: '-0200', BRT: '-0300', AEST: '+1000', AEDT: '+1100', ACST: '+0930', ACDT: '+1030',
  AWST: '+0800', NZST: '+1200', NZDT: '+1300', JST: '+0900', KST: '+0900', HKT: '+0800', SGT: '+0800', PHT: '+0800', IDT: '+0300',
};

/**
 * A date header → ms since the epoch, or null: SpamAssassin's Util::parse_rfc822_date, quirks
 * kept because its date rules are tuned on them — a zone must stand alone as ` +hhmm ` (else a
 * known name, else UTC: `+-0500` reads as UTC), out-of-range fields are clamped, years kept in
 * 1970–2037, two-digit years below 50 are 20xx.
 */
export function parseDate(input: string | undefined): number | null {
  if (!input) return null;
  let s = ` ${input} `.replace(/, */g, ' ').replace(/\s+/g, ' ');
  let dd: number;
  let mon: string;
  let yyyy: string;
  let m: RegExpExecArray | null;
  if ((m = / (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) /i.exec(s))) [dd, mon, yyyy] = [Number(m[1]), m[2]!, m[3]!];
  else if ((m = / (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d+) \d+:\d+:\d+ (\d{4}) /i.exec(s))) [dd, mon, yyyy] = [Number(m[2]), m[1]!, m[3]!];
  else if ((m = / (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2,3}) /i.exec(s))) [dd, mon, yyyy] = [Number(m[1]), m[2]!, m[3]!];
  else return null;
  // Perl's timegm refuses a day 0 (SpamAssassin: no date).
  if (dd < 1) return null;
  s = s.replace(m[0], ' ');
  let year = Number(yyyy);
  if (yyyy.length === 2 && year < 50) year += 2000;
  else if (yyyy.length !== 4) year += 1900;
  let hh = 0;
  let mm = 0;
  let ss = 0;
  if ((m = / (\d?\d):(\d\d)(:(\d\d))? /.exec(s))) {
    [hh, mm, ss] = [Number(m[1]), Number(m[2]), Number(m[4] ?? 0)];
    s = s.replace(m[0], ' ');
  }
  let tz = '-0000';
  if ((m = / ([-+]\d{4}) /.exec(s))) tz = m[1]!;
  else if ((m = /\b([A-Z]{2,4}(?:-DST)?)\b/.exec(s)) && ZONES[m[1]!]) tz = ZONES[m[1]!]!;
  let month = MONTHS[mon.toLowerCase()] ?? 0;
  ss = Math.min(ss, 59);
  mm = Math.min(mm, 59);
  hh = Math.min(hh, 23);
  const maxDay = [4, 6, 9, 11].includes(month) ? 30 : month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : 31;
  if (dd > maxDay) {
    dd = 1;
    if (++month > 12) { month = 1; year++; }
  }
  year = Math.min(Math.max(year, 1970), 2037);
  let t = Date.UTC(year, month - 1, dd, hh, mm, ss) / 1000;
  if (!Number.isFinite(t)) return null;
  const z = /([-+])(\d\d)(\d\d)$/.exec(tz)!;
  const off = (Number(z[2]) * 60 + Number(z[3])) * 60;
  if (z[1] === '-') t += off;
  else t = t < off ? 0 : t - off;
  return t * 1000;
}

const domainOf = (addr: string) => (/@([^@]*)$/.exec(addr)?.[1] ?? '').toLowerCase();
/** SpamAssassin's crude "last two labels" used by check_equal_from_domains. */
const lastTwo = (d: string) => d.replace(/^.+\.([^.]+\.[^.]+)$/, '$1');

let dateDiffMemo: WeakMap<EvalContext, number> = new WeakMap();

/** Date header minus the closest Received time (HeaderEval::_check_date_diff), in ms. */
function dateDiff(ctx: EvalContext): number {
  const memo = dateDiffMemo.get(ctx);
  if (memo !== undefined) return memo;
  let diff = 0;
  const date = parseDate(ctx.all('resent-date')[0]) ?? parseDate(ctx.all('date')[0]);
  if (date !== null) {
    let received = ctx.all('received').filter((r) => /\S/.test(r));
    // Local hand-overs at the top (localhost, fetchmail) are not the sender's clock.
    if (received[0] && (/\bfrom (?:localhost\s|(?:\S+ ){1,2}\S*\b127\.0\.0\.1\b)/.test(received[0]) || /qmail \d+ invoked by uid \d+/.test(received[0]))) {
      const rest = received.slice(1);
      if (rest[0] && /\bby localhost with \w+ \(fetchmail-[\d.]+/.test(rest[0])) received = rest.slice(1);
    } else if (received[0] && /\bby localhost with \w+ \(fetchmail-[\d.]+/.test(received[0])) received = received.slice(1);
    const times = received.flatMap((r) => {
      const m = /(\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+)/.exec(r);
      const t = m ? parseDate(m[1]) : null;
      return t === null ? [] : [t];
    });
    if (times.length > 0) {
      let diffs = times.map((t) => date - t);
      if (diffs.length > 1 && diffs[diffs.length - 1] === 0) diffs = diffs.slice(0, -1);
      diffs.sort((a, b) => Math.abs(a) - Math.abs(b));
      diff = diffs[0]!;
    }
  }
  dateDiffMemo.set(ctx, diff);
  return diff;
}

function gatedThroughReceivedRemover(ctx: EvalContext): boolean {
  const ml = ctx.header('mailing-list');
  if (ml !== undefined && /^contact \S+@\S+; run by ezmlm$/m.test(ml)) {
    if (/^mailing list \S+@\S+/m.test(ctx.header('delivered-to') ?? '') && /qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+/.test(ctx.header('received') ?? '')) return true;
  }
  const rcvd = ctx.header('received');
  if (rcvd === undefined) return true;
  return /from groups\.msn\.com \(\S+\.msn\.com /.test(rcvd);
}

const isIpv4 = (s: string) => /^\d{1,3}(?:\.\d{1,3}){3}$/.test(s);

const cmp = (val: number, expr: string): boolean => {
  const m = /^\s*(==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expr);
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1]) {
    case '==': return val === n;
    case '!=': return val !== n;
    case '<=': return val <= n;
    case '>=': return val >= n;
    case '<': return val < n;
    default: return val > n;
  }
};
const num = (s: string | undefined) => (s === undefined || s === 'inf' ? Infinity : Number(s));

const EMAIL_CHARS = "a-z0-9!#$%&'*+/=?^_`{|}~-";
// FreeMail.pm's email_regex (its list of valid TLDs read as 2–63 letters).
const EMAIL = `(?=.{0,64}@)(?<![${EMAIL_CHARS}])([${EMAIL_CHARS}]+(?:\\.[${EMAIL_CHARS}]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}[a-z]{2,63}\\b)`;
const EMAIL_RE = new RegExp(EMAIL, 'gi');
const URL_WITH_AT = /<?https?:\/\/\S{0,255}(?:@|%40)\S{0,255}/gi;
const QUOTED_EMAIL = new RegExp(`<?(?<!mailto:)${EMAIL}(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?mail))[a-z]{2,11}:)`, 'gi');
const bodyEmailsMemo = new WeakMap<EvalContext, string[]>();

/**
 * FreeMail.pm's _parse_body: the addresses of `<a href="mailto:…">` links, then those written in
 * the body — not inside a link, not in `<…>`, not before "wrote:" and the like (a quoted
 * sender) — at most 40, lower-cased, each once.
 */
function bodyEmails(ctx: EvalContext): string[] {
  let out = bodyEmailsMemo.get(ctx);
  if (out) return out;
  const seen = new Set<string>();
  for (const a of ctx.mailtoLinks()) {
    if (seen.size >= 20) break;
    EMAIL_RE.lastIndex = 0;
    const m = EMAIL_RE.exec(a);
    if (m) seen.add(m[1]!.toLowerCase());
  }
  body: for (const line of ctx.bodyLines) {
    const clean = line.replace(URL_WITH_AT, ' ').replace(QUOTED_EMAIL, ' ');
    for (const m of clean.matchAll(EMAIL_RE)) {
      seen.add(m[1]!.toLowerCase());
      if (seen.size >= 40) break body;
    }
  }
  out = [...seen];
  bodyEmailsMemo.set(ctx, out);
  return out;
}

function addrs(ctx: EvalContext, name: string, keepCase = false): string[] {
  return ctx.all(name).flatMap((v) => [...v.matchAll(/[^\s<>"(),;:]+@[^\s<>"(),;:]+/g)].map((m) => (keepCase ? m[0] : m[0].toLowerCase())));
}

/**
 * PerMsgStatus::all_from_addrs: the addresses of the first Resent-From if it has any, else those
 * of From, Envelope-Sender, Resent-Sender, X-Envelope-From and the envelope sender (EnvelopeFrom),
 * runs of dots collapsed; lower-cased, each once. (Sender is not among them.)
 */
function allFromAddrs(ctx: EvalContext): string[] {
  const resent = ctx.all('resent-from')[0];
  const resentAddrs = resent === undefined ? [] : [...resent.matchAll(/[^\s<>"(),;:]+@[^\s<>"(),;:]+/g)].map((m) => m[0].toLowerCase());
  const envelope = (ctx.header('EnvelopeFrom', 'addr') ?? '').toLowerCase();
  const list = resentAddrs.length > 0 ? resentAddrs
    : [...addrs(ctx, 'from'), ...addrs(ctx, 'envelope-sender'), ...addrs(ctx, 'resent-sender'), ...addrs(ctx, 'x-envelope-from'), ...(envelope.includes('@') ? [envelope] : [])];
  return [...new Set(list.map((a) => a.replace(/\.{2,}/g, '.')))];
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * HeaderEval::check_illegal_chars (SpamAssassin 4): the raw value's bytes outside RFC 2045 (C0
 * controls but TAB, LF and CR; DEL and 8-bit) against a ratio and a count — but none when the
 * value is valid UTF-8 without controls, and a Subject's one cent, pound or registered sign is
 * let pass. Header values here are bytes, one character each.
 */
function illegalChars(ctx: EvalContext, header: string, ratio: number, count: number): boolean {
  const str = ctx.header(header, 'raw') ?? '';
  if (!/\S/.test(str)) return false;
  if (/[^\x00-\x7f]/.test(str) && !/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(str)) {
    try {
      UTF8.decode(Buffer.from(str, 'latin1'));
      return false;
    } catch {
      // not UTF-8: counted below
    }
  }
  let illegal = (str.match(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]/g) ?? []).length;
  if (illegal > 0 && header.toLowerCase() === 'subject' && (str.match(/[\xa2\xa3\xae]/g) ?? []).length === 1) illegal--;
  return illegal / str.length >= ratio && illegal >= count;
}

/**
 * HeaderEval::_check_for_forged_hotmail_received_headers: 'forged' when a Received line claims
 * hotmail.com without hotmail's own trace, 'none' when a hotmail.com sender has no such line.
 */
function hotmail(ctx: EvalContext): 'forged' | 'none' | null {
  const rcvd = (ctx.header('received') ?? '').replace(/\s+/g, ' ');
  if (/from mail pickup service by hotmail\.com with Microsoft SMTPSVC;/.test(rcvd)) return null;
  const ipRe = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/;
  const ip = ipRe.test(ctx.header('x-originating-ip') ?? '');
  const orig = /hotmail\.com|msonline-outlook/.test(ctx.header('x-originatororg') ?? '');
  if (gatedThroughReceivedRemover(ctx)) return null;
  if (ip && /from (?:\S*\.)?hotmail.com \(\S+\.hotmail(?:\.msn)?\.com[ )]/.test(rcvd)) return null;
  if (orig && /from \S*\.outbound\.protection\.outlook\.com \(\S+\.outbound\.protection\.outlook\.com[ )]/.test(rcvd)) return null;
  if (orig && /from \S*\.(?:eur|nam)prd\d+\.prod\.outlook\.com \(\d{1,3}(?:\.\d{1,3}){3}\)/.test(rcvd)) return null;
  if (ip && /from \S*\.hotmail.com \(\[\d{1,3}(?:\.\d{1,3}){3}\][ ):]/.test(rcvd)) return null;
  if (ip && /from \S+ by \S+\.hotmail(?:\.msn)?\.com with HTTP;/.test(rcvd)) return null;
  if (ip && /from \[66\.218.\S+\] by \S+\.yahoo\.com/.test(rcvd)) return null;
  if (/(?:from |HELO |helo=)\S*hotmail\.com\b/.test(rcvd)) return 'forged';
  return /\bhotmail\.com$/i.test(ctx.header('from', 'addr') ?? '') ? 'none' : null;
}

const recipientMemo = new WeakMap<EvalContext, { sorted: boolean; similar: number }>();

/**
 * HeaderEval::_check_recipients: the To and Cc addresses (Bcc too when they are fewer than 5),
 * case kept, a repeat of the previous address dropped, at most 256. `sorted`: 7 or more, already
 * in sort order (ratware that mails a sorted list). `similar`: the share of address pairs with the
 * same first two characters of local part or of a different host.
 */
function recipients(ctx: EvalContext): { sorted: boolean; similar: number } {
  const memo = recipientMemo.get(ctx);
  if (memo) return memo;
  const inputs = [...addrs(ctx, 'to', true), ...addrs(ctx, 'cc', true)];
  if (inputs.length < 5) inputs.push(...addrs(ctx, 'bcc', true));
  const address: string[] = [];
  let prev = '';
  for (const cur of inputs) {
    if (cur.toLowerCase() !== prev.toLowerCase()) address.push((prev = cur));
    if (address.length === 256) break;
  }
  const sorted = address.length >= 7 && address.join(',') === [...address].sort().join(',');
  let similar = 0;
  if (address.length >= 5) {
    const user = address.map((a) => a.slice(0, 2));
    const fqhn = address.map((a) => /@(.*)/.exec(a)?.[1] ?? '');
    const host = fqhn.map((h) => h.slice(0, 2));
    let hits = 0;
    let comb = 0;
    for (let i = 0; i < address.length; i++) {
      for (let j = i + 1; j < address.length; j++) {
        if (user[i] === user[j]) hits++;
        if (host[i] === host[j] && fqhn[i] !== fqhn[j]) hits++;
        comb++;
      }
    }
    similar = hits / comb;
  }
  const r = { sorted, similar };
  recipientMemo.set(ctx, r);
  return r;
}

const madiffMemo = new WeakMap<EvalContext, { diff: number; html: number; text: number }>();

/**
 * BodyEval::_multipart_alternative_difference: per multipart/alternative, the words (runs
 * between whitespace with a word character) of its HTML parts that its text parts do not carry
 * as often, as a percentage of the HTML's distinct words — the highest over the message; and the
 * distinct word counts of the last alternative with HTML words. Spam often sends an unrelated
 * text part beside the HTML. Exchange's html + calendar alternative is left out, as there.
 */
function madiff(ctx: EvalContext): { diff: number; html: number; text: number } {
  const memo = madiffMemo.get(ctx);
  if (memo) return memo;
  const r = { diff: 0, html: 0, text: 0 };
  const { parts, topType } = ctx.mime();
  const calendar = topType === 'multipart/alternative' && parts.length === 2 && parts[0]!.type === 'text/html' && parts[1]!.type === 'text/calendar';
  const ids = new Set(parts.flatMap((p) => p.alternatives));
  for (const id of calendar ? [] : ids) {
    const html = new Map<string, number>();
    const text = new Map<string, number>();
    for (const p of parts) {
      if (!p.alternatives.includes(id) || !p.type.startsWith('text')) continue;
      // The part as SpamAssassin's rendered() gives it (HTML rendered as HTML.pm does).
      const decoded = decodedBody(p);
      const isHtml = p.type === 'text/html';
      const words = renderedPart(p).split(/\s+/).filter((w) => /\w/.test(w));
      const into = isHtml ? html : text;
      for (const w of words) into.set(w, (into.get(w) ?? 0) + 1);
      // An HTML part without words but with an image counts as one (SpamAssassin's "\n" mark).
      if (isHtml && html.size === 0 && /<img\b/i.test(decoded)) html.set('\n', 1);
    }
    const orig = html.size;
    if (orig === 0) continue;
    r.html = orig;
    r.text = text.size;
    for (const [k, v] of text) if (html.has(k) && html.get(k)! - v < 1) html.delete(k);
    r.diff = Math.max(r.diff, (html.size / orig) * 100);
  }
  madiffMemo.set(ctx, r);
  return r;
}

const upperMemo = new WeakMap<EvalContext, number>();
const verticalMemo = new WeakMap<EvalContext, number>();

/** Constants::CHARSETS_LIKELY_TO_FP_AS_CAPS: scripts without letter case. */
const CHARSETS_LIKELY_TO_FP_AS_CAPS = /^[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]*$/i;

/**
 * MIMEEval::check_for_uppercase's share (%) of capitals: over the body lines (the Subject first)
 * that hold a space between two non-spaces and are no leftover base64, capitals against
 * capitals + lower-case letters + digits; 0 below 200 characters of such lines, and 0 when a
 * charset of the message is one of a script without case (body_charset_is_likely_to_fp).
 */
function uppercasePercent(ctx: EvalContext): number {
  let pct = upperMemo.get(ctx);
  if (pct !== undefined) return pct;
  const m = ctx.mime();
  // get_charset_from_ct_line, its three tries in order (the last keeps a trailing ";").
  const ct = ctx.header('content-type') ?? '';
  const top = (/charset="([^"]+)"/i.exec(ct) ?? /charset='([^']+)'/i.exec(ct) ?? /charset=(\S+)/i.exec(ct))?.[1] ?? '';
  if ([top, ...m.parts.map((p) => p.charset)].some((c) => /[a-z]/i.test(c) && CHARSETS_LIKELY_TO_FP_AS_CAPS.test(c))) pct = 0;
  else {
    let len = 0;
    let lower = 0;
    let upper = 0;
    for (const raw of ctx.bodyLines) {
      if (!/\S\s+\S/.test(raw) || /^(?:[A-Za-z0-9+/=]{60,76} ){2}/.test(raw)) continue;
      const line = raw.replace(/\x1b\$B.*\x1b\(B/gs, '');
      len += line.length;
      for (let i = 0; i < line.length; i++) {
        const c = line.charCodeAt(i);
        if (c >= 65 && c <= 90) upper++;
        else if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) lower++;
      }
    }
    pct = len < 200 || upper + lower === 0 ? 0 : (upper / (upper + lower)) * 100;
  }
  upperMemo.set(ctx, pct);
  return pct;
}

export const SA_EVALS: Readonly<Record<string, EvalFn>> = {
  // ---- HeaderEval
  check_for_shifted_date(ctx, [min, max]) {
    const d = dateDiff(ctx);
    return (min === 'undef' || d >= 3600_000 * Number(min)) && (max === 'undef' || d < 3600_000 * Number(max));
  },
  subject_is_all_caps(ctx) {
    let s = (ctx.header('subject') ?? '').trim().replace(/^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\s*)+/i, '');
    if (!/\s/.test(s) || s.length < 10) return false;
    s = s.replace(/[^a-zA-Z]/g, '');
    // CHARSETS_LIKELY_TO_FP_AS_CAPS: scripts without letter case.
    if (/=\?(?:ISO-2022-JP|EUC-JP|Shift_JIS|EUC-KR|GB2312|GBK|Big5|KOI8-R|UTF-8|windows-1251|ISO-8859-5|windows-1255|ISO-8859-8|TIS-620)\?/i.test(ctx.header('subject', 'raw') ?? '')) return false;
    return s.length > 0 && s === s.toUpperCase();
  },
  // A header that is there but empty still counts: SpamAssassin's value keeps its newline.
  check_for_missing_to_header: (ctx) => ctx.all('to').length === 0 && ctx.all('apparently-to').length === 0,
  check_equal_from_domains(ctx) {
    const from = lastTwo(domainOf(ctx.header('from', 'addr') ?? ''));
    const env = lastTwo(domainOf(ctx.header('EnvelopeFrom', 'addr') ?? ''));
    return from !== '' && env !== '' && from !== env;
  },
  check_outlook_message_id(ctx) {
    const id = ctx.header('MESSAGEID') ?? '';
    const m = /^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}@/.exec(id);
    if (!m) return false;
    const token = parseInt(m[1]!, 16);
    const expect = (ms: number) => Math.trunc((ms / 1000) * 0.0023283064365387 + 27111902.8329849);
    if (Math.abs(token - expect(parseDate(ctx.header('date')) ?? 0)) < 250) return false;
    // The oldest Received line's date (SpamAssassin's regex finds it at the end of the joined headers).
    const rcvd = ctx.all('received');
    const last = /(\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+)[^\n]*$/.exec(rcvd.join('\n'));
    return Math.abs(token - expect(parseDate(last?.[1]) ?? 0)) >= 250;
  },
  check_header_count_range(ctx, [hdr, min, max]) {
    const n = new Set(ctx.all(hdr!.toLowerCase())).size;
    return n >= Number(min) && n <= Number(max);
  },
  check_for_to_in_subject(ctx, [test]) {
    const to = ctx.header('to', 'addr') ?? '';
    if (to === '' || !to.includes('@')) return false;
    const subject = ctx.header('subject') ?? '';
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    if (test === 'address') return new RegExp(`\\b${esc(to)}\\b`, 'i').test(subject);
    const user = esc(to.replace(/@.*/, ''));
    if (user === '') return false;
    return new RegExp(`^(?:(?:re|fw):\\s*(?:\\w+\\s+)?${user}$|${user}\\s*[,:;!?-](?:$|\\s)|${user}$|,\\s*${user}[,:;!?-]$)`, 'i').test(subject);
  },
  gated_through_received_hdr_remover: (ctx) => gatedThroughReceivedRemover(ctx),
  check_ratware_name_id(ctx) {
    const m = /<[A-Z]{28}\.([^>]+?)>/.exec(ctx.header('MESSAGEID') ?? '');
    return m !== null && (ctx.header('from') ?? '').includes(`<${m[1]}>`) && /"[^"]+"\s*</.test(ctx.header('from') ?? '');
  },
  check_ratware_envelope_from(ctx) {
    const to = ctx.header('to', 'addr') ?? '';
    const from = ctx.header('EnvelopeFrom', 'addr') ?? '';
    if (from === '' || to === '' || /^SRS\d[=+-]/i.test(from)) return false;
    const m = /^([^@]+)@(.+)$/.exec(to);
    if (!m) return false;
    const dom = lastTwo(m[2]!.toLowerCase());
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    return new RegExp(`\\b${esc(dom)}.${esc(m[1]!)}@`, 'i').test(from);
  },
  check_for_forged_yahoo_received_headers(ctx) {
    const from = ctx.header('from', 'addr') ?? '';
    if (!/\byahoo\.com$/i.test(from)) return false;
    let rcvd = ctx.header('received') ?? '';
    if ((ctx.header('resent-from') ?? '') !== '' && (ctx.header('resent-to') ?? '') !== '') rcvd = ctx.header('x-received') || rcvd;
    rcvd = rcvd.replace(/\s+/g, ' ');
    if (gatedThroughReceivedRemover(ctx)) return false;
    const r = ctx.relays();
    if (r.trusted.some((x) => /\.yahoo\.com$/i.test(x.rdns)) || /\.yahoo\.com$/i.test(r.untrusted[0]?.rdns ?? '')) return false;
    if (/by web\S+\.mail\S*\.yahoo\.com via HTTP/.test(rcvd) || /by sonic\S+\.consmr\.mail\S*\.yahoo\.com with HTTP/.test(rcvd) || /by smtp\S+\.yahoo\.com with SMTP/.test(rcvd)) return false;
    if (/from \[[\d.]+\] by \S+\.(?:groups|scd|dcn)\.yahoo\.com with NNFMP/.test(rcvd)) return false;
    if (/\bmailer\d+\.bulk\.scd\.yahoo\.com\b/.test(rcvd) && /@reply\.yahoo\.com$/i.test(from)) return false;
    if (/by \w+\.\w+\.yahoo\.com \(\d+\.\d+\.\d+\/\d+\.\d+\.\d+\)(?: with ESMTP)? id \w+/.test(rcvd)) return false;
    return true;
  },
  check_illegal_chars(ctx, [header, ratio, count]) {
    return illegalChars(ctx, header!, Number(ratio), Number(count));
  },
  // ---- RelayEval
  // ALL_TRUSTED / NO_RELAYS (check_all_trusted, check_no_relays). SpamAssassin requires no
  // unparseable relay for both: a Received line it skips (localhost, a fetcher) is no relay, one
  // it cannot read is.
  check_all_trusted(ctx) {
    const r = ctx.relays();
    return r.trusted.length > 0 && r.untrusted.length === 0 && r.unparseable === 0;
  },
  check_no_relays(ctx) {
    const r = ctx.relays();
    return r.trusted.length === 0 && r.untrusted.length === 0 && r.unparseable === 0;
  },
  helo_ip_mismatch(ctx) {
    // An untrusted relay that says HELO with a public IPv4 address outside its own /24.
    for (const r of ctx.relays().untrusted) {
      if (!isIpv4(r.helo) || isPrivateIp(r.helo)) continue;
      const h = /^(\d+\.\d+\.\d+\.)/.exec(r.helo);
      if (isIpv4(r.ip) && !isPrivateIp(r.ip) && r.helo !== r.ip && h && !r.ip.startsWith(h[1]!)) return true;
    }
    return false;
  },
  check_for_no_rdns_dotcom_helo(ctx) {
    // As RelayEval::_check_received_helos: the last public untrusted relay decides.
    let hit = false;
    for (const r of ctx.relays().untrusted) {
      if (isPrivateIp(r.ip)) continue;
      hit = r.noReverseDns && /(?:\.|^)(?:lycos\.com|lycos\.co\.uk|hotmail\.com|localhost\.com|excite\.com|caramail\.com|cs\.com|aol\.com|msn\.com|yahoo\.com|drizzle\.com)$/i.test(r.helo);
    }
    return hit;
  },
  check_for_forged_hotmail_received_headers: (ctx) => hotmail(ctx) === 'forged',
  check_for_no_hotmail_received_headers: (ctx) => hotmail(ctx) === 'none',
  sorted_recipients: (ctx) => recipients(ctx).sorted,
  check_unresolved_template(ctx) {
    // A template variable (%FROM_NAME, %RND_…) left in a header by ratware; lines as
    // SpamAssassin's get('ALL') gives them (decoded, one per header).
    for (const line of (ctx.header('ALL') ?? '').replace(/\n[ \t]+/g, ' ').split('\n')) {
      if (/%[A-Z][A-Z_-]/.test(line) && !/^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):/i.test(line)) return true;
    }
    return false;
  },
  similar_recipients(ctx, [min, max]) {
    const s = recipients(ctx).similar;
    return (min === 'undef' || s >= Number(min)) && (max === 'undef' || s < Number(max));
  },
  multipart_alternative_difference(ctx, [min, max]) {
    const d = madiff(ctx).diff;
    return (Number(min) === 0 || d > Number(min)) && (max === 'undef' || d <= Number(max));
  },
  multipart_alternative_difference_count(ctx, [ratio, minHtml]) {
    const d = madiff(ctx);
    return d.html > Number(minHtml) && d.text / d.html > Number(ratio);
  },
  check_body_length(ctx, [min]) {
    return ctx.bodyLength <= Number(min);
  },
  // DKIM and ARC results need DNS: false, as in SpamAssassin without network tests (the gateway's
  // own DKIM/DMARC verdicts are the authentication check's symbols).
  check_dkim_dependable: () => false,
  check_dkim_valid: () => false,
  check_dkim_signed: () => false,
  check_dkim_valid_author_sig: () => false,
  check_dkim_valid_envelopefrom: () => false,
  check_arc_signed: () => false,
  check_arc_valid: () => false,
  // RelayEval: a Received line naming a sender that could not be parsed (UNPARSEABLE_RELAY, and
  // __XPRIO_MINFP's guard).
  check_relays_unparseable: (ctx) => ctx.relays().unparseable > 0,
  check_mailfrom_matches_rcvd(ctx) {
    // The envelope sender's domain matches the first untrusted relay's reverse DNS domain.
    const env = domainOf(ctx.header('EnvelopeFrom', 'addr') ?? '');
    const r = ctx.relays().untrusted[0];
    if (env === '' || !r || r.rdns === '') return false;
    const a = lastTwo(env);
    return lastTwo(r.rdns.toLowerCase()) === a;
  },
  // ---- FreeMail
  check_freemail_from(ctx, [re]) {
    const rx = re ? fixedRegExp(re) : null;
    return allFromAddrs(ctx).some((a) => ctx.isFreemail(a) && (!rx || rx.test(a)));
  },
  check_freemail_header(ctx, [header, re]) {
    const name = header!.replace(/:addr$/, '');
    const rx = re ? fixedRegExp(re) : null;
    const list = name === 'EnvelopeFrom' ? [(ctx.header('EnvelopeFrom', 'addr') ?? '').toLowerCase()].filter((a) => a.includes('@')) : addrs(ctx, name.toLowerCase());
    return list.some((a) => ctx.isFreemail(a) && (!rx || rx.test(a)));
  },
  check_freemail_replyto(ctx, [what = 'replyto']) {
    const from = addrs(ctx, 'from');
    const reply = addrs(ctx, 'reply-to');
    const fromFm = from.some((a) => ctx.isFreemail(a));
    const replyFm = reply.some((a) => ctx.isFreemail(a));
    const fromNotInReply = !from.some((f) => reply.includes(f));
    if (fromFm && replyFm && fromNotInReply) return true;
    if (what === 'replyto' && !replyFm) return false;
    if (what === 'reply' && ((reply.length > 0 && !replyFm) || !fromFm)) return false;
    // Freemail addresses in the body other than the reply address.
    const body = bodyEmails(ctx);
    const fmBody = body.filter((a) => ctx.isFreemail(a));
    if (body.length >= 5 || fmBody.length >= 3) return false; // freemail_max_body_* with skip_when_over_max
    const target = what === 'replyto' ? reply : replyFm ? reply : from;
    return fmBody.some((b) => target.some((r) => r !== b));
  },
  // ---- MIMEEval
  check_for_mime_html: (ctx) => ctx.mime().htmlCount > 0,
  check_for_mime_html_only: (ctx) => ctx.mime().htmlCount > 0 && ctx.mime().textCount === 0,
  check_for_mime: (ctx, [test]) => ctx.mime().flags.has(test!),
  check_base64_length(ctx, [min, max]) {
    // MIMEEval::_check_base64_length: the longest line of a base64 part (its newline counted,
    // as in SpamAssassin's raw lines); calendar invites left out.
    let longest = 0;
    for (const p of ctx.mime().parts) {
      if (p.encoding !== 'base64' || p.type === 'application/ics') continue;
      for (const line of p.body.split('\n')) longest = Math.max(longest, line.replace(/\r$/, '').length + 1);
    }
    if (max !== undefined && longest > Number(max)) return false;
    return longest >= Number(min);
  },
  // ---- BodyEval
  check_for_uppercase(ctx, [min, max]) {
    const pct = uppercasePercent(ctx);
    return pct > Number(min) && pct <= Number(max);
  },
  tvd_vertical_words(ctx, [min, max]) {
    // BodyEval::tvd_vertical_words: the highest share of spaces to non-spaces (percent, 100 when
    // spaces outnumber the rest) over the body lines longer than 5 (text in a vertical column).
    let pct = verticalMemo.get(ctx);
    if (pct === undefined) {
      pct = -1;
      const lines = ctx.bodyLines;
      for (let n = 0; n < lines.length; n++) {
        // SpamAssassin's lines keep their "\n" (all but the last): it counts as a non-space.
        // (bodyLines are UTF-8 bytes already, as SpamAssassin's.)
        const line = lines[n]!;
        const len = line.length + (n < lines.length - 1 ? 1 : 0);
        if (len <= 5) continue;
        let spaces = 0;
        for (let i = 0; i < line.length; i++) if (line.charCodeAt(i) === 32) spaces++;
        const non = len - spaces;
        const p = spaces > non || non === 0 ? 100 : Math.trunc((100 * spaces) / non);
        if (p > pct) pct = p;
      }
      verticalMemo.set(ctx, pct);
    }
    const hi = Number(max) >= 100 ? 101 : Number(max);
    return pct >= Number(min) && pct < hi;
  },
  // ---- HTMLEval
  // HTMLEval: each test holds when one HTML part passes it (html_all).
  html_test: (ctx, [test]) => ctx.html().some((h) => h.flags.has(test!)),
  html_tag_exists: (ctx, [tag]) => ctx.html().some((h) => h.inside.has(tag!.toLowerCase())),
  html_tag_balance(ctx, [tag, expr]) {
    return ctx.html().some((h) => {
      const v = h.inside.get(tag!.toLowerCase());
      return v !== undefined && cmp(v, expr!);
    });
  },
  html_range(ctx, [test, min, max]) {
    const hi = num(max);
    return ctx.html().some((h) => {
      const v = h.values[test!];
      return v !== undefined && v > Number(min) && (hi === Infinity || v <= hi);
    });
  },
  html_eval(ctx, [test, expr]) {
    return ctx.html().some((h) => {
      const v = h.values[test!];
      return v !== undefined && cmp(v, expr!);
    });
  },
  html_image_only(ctx, [min, max]) {
    return ctx.html().some((h) => {
      const len = h.values.length;
      return h.inside.has('img') && len !== undefined && len > Number(min) && len <= Number(max);
    });
  },
  html_image_ratio(ctx, [min, max]) {
    return ctx.html().some((h) => {
      const area = h.values.image_area ?? 0;
      if (area <= 0) return false;
      const r = (h.values.non_space_len ?? 0) / area;
      return r > Number(min) && r <= Number(max);
    });
  },
  html_text_match(ctx, [what, re]) {
    const rx = fixedRegExp(re!.replace(/\(\?i\)/, ''), /^\(\?i\)/.test(re!) ? 'i' : '');
    return ctx.html().some((h) => (h.texts[what as 'comment' | 'title' | 'anchor'] ?? []).some((s) => rx.test(s)));
  },
  html_title_subject_ratio(ctx, [ratio]) {
    // A <title> more than `ratio` times as long as the Subject.
    const subject = ctx.header('Subject') ?? '';
    if (subject === '') return false;
    return ctx.html().some((h) => h.texts.title.some((t) => t !== '' && t.length / subject.length > Number(ratio)));
  },
};

/** For tests: forget memoised per-context values. */
export function resetEvalMemo(): void {
  dateDiffMemo = new WeakMap();
}
