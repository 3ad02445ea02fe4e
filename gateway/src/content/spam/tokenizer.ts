/*
 * content/spam/tokenizer.ts — a parsed message → the set of tokens the Bayes classifier counts.
 *
 * In the manner of SpamBayes and bogofilter: each token counts once per message; tokens carry a
 * prefix saying where they came from, so "free" in the Subject and "free" in the body are
 * different evidence. Sources:
 * - headers: words of Subject, From, To, Reply-To, Return-Path, X-Mailer, User-Agent,
 *   Content-Type, List-* and a few more; the hosts and /16 networks of Received lines; the
 *   domain and shape of the Message-ID; which header names are present at all;
 * - body: words of the text part (the HTML part with its tags stripped when there is no text),
 *   3–20 characters, lower-cased; longer words become a "skip" token of their first letter and
 *   length (as SpamBayes does); HTML tag and attribute names as their own tokens;
 * - URLs: host, its registrable tail, numeric hosts, path words;
 * - MIME structure: content types of the parts, attachment extensions, HTML-only, charsets.
 * Does not: stem (it costs more than it gains on mail) or look at attachment contents.
 */
import type { ParsedMessage } from './parse.js';

/** Header fields whose words are tokens (others contribute only their presence). */
const WORD_HEADERS = new Set([
  'subject', 'from', 'to', 'cc', 'reply-to', 'return-path', 'sender', 'errors-to', 'x-mailer', 'user-agent',
  'content-type', 'content-transfer-encoding', 'mime-version', 'list-id', 'list-unsubscribe', 'precedence',
  'organization', 'x-priority', 'x-msmail-priority', 'importance', 'x-mimeole', 'mailing-list', 'x-beenthere',
]);

const WORD_RE = /[\p{L}\p{N}$'!][\p{L}\p{N}$'!._-]*/gu;
const URL_RE = /\bhttps?:\/\/[^\s"'<>()]+/gi;
const TAG_RE = /<\/?([a-z][a-z0-9]*)([^>]*)>/gi;
const ATTR_RE = /\b([a-z-]+)\s*=/gi;
const MAX_TOKENS = 3000;

export function tokenize(msg: ParsedMessage): string[] {
  const out = new Set<string>();
  const add = (t: string) => {
    if (out.size < MAX_TOKENS) out.add(t);
  };

  for (const h of msg.headers) {
    add(`hn:${h.name}`);
    if (h.name === 'received') receivedTokens(h.value, add);
    else if (h.name === 'message-id') messageIdTokens(h.value, add);
    else if (h.name === 'date') {
      const tz = /([+-]\d{4}|\b[A-Z]{3,4})\s*(\([^)]*\))?\s*$/.exec(h.value);
      if (tz) add(`date:tz:${tz[1]}`);
    } else if (WORD_HEADERS.has(h.name) && h.name !== 'subject') {
      for (const w of words(h.value)) add(`h:${h.name}:${w}`);
      const at = /@([a-z0-9.-]+)/i.exec(h.value);
      if (at) add(`h:${h.name}:dom:${at[1]!.toLowerCase()}`);
    }
  }

  const subject = msg.subject;
  for (const w of words(subject)) add(`subj:${w}`);
  if (subject.length >= 8 && subject === subject.toUpperCase() && /[A-Z]/.test(subject)) add('subj:ALLCAPS');
  if (/!!|\$\$/.test(subject)) add('subj:bang');
  if (subject === '') add('subj:empty');

  const hasText = msg.text.trim() !== '';
  const bodyText = hasText ? msg.text : stripTags(msg.html);
  for (const w of words(bodyText, true)) add(w);
  if (msg.html) {
    add(hasText ? 'mime:html+text' : 'mime:htmlonly');
    TAG_RE.lastIndex = 0;
    for (let m = TAG_RE.exec(msg.html), n = 0; m && n < 2000; m = TAG_RE.exec(msg.html), n++) {
      const tag = m[1]!.toLowerCase();
      add(`tag:${tag}`);
      ATTR_RE.lastIndex = 0;
      for (let a = ATTR_RE.exec(m[2]!); a; a = ATTR_RE.exec(m[2]!)) add(`tag:${tag}:${a[1]!.toLowerCase()}`);
    }
  }

  for (const url of extractUrls(`${msg.text}\n${msg.html}`)) urlTokens(url, add);

  add(`mime:nattach:${Math.min(msg.attachments.length, 5)}`);
  for (const a of msg.attachments) {
    add(`mime:type:${a.contentType}`);
    const ext = a.filename ? /\.([a-z0-9]{1,8})$/i.exec(a.filename)?.[1]?.toLowerCase() : undefined;
    if (ext) add(`mime:ext:${ext}`);
  }
  const ct = msg.headers.find((h) => h.name === 'content-type')?.value.toLowerCase() ?? '';
  const charset = /charset="?([a-z0-9_.:-]+)/.exec(ct)?.[1];
  if (charset) add(`mime:charset:${charset}`);
  const top = /^([a-z]+\/[a-z0-9.+-]+)/.exec(ct)?.[1];
  add(`mime:top:${top ?? 'none'}`);
  return [...out];
}

