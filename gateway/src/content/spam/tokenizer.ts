/*
 * content/spam/tokenizer.ts — the Bayes tokens of a message the way SpamAssassin 4.0.1's Bayes
 * plugin makes them (Mail::SpamAssassin::Plugin::Bayes: tokenize, _tokenize_line,
 * _tokenize_headers, _pre_chew_*, _tokenize_mail_addrs), ported to TypeScript on our parsed
 * message. Measured on the TRAIN time split, SpamAssassin's Bayes was confident on spam ours
 * missed; the differences that mattered (docs/benchmarks.md):
 * - **every header** except a list of well-known noisy ones and the default configuration's
 *   bayes_ignore_header list (sa-bayes-ignore.ts; spammers' own tracking headers are evidence),
 *   with the header name as written as prefix (`H*F:`, `HX-Tracking-Id:` …; Message-Id is `*m`,
 *   Message-ID `*M`: SpamAssassin's tests of names are case-sensitive), address headers
 *   broken into `N*` phrase words, `U*` local parts and `D*` domains (and each parent domain),
 *   Message-IDs split at likely boundaries, only the two earliest `Received` lines (the
 *   sender's software and HELO), IPs as their /24 plus `ip*` the whole address, and the relay
 *   pseudo headers (X-Spam-Relays-*);
 * - **case kept**: a body word counts as itself and, when it has capitals or punctuation, also
 *   lower-cased and stripped ("FREE!" → "FREE!", "free!", "FREE", "free"); Title Case at the
 *   start of a sentence is lower-cased;
 * - words of 3 to 15 UTF-8 bytes; a longer one keeps its first 7 characters as `sk:` ("skip"),
 *   or, when it has characters of 3 or 4 bytes (CJK), becomes one `u8:` token per such character; tokens with a dot are domains (`UD:` and each parent);
 *   e-mail addresses in the text give `U*` and `D*` tokens; a short English stop list is dropped;
 * - the Subject is the first body line (not a header), then the visible body as SpamAssassin
 *   renders it (sa-mime visibleBody: every text/plain and text/html part, HTML as HTML.pm renders it),
 *   then SpamAssassin's URI list (sa-uri: each link with its canonical variants, e-mail
 *   addresses as mailto:), where long tokens are kept whole.
 * Checked against SpamAssassin 4.0.1's own tokens (its Bayes plugin's tokenize, and sa-learn's
 * hashes): identical sets for 3,037 of the 3,125 TRAIN messages (docs/benchmarks.md).
 * HTML text a reader does not see (HTML.pm's html_font_invisible) is no body word: it gives `I*:`
 * tokens, as SpamAssassin's bayes_token_sources `invisible`.
 * Not ported: token hashing (we store the
 * token text). The token set is what the classifier counts (once per message).
 */
import type { ParsedMessage } from './parse.js';
import { fromUtf8Bytes, invisibleBody, messageMime, textLines, visibleBody } from './sa-mime.js';
import { BAYES_IGNORE_HEADERS } from './sa-bayes-ignore.js';
import { saDecodeHeader, saSubject } from './sa-header.js';
import { messageRelays } from './sa-relays.js';
import { loadSaRules } from './sa-rules.js';
import { messageUris } from './sa-uri.js';

// A bound on one message's distinct tokens (SpamAssassin stops at 50,000 body, 10,000 link and 10,000
// header tokens; the body read is 256 KiB here): long newsletters pass 5,000.
const MAX_TOKENS = 20_000;
const MAX_TOKEN_LENGTH = 15;

/** Headers SpamAssassin's Bayes does not tokenize ($IGNORED_HDRS), as one anchored regex. */
const IGNORED_HDRS = new RegExp(`^(?:${[
  '(?:x-)?sender', 'delivered-to', 'delivery-date', '(?:x-)?envelope-to', 'x-mime-auto[c]onverted', 'x-converted-to-plain-text',
  'subject', 'date', 'x-list', '(?:x-)?mailing-list',
  '(?:x-)?list-(?:archive|help|id|owner|post|subscribe|unsubscribe|host|id|manager|admin|comment|name|url)',
  'x-unsub(?:scribe)?', 'x-mailman-version', 'x-been[t]here', 'x-loop', 'mail-followup-to', 'x-egroups-(?:return|from)',
  'x-mdmailing-list', 'x-xemacs-list', 'x-sympa-to', '(?:x-)?resent-(?:from|to|date)', '(?:x-)?original-(?:from|to|date)',
  'x-mailscanner(?:-spamcheck)?', 'x-spam(?:-(?:status|level|flag|report|hits|score|checker-version))?', 'x-antispam',
  'x-rbl-warning', 'x-mailscanner', 'x-mdaemon-deliver-to', 'x-virus-scanned', 'x-mass-check-id', 'x-pyzor',
  'x-dcc-\\S{2,25}-metrics', 'x-filtered-b[y]', 'x-scanned-by', 'x-scanner', 'x-ap-spam-(?:score|status)',
  'x-ripe-spam-status', 'x-spamcop-[^:]+', 'x-smtpd', '(?:x-)?spam-apparently-to', 'spam', 'x-perlmx-spam', 'x-bogosity',
  'content-class', 'thread-(?:index|topic)', 'x-original[a]rrival[t]ime', '(?:x-)?status', 'x-flags', 'x-keywords',
  'replied', 'forwarded', 'lines', 'content-length', 'x-uidl?', 'x-imapbase', 'x-bugzilla-[^:]+',
  'x-vm-(?:bookmark|(?:pop|imap)-retrieved|labels|last-modified|summary-format|vheader|v\\d-data|message-order)',
  'x-gnus-mail-source', 'xref',
].join('|')})$`);

