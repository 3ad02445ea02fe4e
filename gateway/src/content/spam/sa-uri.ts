/*
 * content/spam/sa-uri.ts — the URI list SpamAssassin's `uri` rules read: each link as written
 * plus its canonical variants (Mail::SpamAssassin::Util::uri_list_canonicalize, 4.0.1): %XX
 * escapes of printable characters undone, a missing scheme added, `&#NN;` entities decoded, the
 * default port dropped, IP addresses written in hex, octal or as one number turned into dotted
 * quads, a bare name tried as www.NAME.com, and the target of a redirector (SpamAssassin's
 * `redirector_pattern` list, or any `http://` inside the path) added and canonicalised in turn.
 * Spam hides its real host this way (`http://%31%30...`, `http://0x50.0x47...`,
 * `http://rd.yahoo.com/*http://1.2.3.4/`); rules such as NORMAL_HTTP_TO_IP need the host.
 * Not ported: IDN to ASCII for non-ASCII hosts beyond what domainToASCII does.
 */
import { domainToASCII } from 'node:url';
import type { ParsedMessage } from './parse.js';
import { saSubject } from './sa-header.js';
import { fromUtf8Bytes, htmlParts, messageMime, renderedLines } from './sa-mime.js';
import { VALID_TLDS } from './sa-tlds.js';

const MAX_URIS = 1000;