function* words(text: string, body = false): Generator<string> {
  WORD_RE.lastIndex = 0;
  for (let m = WORD_RE.exec(text); m; m = WORD_RE.exec(text)) {
    let w = m[0].replace(/[._'-]+$/, '').toLowerCase();
    if (w.length < 3) continue;
    if (w.length > 20) {
      if (body) yield `skip:${w[0]}:${Math.floor(w.length / 10) * 10}`;
      continue;
    }
    if (/^\d+$/.test(w)) w = `num:${w.length}`;
    yield w;
  }
}

function stripTags(html: string): string {
  return html.replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ').replace(/&amp;/gi, '&').replace(/&[a-z]+;|&#\d+;/gi, ' ');
}

export function extractUrls(text: string): string[] {
  URL_RE.lastIndex = 0;
  const urls = new Set<string>();
  for (let m = URL_RE.exec(text); m && urls.size < 200; m = URL_RE.exec(text)) urls.add(m[0].replace(/[.,;:!?]+$/, ''));
  return [...urls];
}

function urlTokens(url: string, add: (t: string) => void): void {
  const m = /^https?:\/\/(?:[^@/]*@)?([^/:?#]+)(:\d+)?([^?#]*)/i.exec(url);
  if (!m) return;
  const host = m[1]!.toLowerCase();
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) add('url:ip');
  else {
    add(`url:${host}`);
    const labels = host.split('.');
    if (labels.length > 2) add(`url:${labels.slice(-2).join('.')}`);
    add(`url:tld:${labels.at(-1)}`);
  }
  if (m[2]) add('url:port');
  if (url.includes('@')) add('url:at');
  for (const w of (m[3] ?? '').split(/[^a-z0-9]+/i)) if (w.length >= 3 && w.length <= 20) add(`urlp:${w.toLowerCase()}`);
}

function receivedTokens(value: string, add: (t: string) => void): void {
  for (const m of value.matchAll(/\b(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\b/g)) add(`rcvd:ip:${m[1]}.${m[2]}`);
  for (const m of value.matchAll(/\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b/gi)) {
    const host = m[1]!.toLowerCase();
    add(`rcvd:${host.split('.').slice(-2).join('.')}`);
  }
  const w = /\bwith\s+([a-z0-9]+)/i.exec(value);
  if (w) add(`rcvd:with:${w[1]!.toLowerCase()}`);
}

function messageIdTokens(value: string, add: (t: string) => void): void {
  const m = /<?([^@>]*)@([^>]*)>?/.exec(value);
  if (!m) {
    add('mid:malformed');
    return;
  }
  add(`mid:dom:${m[2]!.toLowerCase().split('.').slice(-2).join('.')}`);
  add(`mid:shape:${m[1]!.replace(/[a-z]+/gi, 'a').replace(/\d+/g, 'd').slice(0, 20)}`);
}