const PRESENCE_ONLY_HDRS = /^(?:x-face|x-(?:gnu-?pg|pgp|gpg)(?:-key)?-fingerprint|d(?:kim|omainkey)-signature|x-google-dkim-signature|arc-(?:message-signature|seal)|autocrypt)$/;

/**
 * SpamAssassin's %HEADER_NAME_COMPRESSION, by the name as written: its lookup is case-sensitive
 * (Message-Id and Message-ID are *m and *M, Return-path *rp), and any other header's tokens
 * carry its name as written too — how a mailer capitalises header names is evidence.
 */
const HEADER_PREFIX: Record<string, string> = {
  'Message-Id': '*m', 'Message-ID': '*M', Received: '*r', 'User-Agent': '*u', References: '*f', 'In-Reply-To': '*i', From: '*F',
  'Reply-To': '*R', 'Return-Path': '*p', 'Return-path': '*rp', 'X-Mailer': '*x', 'X-Authentication-Warning': '*a', Organization: '*o',
  Organisation: '*o', 'Content-Type': '*ct', 'Content-Disposition': '*cd', 'Content-Transfer-Encoding': '*ce',
  'x-spam-relays-trusted': '*RT', 'x-spam-relays-untrusted': '*RU',
};

/** SpamAssassin's bayes_stopword_en (60_bayes_stopwords.cf), matched case-insensitively, whole token. */
const STOPWORDS = /^(?:a(?:ble|l(?:ready|l)|n[dy]|re)|b(?:ecause|oth)|c(?:an|ome)|e(?:ach|mail|ven)|f(?:ew|irst|or|rom)|give|h(?:a(?:ve|s)|ttp)|i(?:n(?:formation|to)|t's)|just|know|l(?:ike|o(?:ng|ok))|m(?:a(?:de|il(?:(?:ing|to))?|ke|ny)|o(?:re|st)|uch)|n(?:eed|o[tw]|umber)|o(?:ff|n(?:ly|e)|ut|wn)|p(?:eople|lace)|right|s(?:ame|ee|uch)|t(?:h(?:at|is|rough|e)|ime)|using|w(?:eb|h(?:ere|y)|ith(?:out)?|or(?:ld|k))|y(?:ears?|ou(?:(?:'re|r))?))$/i;