/** Util::url_encode as SpamAssassin calls it: printable %XX escapes decoded, unsafe bytes escaped. */
function urlDecode(url: string): string {
  return url.split(/(%[0-9a-fA-F]{2})/).map((piece) => {
    if (/^%[0-9a-fA-F]{2}$/.test(piece)) {
      // Left alone: %20, %7F and anything outside 0x21–0x7E (the test is SpamAssassin's, unanchored).
      return /(20|7f|[0189a-fA-F][0-9a-fA-F])/i.test(piece) ? piece : piece.replace(/%([2-7][0-9a-fA-F])/, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
    return piece.replace(/[\x00-\x20\x7f-\xff"%<>]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  }).join('');
}

/** A 32-bit number as a dotted quad (decode_ulong_to_ip). */
function ulongToIp(n: number): string {
  const v = n >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function asciiHost(host: string): string {
  if (/^[\x00-\x7f]*$/.test(host)) return host.toLowerCase();
  return domainToASCII(host) || host.toLowerCase();
}

/** The URIs as written plus their canonical variants, distinct, in first-seen order. */
export function canonicalUris(uris: readonly string[], redirectors: readonly RegExp[] = []): string[] {
  const list = [...uris];
  const out = new Set<string>();
  for (let i = 0; i < list.length && out.size < MAX_URIS; i++) {
    const uri = list[i]!.replace(/[\n\r]/g, '').trim();
    // Every URI stays in the list as written (uri_list_canonicalize returns its input too);
    // `#abc`, `?x`, `/image.gif` just get no variants.
    out.add(uri);
    if (uri.length <= 1 || /^(?:[#?&]|\/(?!\/))/.test(uri)) continue;
    let m: RegExpExecArray | null;
    if (/^mailto:/i.test(uri) || /^[^:]*@/.test(uri)) {
      if ((m = /^([^@]+@[^?]+)\?/.exec(uri))) out.add(m[1]!);
      if ((m = /^([^@]+@[^?&]+)&/.exec(uri))) out.add(m[1]!);
      if (uri.includes('%20') && (m = /^(?:mailto:)?(?:%20)*([^@]+@[^?&%]+)/.exec(uri))) out.add(`mailto:${m[1]}`);
      if ((m = /^[^?&]*<([^@>]+@[^>]+)>/.exec(uri))) out.add(`mailto:${m[1]}`);
      continue;
    }
    let n = uri.replace(/\\/g, '/').replace(/^(https?:)\/{0,2}/i, '$1//');
    if (/%[0-9a-fA-F]{2}/.test(n)) n = urlDecode(n);
    if (!/^[-_a-z0-9]+:/i.test(n)) n = `${/^ftp\./.test(n) ? 'ftp' : 'http'}://${n}`;
    n = n.replace(/^(https?:\/\/[^/?#]+)([?#])/i, '$1/$2')
      .replace(/&#0*(3[3-9]|[4-9]\d|1[01]\d|12[0-6]);/g, (_m, d: string) => String.fromCharCode(Number(d)))
      .replace(/&#x0*(2[1-9]|[3-6][a-fA-F0-9]|7[0-9a-eA-E]);/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
      .replace(/&#(?:x2e|12290|x3002|65294|xff0e|65377|xff61);/gi, '.');
    if (n !== uri) out.add(n);
    if (!(m = /^(https?:\/\/)([^@/?#]*@)?([^/?#:]+)((?::(\d*))?.*)$/i.exec(n))) continue;
    const proto = m[1]!;
    const auth = m[2] ?? '';
    let host = m[3]!;
    const rest = m[4]!;
    let port = m[5] ?? '';
    let restNoPort = '';
    if (port === '') port = proto === 'http://' ? '80' : '443';
    else {
      const stripped = proto === 'http://' ? rest.replace(/^:80\b/, '') : rest.replace(/^:443\b/, '');
      if (stripped !== rest) {
        restNoPort = stripped;
        out.add(`${proto}${host}${restNoPort}`);
      }
    }
    const nhost = asciiHost(host);
    if (nhost !== host.toLowerCase()) {
      out.add(`${proto}${nhost}${rest}`);
      if (restNoPort) out.add(`${proto}${nhost}${restNoPort}`);
      host = nhost;
    }
    const bare = host.replace(/[\x00-\x20]/g, '');
    if (bare !== host) out.add(`${proto}${(host = bare)}${rest}`);
    const whole = `${proto}${host}${rest}`;
    const target = redirectors.map((re) => re.exec(whole)?.[1]).find((t) => t !== undefined && t.includes('.'));
    if (target !== undefined) list.push(target);
    else if ((m = /(https?:\/{0,2}[^&#]+)/i.exec(rest)) && m[1]!.includes('.')) list.push(m[1]!);
    const noUser = host.replace(/^[^@]+@/, '');
    if (noUser !== host) out.add(`${proto}${(host = noUser)}${rest}`);
    const trimmed = host.replace(/[^0-9A-Za-z]+$/, '');
    if (trimmed !== host) out.add(`${proto}${(host = trimmed)}${rest}`);
    if ((m = /^((?:0x[0-9a-f]+|\d+)\.)((?:0x[0-9a-f]+|\d+)\.)((?:0x[0-9a-f]+|\d+)\.)(0x[0-9a-f]+|\d+)$/i.exec(host))) {
      const octets = [m[1]!, m[2]!, m[3]!, m[4]!].map((o) => o
        .replace(/^0x([0-9a-f]+)/i, (_x, h: string) => String(parseInt(h, 16)))
        .replace(/^0+([1-3][0-7]{0,2}|[4-7][0-7]?)\b/, (_x, o8: string) => String(parseInt(o8, 8)))
        .replace(/^0+/, ''));
      out.add(`${proto}${octets.join('')}${rest}`);
    } else if (/^0x[0-9a-f]+$/i.test(host)) {
      out.add(`${proto}${ulongToIp(parseInt(/([0-9a-f]{1,8})$/i.exec(host)![1]!, 16))}${rest}`);
    } else if (/^[0-9]+$/.test(host)) {
      out.add(`${proto}${ulongToIp(Number(host) % 2 ** 32)}${rest}`);
    } else if (proto === 'http://' && auth === '' && nhost !== 'localhost' && port === '80' && (m = /^(?:www\.)?([^.]+)$/.exec(nhost))
      && !TLD_SET.has(/\.([^.]+)$/.exec(nhost)?.[1] ?? '')) {
      // (Bug 7891: not for a name that is already a valid domain, www.museum.)
      out.add(`${proto}www.${m[1]}.com${rest}`);
    }
  }
  return [...out];
}

/** A list of literal words as one regex source, factored as a trie (V8 tries alternatives in turn). */
function trieSource(words: readonly string[]): string {
  const root = new Map<string, unknown>();
  for (const w of words) {
    let node = root;
    for (const c of `${w}\0`) {
      if (!node.has(c)) node.set(c, new Map<string, unknown>());
      node = node.get(c) as Map<string, unknown>;
    }
  }
  const walk = (node: Map<string, unknown>): string => {
    const ends = node.has('\0');
    const alts = [...node.entries()].filter(([c]) => c !== '\0').map(([c, n]) => c.replace(/[-.]/g, '\\$&') + walk(n as Map<string, unknown>));
    if (alts.length === 0) return '';
    const body = alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
    return ends ? `(?:${body})?` : body;
  };
  return walk(root);
}

// PerMsgStatus::_tbirdurire: links in text as Thunderbird and Outlook find them — a known scheme
// or www./ftp. prefix, an e-mail address, or a name ending in a valid TLD (sa-tlds) — ported with
// JavaScript characters for its bytes (non-ASCII: U+0080 and up).
const TLD = `(?<![a-zA-Z0-9-])(?:${trieSource(VALID_TLDS)})(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9]))`;
const START_DELIM = `><"'\`,{[(|\\s\\x1b\\xa0`;
const END_DELIM = `><"\`}\\]{[|\\s\\x1b\\xa0`;
const END_DELIM_EMAIL = `${END_DELIM},('\\u0080-\\uffff`;
const SCHEMELESS = `([a-z\\d][a-z\\d._-]{0,251}\\.${TLD})\\.?(?::\\d{1,5})?(?:\\/[^${END_DELIM}]{1,2048})?`;
const KNOWN_SCHEME = `(?:(?:https?|ftp):\\/\\/|(?:www\\d{0,2}|ftp)\\.)[^${END_DELIM}]{1,2048}`;
const MAIL_SCHEME = `(?:mailto:[^${END_DELIM_EMAIL}]{1,2048}|[^${END_DELIM_EMAIL}@]{1,251}@[^${END_DELIM_EMAIL}]{1,251})`;
const SC_START = String.raw`[!"#$&'()*+,/:;<=>?@[\\\]^\`{|}~\s\x1b\xa0]`;
const tbird = (mail: boolean) => new RegExp(`(?:\\b|(?<=\\x1b\\(.)|(?<=[${START_DELIM}]))`
  + `(?:(?:(${KNOWN_SCHEME})(?=(?:[${END_DELIM}]|$)))|${mail ? `(?:(${MAIL_SCHEME})(?=(?:[${END_DELIM_EMAIL}]|$)))` : '(?!)()'}|`
  + `(?:(?:^|(?<=${SC_START}))(${SCHEMELESS})(?=(?:[${END_DELIM}]|$))))`, 'gi');
// A line without '@' holds no address: its regex leaves that branch out (the costly one).
const TBIRD = tbird(true);
const TBIRD_NO_MAIL = tbird(false);
const TLD_SET = new Set(VALID_TLDS);

/**
 * PerMsgStatus::_process_text_uri_list: the links written in the rendered text's lines (the
 * Subject first), as SpamAssassin adds them to its URI list — trailing punctuation dropped, a
 * scheme added (http://, ftp://, mailto:), addresses kept only with a dot after the '@' and a
 * valid TLD, names without a dot dropped; each once.
 */
export function textUris(lines: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of lines) {
    const re = line.includes('@') ? TBIRD : TBIRD_NO_MAIL;
    re.lastIndex = 0;
    for (let m = re.exec(line); m !== null && out.length < MAX_URIS; m = re.exec(line)) {
      if (m[0] === '') { re.lastIndex++; continue; }
      const type = m[1] !== undefined ? 'scheme' : m[2] ? 'mail' : 'schemeless';
      const raw = (m[1] ?? (m[2] || m[3]) ?? '').replace(/^([^(]*)\).*$/s, '$1').replace(/[-~!@#^&*()_+=:;'?,.]*$/, '');
      if (seen.has(raw)) continue;
      seen.add(raw);
      if (type === 'mail' && !raw.includes('@')) continue;
      if (/^[cm]id:/i.test(raw) || /^\w+:\/{0,2}$/i.test(raw)) continue;
      let uri = raw;
      if (!/^(?:https?|ftp|mailto):/i.test(uri)) {
        if (/^ftp\./i.test(uri)) uri = `ftp://${uri}`;
        else if (/^www\d{0,2}\./i.test(uri)) uri = `http://${uri}`;
        else if (/\/.+@/.test(uri)) uri = `http://${uri}`;
        else if (uri.includes('@')) {
          if (!/@.+?\./.test(uri) || uri.includes('&nbsp;')) continue;
          uri = `mailto:${uri.replace(/^(?:skype|e?-?mail)?:+/i, '')}`;
        } else {
          if (!uri.includes('.')) continue;
          uri = `http://${uri}`;
        }
      }
      if (/^mailto:/i.test(uri)) {
        if (/%[0-9a-f]{2}/i.test(uri)) uri = urlDecode(uri);
        const host = /@([^?&>]*)/.exec(uri)?.[1]?.replace(/(?:%20)+$/, '');
        // RegistryBoundaries::is_domain_valid: no white space, a dot, a known TLD.
        const tld = host !== undefined && !/\s/.test(host) ? /\.([^.]+)$/.exec(asciiHost(host))?.[1] : undefined;
        if (tld === undefined || !TLD_SET.has(tld)) continue;
      }
      out.push(uri);
    }
  }
  return out;
}

const linksPerMessage = new WeakMap<object, readonly string[]>();

/**
 * The links SpamAssassin's URI list starts from (before canonicalUris), as get_uri_detail_list
 * finds them: those written in the rendered text (textUris; the Subject first) and those HTML.pm
 * collects from each HTML part's tags (sa-html `uris`); each once, at most 1,000 (MAX_URIS). The uri rules
 * and the Bayes tokens (region 2) both read this list, canonicalised: found once per message,
 * shared (callers only read it).
 */
export function messageLinks(msg: ParsedMessage): readonly string[] {
  let links = linksPerMessage.get(msg);
  if (links === undefined) {
    // The text's links as SpamAssassin parses them from the rendered body's lines (the Subject
    // first), then those HTML.pm collects from each HTML part's tags.
    const mime = messageMime(msg);
    const lines = [saSubject(msg), ...renderedLines(mime).map(fromUtf8Bytes)];
    links = [...new Set([...textUris(lines), ...htmlParts(mime).flatMap((h) => h.uris)])].slice(0, MAX_URIS);
    linksPerMessage.set(msg, links);
  }
  return links;
}

const urisPerMessage = new WeakMap<object, { readonly redirectors: readonly RegExp[]; readonly uris: readonly string[] }>();

/**
 * SpamAssassin's URI list of a message: messageLinks with their canonical variants and redirect
 * targets (canonicalUris with the rules' redirector_pattern list). The uri rules and the Bayes
 * tokens read the same list, as SpamAssassin's do: worked out once per message (callers only read it).
 */
export function messageUris(msg: ParsedMessage, redirectors: readonly RegExp[]): readonly string[] {
  const hit = urisPerMessage.get(msg);
  if (hit !== undefined && hit.redirectors === redirectors) return hit.uris;
  const uris = canonicalUris(messageLinks(msg), redirectors);
  urisPerMessage.set(msg, { redirectors, uris });
  return uris;
}
