/*
 * content/spam/sa-relays.ts — SpamAssassin's relay pseudo headers (X-Spam-Relays-Trusted,
 * -Untrusted, -Internal, -External) from the message's Received headers, in SpamAssassin's
 * format: one `[ ip=… rdns=… helo=… by=… ident=… envfrom=… intl=0|1 id=… auth=… msa=0 ]` per
 * relay, newest first, so its rules on them (RDNS_NONE, HELO_*, first-external-relay tests …)
 * run unchanged.
 *
 * Parsed: the common trace formats (Postfix/sendmail `from HELO (RDNS [IP])`, qmail `from RDNS
 * (HELO x) (IP)`, Exim `from RDNS ([IP] helo=x)`, Microsoft SMTPSVC `from HELO ([IP])`), and as
 * SpamAssassin's fall-through any other line with a `by` and a bracketed IPv4 address. Lines
 * without a relay address (local delivery, fetchmail's POP3 hand-over, `qmail invoked by uid`)
 * are skipped, as SpamAssassin's parser does. Webmail's originating-IP headers (SpamAssassin's
 * default originating_ip_headers) add the client as the oldest hop, as there.
 *
 * Trust path (parse_received_headers): relays at the top are trusted until the first one that
 * is not; that one — in the daemon, normally the public client our own Received header
 * records — and every relay below it are untrusted. A relay is trusted when it authenticated,
 * or, with spam.trustedNetworks set (SpamAssassin's trusted_networks), when its address is in
 * those networks or loopback (always trusted, as there); unset, as SpamAssassin infers it,
 * when its address is private (IP_PRIVATE: 127/8, 10/8, 192.168/16 …). No internal_networks:
 * internal = trusted, external = untrusted.
 */

import { compileNow } from './regexp-tier.js';

export interface Relay {
  readonly ip: string;
  readonly rdns: string;
  readonly helo: string;
  readonly by: string;
  readonly ident: string;
  readonly envfrom: string;
  readonly id: string;
  readonly auth: string;
  /**
   * The receiving MTA looked the sender up and found no reverse DNS (Received.pm's
   * no_reverse_dns): an empty rdns from a format whose MTA always writes one (Postfix, sendmail),
   * not from one that may never look (qmail's `unknown`, Exim without a name, Microsoft SMTPSVC,
   * Lotus Domino).
   */
  readonly noReverseDns: boolean;
}

export interface RelayHeaders {
  readonly trusted: readonly Relay[];
  readonly untrusted: readonly Relay[];
  /** Received lines that name a sending host SpamAssassin's parser would not read (check_relays_unparseable). */
  readonly unparseable: number;
  /** The pseudo header values, by lower-case name (x-spam-relays-trusted …). */
  readonly headers: ReadonlyMap<string, string>;
}

const IPV4 = String.raw`(?:\d{1,3}\.){3}\d{1,3}`;
const IPV6 = String.raw`(?:IPv6:)?[0-9a-fA-F]*:[0-9a-fA-F:.]+`;
const IP = `(?:${IPV4}|${IPV6})`;

// The relay formats, compiled once per process (not at every Received line), to native code.
const IP_ONLY = compileNow(new RegExp(`^${IP}$`));
const EXIM = compileNow(new RegExp(`^(\\S+) \\(\\[(${IP})\\](?::\\d+)? helo=(\\S+?)\\)`));
const EXIM_NO_RDNS = compileNow(new RegExp(`^\\[(${IP})\\](?::\\d+)? \\(helo=(\\S+?)\\)`));
const POSTFIX = compileNow(new RegExp(`^(\\S+) \\((?:([^\\s()@]+)@)?([^\\s()\\[]*) ?\\[(${IP})\\](?::\\d+)?(?: \\(may be forged\\))?[^)]*\\)`));
const QMAIL_HELO = compileNow(new RegExp(`^(\\S+) \\(HELO ([^)]*)\\) \\(\\[?(${IP})\\]?\\)`, 'i'));
const QMAIL = compileNow(new RegExp(`^(\\S+) \\((${IP})\\)`));
const SENDMAIL_NO_PTR = compileNow(new RegExp(`^(\\S+) \\[(${IP})\\]`));
// Microsoft's SMTPSVC and Lotus Domino never record the reverse DNS (Received.pm, bug 5926).
const NEVER_LOOKS_UP = compileNow(/ with Microsoft SMTPSVC| \(Lotus Domino /);
const QMAIL_PLAIN = compileNow(/ by \S+(?: \(.+\))* with (?:.* )?(?:SMTP|QMQP)(?! id )/);
const BARE_IP = compileNow(new RegExp(`^\\[(${IP})\\]`));
const ANY_BRACKETED_IP = compileNow(new RegExp(`\\[(${IPV4})\\]`));

const clean = (s: string | undefined) => (s ?? '').replace(/[\s\]]/g, '').replace(/^\[|\]$/g, '');