// SpamAssassin tokenizes UTF-8 bytes: it keeps [-A-Za-z0-9,@*!_'"$. ] and every multi-byte
// character whole (the rest become spaces), splits at ASCII white space only, and measures a
// token's length in bytes — a run of five CJK characters is 15 bytes, six are "long" and become
// one u8: token per character. Our strings are characters, so lengths are counted as UTF-8.
const NOT_TOKEN_CHAR = /[^A-Za-z0-9,@*!_'"$. \u0080-\uffff-]+/g;
const ASCII_SPACE = /[ \t\n\r\f\v]+/;
const DOTS_DASHES = /(\w)(\.{3,6}|-{2,6})(?=\w)/g;
const TITLE_CASE = /(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/g;
const TRIM = /^[-'".,]+|[-'".,]+$/g;
const NON_WORD = /[^\w:*]/;
const NON_WORD_G = /[^\w:*]/g;
/** Characters of 3 and 4 UTF-8 bytes (Bayes.pm collects those of a long token; 2-byte ones not). */
const WIDE_CHAR = /[\ud800-\udbff][\udc00-\udfff]|[\u0800-\ud7ff\ue000-\uffff]/g;
const UPPER_ASCII = /[A-Z]+/g;

/** Length in UTF-8 bytes, as Perl's length() under `use bytes`. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

/** lc under `use bytes`: ASCII letters only. */
const lowerAscii = (s: string): string => s.replace(UPPER_ASCII, (m) => m.toLowerCase());

type Add = (t: string) => void;

/** _tokenize_line: region 0 header, 1 body, 2 URI. */
export function tokenizeLine(line: string, prefix: string, region: 0 | 1 | 2, add: Add): void {
  let s = line.replace(NOT_TOKEN_CHAR, ' ').replace(DOTS_DASHES, '$1 $2 ');
  if (region !== 0) s = s.replace(TITLE_CASE, (_m, a: string, b: string) => ` ${a.toLowerCase()}${b} `);
  for (const raw of s.split(ASCII_SPACE)) {
    let token = raw.replace(TRIM, '');
    const len = utf8Length(token);
    if (len < 3 || STOPWORDS.test(token)) continue;
    if (region !== 0) {
      if (/\S@\S/.test(token)) mailAddrTokens(token, add);
      else if (/\S\.[a-z]/i.test(token)) {
        add(`UD:${token}`);
        for (let bit = token, i = bit.indexOf('.'); i > 0 && i < bit.length - 1; i = bit.indexOf('.')) {
          bit = bit.slice(i + 1);
          add(`UD:${bit}`);
        }
      }
    }
    if (len > MAX_TOKEN_LENGTH && !token.includes('*')) {
      const wide = token.match(WIDE_CHAR);
      if (wide) {
        for (const c of wide) add(`${prefix}u8:${c}`);
        continue;
      }
      if (region !== 2) token = `sk:${token.slice(0, 7)}`;
    }
    if (region !== 0) {
      const punct = NON_WORD.test(token);
      if (punct) add(prefix + token.replace(NON_WORD_G, ''));
      if (/[A-Z]/.test(token)) {
        const lc = lowerAscii(token);
        add(prefix + lc);
        if (punct) add(prefix + lc.replace(NON_WORD_G, ''));
      }
    }
    add(prefix + token);
  }
}

/** _tokenize_mail_addrs: U*local, D*domain and each parent domain. */
function mailAddrTokens(addr: string, add: Add): void {
  const at = addr.lastIndexOf('@');
  if (at <= 0 || at === addr.length - 1) return;
  add(`U*${addr.slice(0, at)}`);
  let d = addr.slice(at + 1);
  add(`D*${d}`);
  for (let i = d.indexOf('.'); i > 0 && i < d.length - 1; i = d.indexOf('.')) {
    d = d.slice(i + 1);
    add(`D*${d}`);
  }
}

/** _pre_chew_addr_header: the phrase words as N*word, the addresses as U* and D* tokens. */
function chewAddrHeader(value: string): string {
  const toks: string[] = [];
  for (const part of value.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const angle = /<([^<>]*)>/.exec(part);
    let addr: string | undefined;
    let phrase = '';
    if (angle) {
      addr = angle[1]!.trim();
      phrase = part.slice(0, angle.index).replace(/"/g, '').trim();
    } else {
      const m = /[^\s<>()"]+@[^\s<>()"]+/.exec(part);
      addr = m?.[0];
      const c = /\(([^)]*)\)/.exec(part);
      if (c) phrase = c[1]!.trim();
    }
    for (const w of phrase.split(/\s+/)) if (w) toks.push(`N*${w}`);
    if (addr) mailAddrTokens(addr, (t) => toks.push(t));
  }
  return toks.join(' ');
}

function chewMessageId(value: string): string {
  return value
    .replace(/<([0-9a-f]{4})[0-9a-f]{8}\$([0-9a-f]{4})[0-9a-f]{4}\$([0-9a-f]{8})@(\S+)>/g, ' OEA$1 OEB$2 OEC$3 $4 ')
    .replace(/<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]@/, '')
    .replace(/<20\d\d[01]\d[0123]\d[012]\d[012345]\d[012345]\d\.[A-F0-9]{10,12}@/g, '')
    .replace(/[^_A-Za-z0-9]/g, ' ');
}

const RCVD_DATE = /(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s)?[0-3\s]?[0-9]\s(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\s(?:19|20)?[0-9]{2}\s[0-2][0-9](?::[0-5][0-9]){1,2}\s(?:\s*\(|\)|\s*(?:[+-][0-9]{4})|\s*(?:UT|[A-Z]{2,3}T))*/g;

function chewReceived(value: string): string {
  return value
    .replace(/\swith\sSMTP\sid\sg[\dA-Z]{10,12}\s/g, ' ')
    .replace(/\swith\sESMTP\sid\s[\dA-F]{10,12}\s/g, ' ')
    .replace(/\bid\s[a-zA-Z0-9]{7,20}\b/g, ' ')
    .replace(/\bid\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]/g, ' ')
    .replace(RCVD_DATE, '')
    // SpamAssassin's test compares the second octet with 10 and 192 (its own quirk): kept.
    .replace(/\b(\d{1,3}\.)(\d{1,3}\.)(\d{1,3})(\.\d{1,3})\b/g, (_m, a: string, b: string, c: string, d: string) =>
      (b === '10' || (b === '192' && c === '168') ? `${a}${b}${c}${d}` : `${a}${b}${c}`) + ` ip*${a}${b}${c}${d} `)
    .replace(/\b(?:with|from|for|SMTP|ESMTP)\b/g, ' ');
}

function chewContentType(value: string): string {
  let boundary: string | null = null;
  let v = value.replace(/boundary=["'](.*?)["']/gi, (_m, b: string) => {
    boundary = b;
    return ' ';
  });
  if (boundary !== null) v += (boundary as string).replace(/[a-fA-F0-9]/g, 'H').replace(/([-_.=]+)/g, ' $1 ');
  return v.replace(/\b(?:text|charset)\b/g, ' ');
}

/**
 * _tokenize_headers: prefix → the text to tokenize. Header names as written: SpamAssassin's
 * tests of them are case-blind only where it says so (ignored, address and Message-ID headers,
 * the *MI/*Ad/*UA maps), exact for Received, Content-Type, MIME-Version and the prefix map.
 */
function headerTexts(msg: ParsedMessage): Map<string, string> {
  const parsed = new Map<string, string>();
  const put = (k: string, v: string) => parsed.set(k, parsed.has(k) ? `${parsed.get(k)} ${v}` : v);
  const received: Array<[string, string]> = [];
  const hdrs: Array<[string, string]> = [];
  for (const h of msg.headers) {
    const name = h.rawName ?? h.name;
    if (h.name === 'received') received.push([name, h.value]);
    // Values as SpamAssassin reads them: RFC 2047 words decoded (sa-header).
    else if (!IGNORED_HDRS.test(h.name)) hdrs.push([name, saDecodeHeader(name, h.value)]);
  }
  for (const [name, value] of messageRelays(msg).headers) hdrs.push([name, value]);
  // The two earliest Received lines (the bottom of the header): the sender's software and HELO.
  if (received.length >= 1) hdrs.push(received[received.length - 1]!);
  if (received.length >= 2) hdrs.push(received[received.length - 2]!);
  for (const [name, value0] of hdrs) {
    // The default configuration's bayes_ignore_header (anti-spam and list software stamps).
    if (BAYES_IGNORE_HEADERS.has(name.toLowerCase())) continue;
    let value = value0;
    if (/^(?:x-|resent-)?message-id$/i.test(name)) value = chewMessageId(value);
    else if (/^(?:x-|resent-)?(?:return-path|from|to|cc|reply-to|errors-to|mail-followup-to|sender)$/i.test(name)) value = chewAddrHeader(value);
    else if (name === 'Received') value = chewReceived(value);
    else if (name === 'Content-Type') value = chewContentType(value);
    else if (name === 'MIME-Version') value = value.replace('1.0', '');
    else if (PRESENCE_ONLY_HDRS.test(name.toLowerCase())) value = '1';
    else if (/^x-spam-relays-(?:external|internal|trusted|untrusted)$/.test(name)) value = value.replace(/ [a-z]+=/g, ' ');
    if (/^(?:in-reply-to|references|message-id)$/i.test(name)) put('*MI', value);
    if (/^(?:from|to|cc)$/i.test(name)) put('*Ad', value);
    if (/^(?:x-mailer|user-agent)$/i.test(name)) put('*UA', value);
    put(HEADER_PREFIX[name] ?? name, value);
  }
  return parsed;
}

/** The body's lines as SpamAssassin's Bayes reads them (sa-mime textLines), as characters. */
const lines = (text: string): string[] => textLines(text).map(fromUtf8Bytes);

export function tokenize(msg: ParsedMessage): string[] {
  const out = new Set<string>();
  const add: Add = (t) => {
    // A decomposition of a token without ASCII word characters is empty: SpamAssassin skips it.
    if (t !== '' && out.size < MAX_TOKENS) out.add(t);
  };
  // The Subject as the first line, then the visible rendered body paragraph by paragraph, as
  // SpamAssassin's body lines (text in the background colour, tiny or hidden is left out).
  tokenizeLine(saSubject(msg), '', 1, add);
  const mime = messageMime(msg);
  for (const line of lines(visibleBody(mime))) tokenizeLine(line, '', 1, add);
  // SpamAssassin's URI list (its bayes_token_uris), the uri rules' own list with redirect targets
  // (sa-uri messageUris): every link with its canonical variants and the e-mail addresses as
  // mailto: — region 2, where long tokens are kept whole.
  for (const url of messageUris(msg, loadSaRules().redirectors)) tokenizeLine(url, '', 2, add);
  for (const [prefix, value] of headerTexts(msg)) tokenizeLine(value, `H${prefix}:`, 0, add);
  // Invisible HTML text counts apart, as `I*:` tokens (hidden ham words cannot pose as visible ones).
  for (const line of lines(invisibleBody(mime))) tokenizeLine(line, 'I*:', 1, add);
  return [...out];
}
