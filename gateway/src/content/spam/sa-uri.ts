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
import { extractUrls, messageUrls } from './tokenizer.js';

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
    if (uri.length <= 1 || /^(?:[#?&]|\/(?!\/))/.test(uri)) continue;
    out.add(uri);
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
    } else if (proto === 'http://' && auth === '' && nhost !== 'localhost' && port === '80' && (m = /^(?:www\.)?([^.]+)$/.exec(nhost))) {
      out.add(`${proto}www.${m[1]}.com${rest}`);
    }
  }
  return [...out];
}

const MAIL_ADDRESS = /[\w.+=-]+@[a-zA-Z0-9][-a-zA-Z0-9.]*\.[a-zA-Z]{2,}/y;

/** [\w.+=-]: a character of MAIL_ADDRESS's local part. */
function isLocalPart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 43 || c === 61 || c === 45;
}

/**
 * The first `max` matches of MAIL_ADDRESS as a global scan of the text finds them, tried only at
 * each '@' (a global scan tries every position, and backtracks through every word without one):
 * a match holds exactly one '@' and starts where the run of local-part characters before it
 * starts, or where the previous match ended; from there it matches or no start does.
 */
export function mailAddresses(text: string, max: number): string[] {
  const out: string[] = [];
  let from = 0;
  for (let at = text.indexOf('@'); at !== -1 && out.length < max; at = text.indexOf('@', Math.max(at + 1, from))) {
    let start = at;
    while (start > from && isLocalPart(text.charCodeAt(start - 1))) start--;
    if (start === at) continue;
    MAIL_ADDRESS.lastIndex = start;
    const m = MAIL_ADDRESS.exec(text);
    if (m) {
      out.push(m[0]);
      from = start + m[0].length;
    }
  }
  return out;
}

const linksPerMessage = new WeakMap<object, readonly string[]>();

/**
 * The links SpamAssassin's URI list starts from (before canonicalUris): those of the Subject (its
 * first body line), of the text and HTML, the HTML's href/src/action values, and e-mail addresses
 * written in the text as mailto: URIs; each once, at most 400. The uri rules and the Bayes
 * tokens (region 2) both read this list, canonicalised: found once per message, shared (callers
 * only read it).
 */
export function messageLinks(msg: { readonly subject: string; readonly text: string; readonly html: string }): readonly string[] {
  let links = linksPerMessage.get(msg);
  if (links === undefined) {
    const hrefs = [...msg.html.matchAll(/\b(?:href|src|action)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]!);
    const mails = mailAddresses(`${msg.text}\n${msg.html}`.slice(0, 256 * 1024), 100).map((a) => `mailto:${a}`);
    links = [...new Set([...extractUrls(msg.subject), ...messageUrls(msg), ...hrefs, ...mails])].slice(0, 400);
    linksPerMessage.set(msg, links);
  }
  return links;
}
