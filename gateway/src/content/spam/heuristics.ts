/*
 * content/spam/heuristics.ts — GTUBE and cheap header, MIME, URL and attachment heuristics.
 *
 * Each returns a symbol name and a detail; the scores are data (rules/scores/spam.yaml). Kept
 * deliberately few and mild: the Bayes classifier carries the verdict, these explain it and
 * catch what a fresh model has not seen (dangerous attachments, numeric-IP links, GTUBE).
 */
import type { ParsedMessage } from './parse.js';

const URL_RE = /\bhttps?:\/\/[^\s"'<>()]+/gi;

/** The http(s) links written in the text and HTML source (at most 200): URL_NUMERIC_IP reads them. */
function textUrls(msg: Pick<ParsedMessage, 'text' | 'html'>): string[] {
  const text = `${msg.text}\n${msg.html}`;
  const urls = new Set<string>();
  URL_RE.lastIndex = 0;
  for (let m = URL_RE.exec(text); m && urls.size < 200; m = URL_RE.exec(text)) urls.add(m[0].replace(/[.,;:!?]+$/, ''));
  return [...urls];
}

/** The Generic Test for Unsolicited Bulk Email (SpamAssassin): always spam, for testing. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** Extensions that run code when opened on Windows or macOS (a short, uncontroversial list). */
const EXECUTABLE_EXT = new Set([
  'exe', 'scr', 'pif', 'com', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'hta', 'msi', 'msp',
  'cpl', 'jar', 'ps1', 'lnk', 'reg', 'iso', 'img', 'app', 'dmg',
]);

export interface HeuristicHit {
  readonly name: string;
  readonly detail?: string;
}

export const HEURISTIC_SYMBOLS = [
  'SPAM_GTUBE', 'MISSING_DATE', 'MISSING_MESSAGE_ID', 'MISSING_FROM', 'SUBJECT_ALL_CAPS', 'MIME_HTML_ONLY',
  'URL_NUMERIC_IP', 'ATTACH_EXECUTABLE', 'ATTACH_DOUBLE_EXTENSION',
] as const;

export function heuristics(msg: ParsedMessage): HeuristicHit[] {
  const out: HeuristicHit[] = [];
  if (msg.raw.includes(GTUBE)) out.push({ name: 'SPAM_GTUBE' });
  const has = (n: string) => msg.headers.some((h) => h.name === n);
  if (!has('date')) out.push({ name: 'MISSING_DATE' });
  if (!has('message-id')) out.push({ name: 'MISSING_MESSAGE_ID' });
  if (!has('from')) out.push({ name: 'MISSING_FROM' });
  const s = msg.subject;
  if (s.replace(/[^A-Za-z]/g, '').length >= 10 && s === s.toUpperCase()) out.push({ name: 'SUBJECT_ALL_CAPS', detail: s.slice(0, 60) });
  if (msg.html && msg.text.trim() === '') out.push({ name: 'MIME_HTML_ONLY' });
  const ipUrl = textUrls(msg).find((u) => /^https?:\/\/(?:[^@/]*@)?\d+\.\d+\.\d+\.\d+(?:[:/]|$)/i.test(u));
  if (ipUrl) out.push({ name: 'URL_NUMERIC_IP', detail: ipUrl.slice(0, 100) });
  for (const a of msg.attachments) {
    const name = (a.filename ?? '').toLowerCase();
    const ext = /\.([a-z0-9]{1,5})$/.exec(name)?.[1];
    if (ext && EXECUTABLE_EXT.has(ext)) {
      out.push({ name: 'ATTACH_EXECUTABLE', detail: a.filename! });
      if (/\.(pdf|docx?|xlsx?|jpe?g|png|gif|txt|zip|html?)\.[a-z0-9]{1,5}$/.test(name)) out.push({ name: 'ATTACH_DOUBLE_EXTENSION', detail: a.filename! });
      break;
    }
  }
  return out;
}
