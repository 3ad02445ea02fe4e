/*
 * content/spam/sa-mime.ts — the MIME facts SpamAssassin's Perl-coded rules look at, from the raw
 * message (mailparser's result has no part structure): every leaf part's headers, type and
 * transfer encoding, and the counters of SpamAssassin's MIMEEval plugin (check_for_mime:
 * mime_qp_long_line, mime_base64_encoded_text, mime_attachment, …; mime_body_html_count and
 * mime_body_text_count for check_for_mime_html / check_for_mime_html_only). Bounded: at most
 * 256 KiB of the message, 200 parts, nesting 10.
 */
import { createRequire } from 'node:module';
import { fixedRegExp } from './regexp-tier.js';
import { normalizeCharset } from './sa-charset.js';
import { htmlFacts, type HtmlFacts } from './sa-html.js';

const { decode: decodeQp } = createRequire(import.meta.url)('libqp') as { decode(s: string): Buffer };

export interface MimePart {
  /** Header lines of the part, lower-case name, unfolded value. */
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** The type as SpamAssassin's parse_content_type reads it (saContentType). */
  readonly type: string;
  /** As Node::effective_type: text/html for a part named *.htm(l) or *.shtm(l), else the type. */
  readonly effectiveType: string;
  readonly encoding: string;
  readonly charset: string;
  /** The raw (still encoded) body of a leaf part. */
  readonly body: string;
  /** The multipart/alternative parts this leaf is inside (ids, outermost first). */
  readonly alternatives: readonly number[];
}

export interface MimeFacts {
  readonly parts: readonly MimePart[];
  readonly htmlCount: number;
  readonly textCount: number;
  readonly flags: ReadonlySet<string>;
  /** Content-Type of the message itself (lower-case type/subtype). */
  readonly topType: string;
}

const MAX = 256 * 1024;

/**
 * Util::parse_content_type's type: lower-case, up to the first `;`, `type/subtype`; text/plain
 * when empty, and for any `text…` type but text/x-vcard, text/calendar and text/html (so
 * text/enriched is read as plain text, as SpamAssassin reads it). '' when there is no type.
 */
export function saContentType(ct: string): string {
  const t = (/^([^/]+(?:\/[^/\s]*)?)/s.exec(ct.replace(/^\s+/, '').replace(/;.*$/s, ''))?.[1] ?? '').toLowerCase();
  if (t === '') return '';
  return /^text\b/.test(t) && !/^text\/(?:x-vcard|calendar|html)$/.test(t) ? 'text/plain' : t;
}
const ASCII_CHARSET = /us-ascii|ansi_x3\.4-1968|iso-ir-6|ansi_x3\.4-1986|iso_646\.irv:1991|ascii|iso646-us|us|ibm367|cp367|csascii/;

function splitHead(s: string): [string, string] {
  const m = /\r?\n\r?\n/.exec(s);
  return m ? [s.slice(0, m.index), s.slice(m.index + m[0].length)] : [s, ''];
}

export function headerLines(head: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const c = line.indexOf(':');
    if (c <= 0 || /\s/.test(line.slice(0, c))) continue;
    out.push({ name: line.slice(0, c).toLowerCase(), value: line.slice(c + 1).trim() });
  }
  return out;
}

function param(value: string, name: string): string {
  const m = fixedRegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(value);
  return m ? (m[1] ?? m[2] ?? '') : '';
}

/**
 * The bodies of a multipart: what lies between delimiter lines (`--boundary` alone on its line,
 * `--boundary--` closing), the line break before a delimiter belonging to it. A line that only
 * starts with the delimiter is content: Outlook-style nested boundaries often extend the outer one
 * (`…9Y` outside, `…9YAA` inside).
 */
export function multipartBodies(body: string, boundary: string): string[] {
  const delim = `--${boundary}`;
  const out: string[] = [];
  let start = -1;
  let pos = 0;
  for (;;) {
    const i = body.indexOf(delim, pos);
    if (i === -1) break;
    let j = i + delim.length;
    const close = body.startsWith('--', j);
    if (close) j += 2;
    while (body[j] === ' ' || body[j] === '\t') j++;
    const eol = j >= body.length || body[j] === '\n' || (body[j] === '\r' && body[j + 1] === '\n');
    if ((i !== 0 && body[i - 1] !== '\n') || !eol) { pos = i + delim.length; continue; }
    if (start >= 0) out.push(body.slice(start, i === 0 ? 0 : i - (body[i - 2] === '\r' ? 2 : 1)));
    if (close) return out;
    start = j + (body[j] === '\r' ? 2 : body[j] === '\n' ? 1 : 0);
    pos = start;
  }
  // No closing delimiter: the last body runs to the end.
  if (start >= 0) out.push(body.slice(start));
  return out;
}