const WEBMAIL = / \((?:SquirrelMail|NaSMail) authenticated user /;
const WEBMAIL_IP = compileNow(new RegExp(`(${IPV4})\\b(?![.-]).{10,80}by (\\S+) with HTTP`));

// GMX authenticates its users but says so only this way (Received.pm's workaround).
const GMX_AUTH = compileNow(new RegExp(`from \\S* \\((?:HELO|EHLO) (\\S*)\\) \\[(${IP})\\] by (mail\\.gmx\\.(?:net|com)) \\([^)]+\\) with ((?:ESMTP|SMTP))`));

/** A mail fetcher's hand-over (fetchmail, getmail): Received.pm's fetcher marker. */
const POP_FETCHER = /with (?:POP3|IMAP)/;

/** Hand-overs that record no relay (mail fetchers, local submission), as SpamAssassin skips them. */
const NOT_A_RELAY = /\bwith (?:POP3|IMAP)\b|\(fetchmail|qmail \d+ invoked by uid|^from userid \d+|\bwith local(?:-\w+)?\b|^by \S+ \(Postfix, from userid/i;

/** One Received header value (unfolded) → a relay, or null when it records no relay address. */
/**
 * Received.pm's auth: how an authenticated hand-over says so (RFC 3848 `with ESMTPA` …, webmail
 * `with HTTP`, Sendmail's `(authenticated …)`, Courier, Postfix's `Authenticated sender`, GMail,
 * GMX, Critical Path, CommuniGate, Exchange HTTP-DAV, `(via HTTP)`), in its order; '' if not.
 */
export function relayAuth(s: string): string {
  let m: RegExpExecArray | null;
  if (/ by /.test(s) && (m = / with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)/i.exec(s))) return m[1]!;
  if (/ by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}\.[0-9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9]/.test(s) && (m = /\(version=([^ ]+) cipher=([^)]+)\)/.exec(s))) return `GMail - transport=${m[1]} cipher=${m[2]}`;
  if ((m = /^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\) by /.exec(s))) return m[1]!;
  if (/authenticated/.test(s) && /^from .*?(?:\](?: \([^)]*\))?\)|\)\]) .*?\(.*?authenticated.*?\).*? by/.test(s)) return 'Sendmail';
  if ((m = GMX_AUTH.exec(s))) return `GMX (${m[4]} / ${m[3]})`;
  if (/ \(authenticated as /.test(s) && /\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id /.test(s)) return 'CriticalPath';
  if ((m = /\) \(Authenticated sender: \S+\) by \S+ \(([^)]+)\) with /.exec(s))) return m[1] === 'Postfix' ? 'Postfix' : `Postfix (${m[1]})`;
  if (/CommuniGate Pro (?:HTTP|SMTP|XIMSS|IMAP)/.test(s) && / \(account /.test(s)) return 'Communigate';
  if (/ with Microsoft Exchange Server HTTP-DAV\b/.test(s)) return 'HTTP-DAV';
  if (/ by /.test(s) && (m = / \(via (HTTP.?)\)(?: |;|$)/i.exec(s))) return m[1]!;
  return '';
}