/** Walk the MIME tree of a raw message (latin1 string). */
export function mimeFacts(raw: string): MimeFacts {
  const parts: MimePart[] = [];
  const flags = new Set<string>();
  const [topHead] = splitHead(raw.slice(0, MAX));
  const topCt = headerLines(topHead).find((h) => h.name === 'content-type')?.value ?? 'text/plain';
  let alternativeIds = 0;
  // defaultType: what a part without a Content-Type is (message/rfc822 inside multipart/digest).
  const walk = (text: string, depth: number, isTop: boolean, alternatives: readonly number[], defaultType = 'text/plain') => {
    if (parts.length >= 200) return;
    const [head, body] = splitHead(text);
    const headers = isTop ? headerLines(head).filter((h) => /^content-/.test(h.name) || h.name === 'mime-version') : headerLines(head);
    const ct = headers.find((h) => h.name === 'content-type')?.value ?? '';
    let type = saContentType(ct) || defaultType;
    const boundary = param(ct, 'boundary');
    if (type.startsWith('multipart/') && boundary && depth < 10) {
      const inside = type === 'multipart/alternative' ? [...alternatives, alternativeIds++] : alternatives;
      const bodies = multipartBodies(body, boundary);
      // No opening delimiter (a boundary declared one way, written another): as SpamAssassin,
      // the whole body is one part.
      for (const p of bodies.length > 0 ? bodies : [body]) walk(p, depth + 1, false, inside, type === 'multipart/digest' ? 'message/rfc822' : 'text/plain');
      return;
    }
    // A multipart without a boundary is malformed: text/plain, as SpamAssassin's _parse_normal.
    if (type.startsWith('multipart/')) type = 'text/plain';
    const disp = headers.find((h) => h.name === 'content-disposition')?.value ?? '';
    const encoding = (headers.find((h) => h.name === 'content-transfer-encoding')?.value ?? '').toLowerCase().trim();
    // _parse_normal's name: Content-Disposition's (file)name first, else Content-Type's.
    const saName = /name=\s*"?([^";]+)"?/i.exec(disp)?.[1] ?? param(ct, 'name');
    const part: MimePart = {
      headers, type, effectiveType: /\.s?html?$/i.test(saName) ? 'text/html' : type, encoding, charset: param(ct, 'charset').toLowerCase(),
      body: body.slice(0, MAX), alternatives,
    };
    // As SpamAssassin's Message (bug 5041, 7125): a message/rfc822 or message/global part with
    // content is parsed as a message of its own, whose parts take its place (a forwarded
    // message's text is body text; the rfc822 part itself is no leaf).
    if ((type === 'message/rfc822' || type === 'message/global') && depth < 20) {
      const inner = decodedBody(part);
      if (inner !== '') {
        // MIMEEval looks at this node's own headers too (find_parts(qr/./) is every node).
        if (disp.toLowerCase().includes('attachment')) flags.add('mime_attachment');
        walk(inner, depth + 1, false, alternatives);
        return;
      }
    }
    parts.push(part);
  };
  walk(raw.slice(0, MAX), 0, true, []);
  let htmlCount = 0;
  let textCount = 0;
  for (const p of parts) {
    // As MIMEEval's _check_mime_header: text/html parts, and every other text/* part (text/calendar
    // too), attachments included; an attachment is what its Content-Disposition calls one.
    const disp = (p.headers.find((h) => h.name === 'content-disposition')?.value ?? '').toLowerCase();
    if (p.type === 'text/html') htmlCount++;
    else if (p.type.startsWith('text')) textCount++;
    if (disp.includes('attachment')) flags.add('mime_attachment');
    if (p.encoding === 'quoted-printable') {
      flags.add('mime_qp_count');
      if (p.body.split(/\r?\n/).some((l) => l.length > 77)) flags.add('mime_qp_long_line');
    } else if (p.encoding === 'base64') {
      flags.add('mime_base64_count');
      // MIMEEval: a text part in base64 that declares no charset or an ASCII one (its unanchored
      // list: "us" matches inside a name too) and is neither an attachment nor inline.
      if (p.type.startsWith('text') && (p.charset === '' || ASCII_CHARSET.test(p.charset)) && !/^(?:attachment|inline)/.test(disp)) {
        flags.add('mime_base64_encoded_text');
      }
    }
  }
  return { parts, htmlCount, textCount, flags, topType: (/^\s*([^;\s]+)/.exec(topCt)?.[1] ?? 'text/plain').toLowerCase() };
}

/** `fn`, computed once per object it is asked about (a part, a message): a WeakMap memo. */
function oncePer<K extends object, V>(fn: (key: K) => V): (key: K) => V {
  const memo = new WeakMap<K, V>();
  return (key) => {
    if (memo.has(key)) return memo.get(key)!;
    const value = fn(key);
    memo.set(key, value);
    return value;
  };
}

/**
 * A leaf part's body with its transfer encoding undone: bytes as a latin1 string (SpamAssassin's
 * decode(); base64 keeps only its alphabet, as Util::base64_decode; after quoted-printable, and
 * base64 of a text or message part, CRLF reads as LF). Decoded once per part: the MIME flags,
 * the text, rawbody and MPART_ALT_DIFF all read it.
 */
export const decodedBody = oncePer((p: MimePart): string => {
  const text = p.encoding === 'base64' ? Buffer.from(p.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1')
    : p.encoding === 'quoted-printable' ? decodeQp(p.body).toString('latin1') : p.body;
  return p.encoding === 'quoted-printable' || (p.encoding === 'base64' && /^(?:text|message)\b/.test(p.type)) ? text.replace(/\r\n/g, '\n') : text;
});

/** A text part's characters: the decoded bytes read as SpamAssassin's _normalize reads them (sa-charset). */
export const partText = oncePer((p: MimePart): string => normalizeCharset(Buffer.from(decodedBody(p), 'latin1'), p.charset));

/** An HTML part's facts and rendering (sa-html htmlFacts), worked out once per part. */
const partHtml = oncePer((p: MimePart): HtmlFacts => htmlFacts(partText(p)));

/** A text part as SpamAssassin's Node::rendered gives it: HTML rendered as HTML.pm does, other text as is. */
export function renderedPart(p: MimePart): string {
  return p.effectiveType === 'text/html' ? partHtml(p).rendered : partText(p);
}

/** The same with only the text a reader sees (HTML.pm's invisible text left out): Node::visible_rendered. */
function visiblePart(p: MimePart): string {
  return p.effectiveType === 'text/html' ? partHtml(p).visible : partText(p);
}

/** The facts of every text/html part (SpamAssassin's html_all: an HTMLEval test holds when one part passes it). */
export const htmlParts = oncePer((mime: MimeFacts): readonly HtmlFacts[] => mime.parts.filter((p) => p.effectiveType === 'text/html').map(partHtml));

const BODY_PART_SCAN_SIZE = 50_000;

/** A part's text cut near body_part_scan_size: after a line break (else a space) within 1,024 past it. */
function scanCut(t: string): string {
  if (t.length <= BODY_PART_SCAN_SIZE) return t;
  const nl = t.indexOf('\n', BODY_PART_SCAN_SIZE);
  const sp = t.indexOf(' ', BODY_PART_SCAN_SIZE);
  return t.slice(0, nl >= 0 && nl - BODY_PART_SCAN_SIZE <= 1024 ? nl + 1 : sp >= 0 && sp - BODY_PART_SCAN_SIZE <= 1024 ? sp + 1 : BODY_PART_SCAN_SIZE);
}

/**
 * The text SpamAssassin's body rules read, as Message::get_rendered_body_text_array
 * builds it: every text/plain and text/html part in MIME order (both alternatives of a
 * multipart/alternative), HTML rendered as HTML.pm does (sa-html htmlFacts' `rendered`: `<br>` a
 * line break, `<p>` a paragraph, cells a space, other tags join words), each part cut near
 * 50,000 characters (body_part_scan_size), joined by line breaks. Built once per message.
 */
export const renderedBody = oncePer((mime: MimeFacts): string =>
  mime.parts.filter((p) => p.effectiveType === 'text/plain' || p.effectiveType === 'text/html').map((p) => scanCut(renderedPart(p))).join('\n'));

/** The invisible text of every HTML part (Message::get_invisible_rendered_body_text_array). */
export const invisibleBody = oncePer((mime: MimeFacts): string =>
  mime.parts.filter((p) => p.effectiveType === 'text/html').map((p) => scanCut(partHtml(p).invisible)).join('\n'));

/** renderedBody with only the visible text: what SpamAssassin's Bayes reads (get_visible_rendered_body_text_array). */
export const visibleBody = oncePer((mime: MimeFacts): string =>
  mime.parts.filter((p) => p.effectiveType === 'text/plain' || p.effectiveType === 'text/html').map((p) => scanCut(visiblePart(p))).join('\n'));

/**
 * Text as SpamAssassin's byte-oriented rules see it: UTF-8 bytes (one character per byte here),
 * so `[\x80-\xff]` for 8-bit text and Latin-1 bytes in rule files match as they do there. ASCII
 * text is returned as is.
 */
export function utf8Bytes(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** utf8Bytes undone: the characters of UTF-8 bytes held one per character. */
export function fromUtf8Bytes(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/**
 * Message::get_body_text_array_common's lines of a rendered text, as UTF-8 bytes: one line per
 * paragraph (blank lines separate them, white space runs become one space, nothing trimmed), a
 * line over 2,048 bytes cut after its last space within them (split_into_array_of_short_lines:
 * no text is dropped); empty lines left out. Body rules, Bayes and the text's links read these.
 */
export function textLines(text: string): string[] {
  const bytes = utf8Bytes(text.replace(/\n+\s*\n+/g, '\0').replace(/\s+/g, ' ').replace(/\0/g, '\n'));
  const out: string[] = [];
  for (let line of bytes.split('\n')) {
    while (line.length > MAX_BODY_LINE_LENGTH) {
      const len = line.lastIndexOf(' ', MAX_BODY_LINE_LENGTH) + 1 || MAX_BODY_LINE_LENGTH;
      out.push(line.slice(0, len));
      line = line.slice(len);
    }
    if (line !== '') out.push(line);
  }
  return out;
}

/** textLines of renderedBody, once per message (the rules and the links both read them). */
export const renderedLines = oncePer((mime: MimeFacts): readonly string[] => textLines(renderedBody(mime)));

/** A parsed message's first 256 KiB as a latin1 string (one character per byte), made once per message. */
export const messageText = oncePer((msg: { readonly raw: Buffer }): string => msg.raw.subarray(0, MAX).toString('latin1'));

/** mimeFacts of messageText, walked once per message (rules and Bayes share it). */
export const messageMime = oncePer((msg: { readonly raw: Buffer }): MimeFacts => mimeFacts(messageText(msg)));

const MAX_BODY_LINE_LENGTH = 2048;

/**
 * What SpamAssassin's rawbody rules read (Message::get_decoded_body_text_array): per text or
 * message part (text/calendar aside) its decoded bytes — not charset-decoded, not split into
 * lines: a part up to 2 KB is one string, a longer one chunks of 2–4 KB cut after a newline, a
 * `>` or a space (split_into_array_of_short_paragraphs). So `\s*` reaches across lines and `^`
 * is the start of a chunk, as there.
 */
export function rawbodyChunks(m: MimeFacts): string[] {
  const out: string[] = [];
  for (const p of m.parts) {
    if (!/^(?:text|message)\b/.test(p.effectiveType) || p.type === 'text/calendar') continue;
    const text = decodedBody(p);
    const len = text.length;
    if (len <= MAX_BODY_LINE_LENGTH) { out.push(text); continue; }
    let ofs = 0;
    while (len - ofs > 2 * MAX_BODY_LINE_LENGTH) {
      const end = cutAt(text, ofs) + 1;
      out.push(text.slice(ofs, end));
      ofs = end;
    }
    if (ofs < len) out.push(text.slice(ofs));
  }
  return out;
}

/** Where a chunk starting at `ofs` ends: the first newline, else `>`, else space after 2 KB, within 4 KB. */
function cutAt(text: string, ofs: number): number {
  for (const c of ['\n', '>', ' ']) {
    const j = text.indexOf(c, ofs + MAX_BODY_LINE_LENGTH);
    if (j >= 0 && j - ofs + 1 <= 2 * MAX_BODY_LINE_LENGTH) return j;
  }
  return ofs + MAX_BODY_LINE_LENGTH;
}