export function parseReceived(v: string): Relay | null {
  const s = v.replace(/\s+/g, ' ').trim();
  if (NOT_A_RELAY.test(s)) return null;
  const by = /\bby ([^\s;()]+)/.exec(s)?.[1] ?? '';
  const id = /\bid ([^\s;()]+)/.exec(s)?.[1] ?? '';
  const envfrom = /\(envelope-from <?([^\s<>()]*)>?\)/i.exec(s)?.[1] ?? '';
  const auth = relayAuth(s);
  const from = /^from (.*?)(?: by |;|$)/.exec(s)?.[1] ?? '';
  if (from === '') return null;
  let m: RegExpExecArray | null;
  const out = (ip: string, rdns: string, helo: string, ident = '', lookedUp = false): Relay | null => {
    const a = clean(ip).replace(/^IPv6:/i, '');
    if (!IP_ONLY.test(a)) return null;
    let r = rdns.replace(/\(may be forged\)/, '').trim();
    // As SpamAssassin: only "unknown" and a bracketed value mean no rDNS; a bare IP stays (Exchange
    // writes `from HELO (1.2.3.4 [1.2.3.4])`, and __RDNS_NUMERIC_TLD reads it).
    if (/^unknown$/i.test(r) || r.startsWith('[')) r = '';
    return { ip: a, rdns: r.replace(/\.$/, ''), helo: helo.trim(), by, ident, envfrom, id, auth, noReverseDns: lookedUp && r === '' };
  };
  // SquirrelMail / NaSMail: from IP (SquirrelMail authenticated user U) by HOST with HTTP — a
  // webmail hand-over (auth HTTP), read before the other formats as Received.pm does.
  if (WEBMAIL.test(s) && (m = WEBMAIL_IP.exec(s))) return out(m[1]!, '', '');
  // Exim: from RDNS ([IP] helo=HELO) | from [IP] (helo=HELO). (`from NAME ([IP])` is sendmail's
  // HELO without reverse DNS, as SpamAssassin reads it.)
  if ((m = EXIM.exec(from))) {
    return out(m[2]!, m[1]!.startsWith('[') ? '' : m[1]!, m[3]!);
  }
  if ((m = EXIM_NO_RDNS.exec(from))) return out(m[1]!, '', m[2]!);
  // Postfix / sendmail: from HELO (RDNS [IP]) | from HELO ([IP]) | from HELO (ident@RDNS [IP])
  if ((m = POSTFIX.exec(from))) {
    return out(m[4]!, m[3]!, m[1]!, m[2] ?? '', !NEVER_LOOKS_UP.test(s));
  }
  // qmail: from RDNS (HELO helo) (IP) | from RDNS (IP) | from unknown (HELO helo) ([IP])
  // (qmail's usual line leaves `unknown` as "not looked up"; Received.pm reads other qmail-like
  // lines, e.g. qmail-ldap's `with ESMTP`, as looked up.)
  if ((m = QMAIL_HELO.exec(from))) return out(m[3]!, m[1]!, m[2]!, '', !QMAIL_PLAIN.test(s));
  if ((m = QMAIL.exec(from))) return out(m[2]!, m[1]!, m[1]!);
  // sendmail without PTR: from HELO [IP] | from [IP]
  if ((m = SENDMAIL_NO_PTR.exec(from))) return out(m[2]!, '', m[1]!);
  if ((m = BARE_IP.exec(from))) return out(m[1]!, '', `[${m[1]}]`);
  // SpamAssassin's fall-through: a line no format matched is still a relay, known by the first
  // [IP] in it, when it names the receiving host (Smail's `from HELO from [IP] by …`, …).
  if (by !== '' && (m = ANY_BRACKETED_IP.exec(s))) return out(m[1]!, '', '');
  return null;
}

/**
 * A line we could not read as a relay that SpamAssassin would count as unparseable, not skip:
 * it starts with `from` and is no local hand-over, and is not `from HOST by HOST;` (no address).
 */
function isUnparseable(v: string): boolean {
  const s = v.replace(/\s+/g, ' ').trim();
  if (!/^\(?from /i.test(s) || NOT_A_RELAY.test(s)) return false;
  const named = /^from (\S+) by [^\s;]+ ?;/i.exec(s);
  if (named && !/^\[[\d.]+\]$/.test(named[1]!)) return false;
  const rest = s.replace(/^\(?from /i, '');
  return !LOCAL_HANDOVER.some((re) => re.test(rest));
}

const LOCALHOST = String.raw`(?:localhost(?:\.localdomain)?|127\.0\.0\.1|::1)`;
/** The hand-overs SpamAssassin's Received parser skips without counting them (a subset of its list). */
const LOCAL_HANDOVER = [
  new RegExp(String.raw`^\S+ \([^\s@]+@${LOCALHOST}\) by \S+ \(`, 'i'),
  /^\S+ \S+ by \S+ with local-e?smtp /i,
  /^\S+@\S+ by \S+ /i,
  new RegExp(String.raw`^${LOCALHOST} \((?:\S+@)?${LOCALHOST}[)[]`, 'i'),
  new RegExp(String.raw`^\S+ \((?:\S+@)?${LOCALHOST}\) `, 'i'),
  new RegExp(String.raw`^\S+ \(\S+@\S+ \[${LOCALHOST}\]\) `, 'i'),
  /^\S+ by \S+ (?:with|via|for|\()/i,
  /^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b/i,
  /^\S+ id \S+$/i,
  /^\S+@localhost\) by \S+ /i,
  /^mail pickup service by \S+ with Microsoft SMTPSVC/i,
  /^(?:\S+\/)?SpoolDir by /i,
].map(compileNow);

/** SpamAssassin's IP_PRIVATE: private, loopback, link-local and carrier-grade NAT addresses. */
export function isPrivateIp(ip: string): boolean {
  return /^(?:10|127|169\.254|172\.(?:1[6-9]|2\d|3[01])|192\.168|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7]))\./.test(ip)
    || /^(?:::1|f[cd][0-9a-f]{2}:|fe[89ab][0-9a-f]:)/i.test(ip);
}

export function isLoopback(ip: string): boolean {
  return /^127\./.test(ip) || ip === '::1';
}

export function formatRelay(r: Relay, intl: boolean): string {
  return `[ ip=${r.ip} rdns=${r.rdns} helo=${r.helo} by=${r.by} ident=${r.ident} envfrom=${r.envfrom} intl=${intl ? 1 : 0} id=${r.id} auth=${r.auth} msa=0 ]`;
}

/**
 * The networks whose relays write Received headers we believe (spam.trustedNetworks), or null
 * to infer them as SpamAssassin does without trusted_networks.
 */
export type RelayTrust = ((ip: string) => boolean) | null;

function isTrustedRelay(r: Relay, trust: RelayTrust): boolean {
  if (r.auth !== '') return true;
  return trust === null ? isPrivateIp(r.ip) : isLoopback(r.ip) || trust(r.ip);
}

/**
 * SpamAssassin's default originating_ip_headers (10_default_prefs.cf): webmail's record of its
 * client, appended to the Received chain as the oldest hop.
 */
const ORIGINATING_IP_HEADERS = new Set(['x-yahoo-post-ip', 'x-originating-ip', 'x-apparently-from', 'x-senderip', 'x-aol-ip', 'x-ms-exchange-crosstenant-originalattributedtenantconnectingip']);
// An IPv4 address, or an IPv6 one with at least three groups (not any word with a colon).
const ORIGINATING_IP = compileNow(new RegExp(String.raw`\b${IPV4}\b|(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}(?:\.\d{1,3}){0,3}`, 'i'));

/** The originating IP headers' addresses (the last occurrence of each header, its first address), as relays. */
function originatingRelays(headers: ReadonlyArray<{ readonly name: string; readonly value: string }>): Relay[] {
  const last = new Map<string, string>();
  for (const h of headers) if (ORIGINATING_IP_HEADERS.has(h.name)) last.set(h.name, h.value);
  const out: Relay[] = [];
  // In SpamAssassin's order of the setting, not the message's.
  for (const name of ORIGINATING_IP_HEADERS) {
    const ip = ORIGINATING_IP.exec(last.get(name) ?? '')?.[0];
    if (ip !== undefined) out.push({ ip, rdns: '', helo: '', by: '', ident: '', envfrom: '', id: '', auth: '', noReverseDns: false });
  }
  return out;
}

/** The relay pseudo headers from the Received header values (newest first), then any originating-IP hops. */
export function relayHeaders(received: readonly string[], trust: RelayTrust = null, originating: readonly Relay[] = []): RelayHeaders {
  const trusted: Relay[] = [];
  const untrusted: Relay[] = [];
  let unparseable = 0;
  for (const v of [...received.slice(0, 50), ...originating]) {
    // found_pop_fetcher_sig: a POP3/IMAP fetch seen while every relay so far is trusted means
    // those were added after the fetch, locally: the trusted list starts again below it.
    if (typeof v === 'string' && untrusted.length === 0 && POP_FETCHER.test(v)) {
      trusted.length = 0;
      continue;
    }
    const r = typeof v === 'string' ? parseReceived(v) : v;
    if (!r) {
      if (typeof v === 'string' && isUnparseable(v)) unparseable++;
      continue;
    }
    if (untrusted.length === 0 && isTrustedRelay(r, trust)) trusted.push(r);
    else untrusted.push(r);
  }
  const t = trusted.map((r) => formatRelay(r, true)).join(' ');
  const u = untrusted.map((r) => formatRelay(r, false)).join(' ');
  return {
    trusted, untrusted, unparseable,
    headers: new Map([['x-spam-relays-trusted', t], ['x-spam-relays-internal', t], ['x-spam-relays-untrusted', u], ['x-spam-relays-external', u]]),
  };
}

const perMessage = new WeakMap<object, RelayHeaders>();

/**
 * relayHeaders of a parsed message's Received headers (in order) with its trust path
 * (ParsedMessage.relayTrust), computed once per message: the tokenizer and the rules both read
 * them. The result is shared: callers only read it.
 */
export function messageRelays(msg: { readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>; readonly relayTrust?: RelayTrust }): RelayHeaders {
  let r = perMessage.get(msg.headers);
  if (r === undefined) {
    r = relayHeaders(msg.headers.filter((h) => h.name === 'received').map((h) => h.value), msg.relayTrust ?? null, originatingRelays(msg.headers));
    perMessage.set(msg.headers, r);
  }
  return r;
}
