/*
 * content/spam/sa-received.ts — one Received header line read as SpamAssassin 4.0.1 reads it:
 * a port of parse_received_line (Mail::SpamAssassin::Message::Metadata::Received), its
 * format-specific branches in its order (each `goto enough` a return through `enough`), its
 * list of hand-overs to ignore, and its fall-through. Its answer has three kinds, as there: a
 * relay, a line skipped on purpose (local hand-overs, mail fetchers, BSMTP …), or an
 * unparseable line (num_relays_unparseable, check_relays_unparseable).
 *
 * The regexes are Received.pm's, in its order and wording, so a line reads the same here and
 * there (first match wins, and some formats deliberately shadow later ones). Perl's \s is
 * ASCII whitespace on these byte strings, JS's also matches Unicode spaces: perl() narrows it.
 */

import { compileNow } from './regexp-tier.js';
import type { Relay } from './sa-relays.js';

/** \s and \S as Perl's on byte strings (ASCII whitespace); inside a class, its members. */
function perl(src: string, flags = ''): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1]!;
      i++;
      if (n === 's') out += inClass ? String.raw`\t\n\v\f\r ` : String.raw`[\t\n\v\f\r ]`;
      else if (n === 'S') out += inClass ? String.raw`\S` : String.raw`[^\t\n\v\f\r ]`;
      else out += c + n;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  // A negated \S inside a class (none in Received.pm's regexes) would need a different rewrite.
  if (/\[[^\]]*\\S/.test(out)) throw new Error(`perl(): \\S in a class: ${src}`);
  const re = new RegExp(out, flags);
  ALL.push(re);
  return re;
}

// Compiled to native code at the first line read, not at load: ~12 MB of code (several regexes
// hold the whole IPv6 grammar) that an idle receiver does not need. Left to V8's bytecode
// interpreter they cost ~2.5 ms a message of scan CPU (scan-cpu on TRAIN: 8.3 against 5.7 ms).
const ALL: RegExp[] = [];
let native = false;

// Constants.pm's IP_ADDRESS, LOCALHOST: /i regexes, interpolated into case-sensitive ones, so
// their letters are spelled in both cases here (Node 20 has no (?i:) groups).
const OCT = String.raw`(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)`;
const V4 = `${OCT}\\.${OCT}\\.${OCT}\\.${OCT}`;
const H = '[a-fA-F0-9]{1,4}';
const V6_PREFIX = String.raw`(?:[Ii][Pp][Vv]6:|(?<![a-fA-F0-9:]))`;
const V6_END = String.raw`(?![a-fA-F0-9:])`;
export const IP_ADDRESS = String.raw`(?:\b(?<!:)${V4}\b|${V6_PREFIX}(?:(?:(?:${H}:){6}|::(?:${H}:){0,5}|(?:${H}:){1,5}:|${H}::(?:${H}:){1,4}|(?:${H}:){2}:(?:${H}:){1,3}|(?:${H}:){3}:(?:${H}:){1,2}|(?:${H}:){4}:${H}:)${V4}|(?:${H}:){7}${H}|:(?::${H}){1,7}|(?:${H}:){1,7}:|${H}:(?::${H}){1,6}|(?:${H}:){2}(?::${H}){1,5}|(?:${H}:){3}(?::${H}){1,4}|(?:${H}:){4}(?::${H}){1,3}|(?:${H}:){5}(?::${H}){1,2}|(?:${H}:){6}:${H}|::)${V6_END})`;
const Z = '0{1,4}';
const FFFF = '[fF]{4}';
const LOCALHOST = String.raw`(?:[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt](?:\.[Ll][Oo][Cc][Aa][Ll][Dd][Oo][Mm][Aa][Ii][Nn])?|\b(?<!:)127\.0\.0\.1\b|${V6_PREFIX}(?:(?:(?:${Z}:){5}${FFFF}:|::(?:${Z}:){0,4}${FFFF}:|(?:${Z}:){1,4}:${FFFF}:|${Z}::(?:${Z}:){1,3}${FFFF}:|(?:${Z}:){2}:0{1,2}:${FFFF}:|(?:${Z}:){3}:0:${FFFF}:|(?:${Z}:){4}:${FFFF}:)127\.0\.0\.1|(?:${Z}:){7}0{0,3}1|:(?::${Z}){0,6}:0{0,3}1|${Z}:(?::${Z}){0,5}:0{0,3}1|(?:${Z}:){2}(?::${Z}){0,4}:0{0,3}1|(?:${Z}:){3}(?::${Z}){0,3}:0{0,3}1|(?:${Z}:){4}(?::${Z}){0,2}:0{0,3}1|(?:${Z}:){5}(?::${Z}){0,1}:0{0,3}1|(?:${Z}:){6}:0{0,3}1)${V6_END})`;
const IP = IP_ADDRESS;

/** A Received line as parse_received_line answers: a relay, skipped (0), or unparseable (undef). */
export type ReceivedParse =
  | { readonly kind: 'relay'; readonly relay: Relay }
  /**
   * Skipped on purpose. fetcher: a mail fetcher's hand-over (found_pop_fetcher_sig);
   * scannerEnvfrom: qmail-scanner's record of the envelope sender, for the next (older) relay.
   */
  | { readonly kind: 'skip'; readonly fetcher?: boolean; readonly scannerEnvfrom?: string }
  | { readonly kind: 'unparseable' };

const SKIP: ReceivedParse = { kind: 'skip' };
const UNPARSEABLE: ReceivedParse = { kind: 'unparseable' };

// ---- before the formats
const FROM_START = perl(String.raw`^\(?from `, 'i');
const WITH_LOCAL_FOR = perl(String.raw`\bwith local for\b`);
const FROM_NAME_BY = perl(String.raw`^from (\S+) by [^\s;]+ ?;`, 'i');
const FROM_BRACKETED_V4 = perl(String.raw`^\[[\d.]+\]$`);
const DATE_AT_END = perl(String.raw`[\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$`);
const ID = perl(String.raw` id <?([^\s<>;]{3,})`);
const HELO_CHARS = String.raw`[-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]`;
const HELO_NOT = String.raw`[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]`;
const HELO_EQ = perl(String.raw`\bhelo=(${HELO_CHARS}+)(?:${HELO_NOT}|$)`);
const HELO_CMD = perl(String.raw`\b(?:HELO|EHLO) (${HELO_CHARS}+)(?:${HELO_NOT}|$)`);
const BY = perl(String.raw` by (\S+)(?:[^-A-Za-z0-9\;\.]|$)`);

// ---- auth (Received.pm's order; relayAuth)
const AUTH_WITH = perl(String.raw` with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)`, 'i');
const AUTH_GMAIL = perl(String.raw` by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}\.[0-9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9]`);
const AUTH_GMAIL_TLS = perl(String.raw`\(version=([^ ]+) cipher=([^\)]+)\)`);
const AUTH_COURIER = perl(String.raw`^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\) by `);
const AUTH_SENDMAIL = perl(String.raw`^from .*?(?:\](?: \([^)]*\))?\)|\)\]) .*?\(.*?authenticated.*?\).*? by`);
// GMX authenticates its users but says so only this way (Received.pm's workaround).
const AUTH_GMX = perl(String.raw`from \S* \((?:HELO|EHLO) (\S*)\) \[(${IP})\] by (mail\.gmx\.(?:net|com)) \([^\)]+\) with ((?:ESMTP|SMTP))`);
const AUTH_CRITICAL_PATH = perl(String.raw`\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id `);
const AUTH_POSTFIX = perl(String.raw`\) \(Authenticated sender: \S+\) by \S+ \(([^\)]+)\) with `);
const AUTH_COMMUNIGATE = perl(String.raw`CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP)`);
const AUTH_HTTP_DAV = perl(String.raw` with Microsoft Exchange Server HTTP-DAV\b`);
const AUTH_VIA_HTTP = perl(String.raw` \(via (HTTP.?)\)(?: |;|$)`, 'i');

/**
 * Received.pm's auth: how an authenticated hand-over says so (RFC 3848 `with ESMTPA` …, webmail
 * `with HTTP`, Sendmail's `(authenticated …)`, Courier, Postfix's `Authenticated sender`, GMail,
 * GMX, Critical Path, CommuniGate, Exchange HTTP-DAV, `(via HTTP)`), in its order; '' if not.
 */
export function relayAuth(s: string): string {
  let m: RegExpExecArray | null;
  if (s.includes(' by ') && (m = AUTH_WITH.exec(s))) return m[1]!;
  if (AUTH_GMAIL.test(s) && (m = AUTH_GMAIL_TLS.exec(s))) return `GMail - transport=${m[1]} cipher=${m[2]}`;
  if ((m = AUTH_COURIER.exec(s))) return m[1]!;
  if (s.includes('authenticated') && AUTH_SENDMAIL.test(s)) return 'Sendmail';
  if ((m = AUTH_GMX.exec(s))) return `GMX (${m[4]} / ${m[3]})`;
  if (s.includes(' (authenticated as ') && AUTH_CRITICAL_PATH.test(s)) return 'CriticalPath';
  if ((m = AUTH_POSTFIX.exec(s))) return m[1] === 'Postfix' ? 'Postfix' : `Postfix (${m[1]})`;
  if (AUTH_COMMUNIGATE.test(s) && s.includes(' (account ')) return 'Communigate';
  if (AUTH_HTTP_DAV.test(s)) return 'HTTP-DAV';
  if (s.includes(' by ') && (m = AUTH_VIA_HTTP.exec(s))) return m[1]!;
  return '';
}

// ---- the formats after `from `, in Received.pm's order
const ENVFROM = perl(String.raw`(?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b`, 'i');
const SQUIRREL = perl(String.raw` \((?:SquirrelMail|NaSMail) authenticated user `);
const SQUIRREL_IP = perl(String.raw`(${IP})\b(?![.-]).{10,80}by (\S+) with HTTP`);
const AOL_WEBMAIL = perl(String.raw`with HTTP \(WebMailUI\)`);
const AOL_WEBMAIL_IP = perl(String.raw`(${IP}) by (\S+) \(${IP}\) with HTTP \(WebMailUI\)`);
const SMTPSVC = perl(String.raw` SMTPSVC`);
const SMTPSVC_LINE = perl(String.raw`^(\S*) \(\[(${IP})\][^\)]{0,40}\) by (\S+) with Microsoft SMTPSVC`);
const SMTPSVC_PICKUP = perl(String.raw`^mail pickup service by (\S+) with Microsoft SMTPSVC$`);
const MS_SMTP = perl(String.raw` with (?:Microsoft SMTP Server|mapi id) (?:\([^\)]+\) )?\d+\.\d+\.\d+\.\d+(?:$| )`);
const MS_SMTP_LINE = perl(String.raw`^(\S+) \(\[?(${IP})(?:%[A-Z0-9._~-]*)?\]?\) by (\S+) `);
const XMAIL = perl(String.raw`\[XMail `);
const XMAIL_LINE = perl(String.raw`^(\S+) \((\[?${IP}\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail`);
const XMAIL_ID = perl(String.raw` id <(\S+)>`);
const XMAIL_FROM = perl(String.raw` from <(\S+)>`);
const ECELERITY = perl(String.raw`\(ecelerity\b`);
const ECELERITY_HELO = perl(String.raw`^\(\[(${IP}):\d+\] helo=(\S+)\) by (\S+) `);
const ECELERITY_LINE = perl(String.raw`^\S+ \(\[(${IP}):\d+\]\) by (\S+) `);
const EXIM = perl('Exim');
const EXIM_LOCAL = perl(String.raw`\bwith local(?:-\S+)? `);
const EXIM_BARE_IP = perl(String.raw`^\[(${IP})\] \((.*?)\) by (\S+) `);
const EXIM_LINE = perl(String.raw`^(\S+) \(\[(${IP})\](.*?)\) by (\S+) `);
const EXIM_NO_PARENS = perl(String.raw`^(\S+) \[(${IP})\](:\d+)? by (\S+) `);
const EXIM_ODD_RDNS = perl(String.raw`^(\S+) `);
const EXIM_ODD_HELO = perl(String.raw` \((\S+)\) `);
const EXIM_ODD_IP = perl(String.raw` \[(${IP})(?:\.\d+)?\] `);
const EXIM_ODD_BY = perl(String.raw`by (\S+) `);
const SUB_HELO = perl(String.raw`helo=(\S+)`);
const SUB_IDENT = perl(String.raw`ident=(\S*)`);
const POSTFIX = perl(String.raw` \(Postfix\) with`);
const POSTFIX_LINE = perl(String.raw`^(\S+) \((\S+) \[(${IP})\]\) by (\S+) `);
const POSTFIX_POBOX = perl(String.raw`^(\S+) \((\S+)\[(${IP})\]\) by (\S+) `);
const SCALIX = perl(String.raw`\(Scalix SMTP Relay`);
const SCALIX_LINE = perl(String.raw`^(\S+) \( ?(${IP})\) by (\S+)`);
const DOMINO = perl(String.raw` \(Lotus Domino `);
const DOMINO_LINE = perl(String.raw`^(\S+) \(\[(${IP})\]\) by (\S+) \(Lotus`);
const WITH_HTTP = perl(String.raw`\bwith HTTP\b`);
const IMP_HTTP = perl(String.raw`^(${IP}) \(\[${IP}\]\) by (\S+)`);
const QMAIL_LDAP = perl(String.raw` by \S+ \(qmail-\S+\) with `);
const SENDMAIL = perl(String.raw`^(\S+) \((\S+) \[(${IP})\].*\) by (\S+) \(`);
const SENDMAIL_IDENT = perl(String.raw`^IDENT:([^\@]*)\@`);
const SENDMAIL_IDENT2 = perl(String.raw`^([^\@]*)\@`);
const EXCHANGE_IMS = perl(String.raw`^(\S+) \((\S+) \[(${IP})\]\) by (\S+) with \S+ \(`);
const SMTP_ID_HELO = perl(String.raw`^(\S+) \(\[(${IP})\] helo=(\S+)\) by (\S+) with `);
const ATTBI_UNKNOWN = perl(String.raw`^(\S+) \(<unknown\S*>\[(${IP})\]\) by (\S+) `);
const ATTBI = perl(String.raw`^(\S+) \((\S+\.\S+)\[(${IP})\]\) by (\S+) `);
const SENDMAIL_IDENT_IP = perl(String.raw`^(\S+) \((\S*)\@\[(${IP})\].*\) by (\S+) \(`);
const HOTMAIL_BY = perl(String.raw`by (\S+\.hotmail\.msn\.com) `);
const LEADING_IP = perl(String.raw`^(${IP}) `);
const QPSMTPD = perl(String.raw`^(\S+) \((?:HELO|EHLO) (\S*)\) \((${IP})\) by (\S+) \(qpsmtpd\/\S+\) with (?:ESMTP|SMTP)`);
const LMTP_LHLO = perl(String.raw`^(\S+) \(LHLO (\S*)\) \((${IP})\) by (\S+) with LMTP`);
const GMX_LINE = perl(String.raw`^(\S+) \((?:HELO|EHLO) (\S*)\) \[(${IP})\] by (\S+) \([^\)]+\) with (?:ESMTP|SMTP)`);
const SMTPD_FOR = perl(String.raw`^(\S+) \(\[(${IP})\]\) by (\S+) via smtpd \(for \S+\) with SMTP\(`);
const QMAIL = perl(String.raw`^\S+( \((?:HELO|EHLO) \S*\))? \((\S+\@)?\[?${IP}\]?\)( \(envelope-sender <\S+>\))? by \S+( \(.+\))* with (.* )?(SMTP|QMQP)(?! id )`);
const QMAIL_HELO_IDENT = perl(String.raw`^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \((\S*)\@\[?(${IP})\]?\)( \(envelope-sender <\S+>\))? by (\S+)`);
const QMAIL_HELO = perl(String.raw`^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \(\[?(${IP})\]?\)( \(envelope-sender <\S+>\))? by (\S+)`);
const QMAIL_IDENT = perl(String.raw`^(\S+) \((\S*)\@\[?(${IP})\]?\)( \(envelope-sender <\S+>\))? by (\S+)`);
const QMAIL_PLAIN = perl(String.raw`^(\S+) \(\[?(${IP})\]?\)( \(envelope-sender <\S+>\))? by (\S+)`);
const VIA_HTTP_END = perl(String.raw` via HTTP$`);
const YAHOO_VIA_HTTP = perl(String.raw`^\[(${IP})\] by (\S+) via HTTP$`);
const SPACE_BRACKET_IP = perl(String.raw`^(\S+) \( \[(${IP})\]\).*? by (\S+) `);
const PAREN_RDNS_IP = perl(String.raw`^\((\S+) \[(${IP})\]\) by (\S+) `);
const BARE_IP_BY = perl(String.raw`^\[(${IP})\] by (\S+) `);
const PAREN_IP_BY = perl(String.raw`^\(\[?(${IP})\]?\) by (\S+) `);
const MDAEMON = perl(String.raw`^(\S+) \[(${IP})\] by (\S+) \[${IP}\] with `);
const MDAEMON_PRO = perl(String.raw`^(\S+) \[\((${IP})\)\] by (\S+) \(${IP}\) `);
const SENDMAIL_NO_RDNS = perl(String.raw`^(\S+) \(\[(${IP})\]\) by (\S+) \(`);
const SENDMAIL_LOOSE = perl(String.raw`^(\S+) \((\S+) \[(${IP})\]\).*? by (\S+)\b`);
const IP_WITH_PORT = perl(String.raw`^(\S+) \(\[(${IP})(?:[.:]\d+)?\]\).*? by (\S+) `);
const SENDMAIL_AUTH_BITS = perl(String.raw`^(\S+) \((\S+) \[(${IP})\]\)(?: \(authenticated bits=\d+\))? by (\S+) \(`);
const FETCHER = perl(String.raw`with (?:POP3|IMAP)`);
const QMAILISH_HELO = perl(String.raw`^(\S+) \((?:HELO|EHLO) ([^\)]*)\) \((\S*@)?\[?(${IP})\]?\).* by (\S+) `);
const QMAILISH = perl(String.raw`^(\S+) \((\S*@)?\[?(${IP})\]?\).* by (\S+) `);
const WITH_HTTP_FOR = perl(String.raw` with http for `);
const OUTBLAZE = perl(String.raw`^\[(${IP})\] by (\S+) with http for `);
const VIA_SMAP = perl(String.raw` via smap `);
const SMAP = perl(String.raw`^(\S+)\((${IP})\) by (\S+) via smap `);
const SMAP_HELO = perl(String.raw`^(\S+)\((${IP}), (?:HELO|EHLO) (\S*)\) by (\S+) via smap `);
const POST_OFFICE = perl(String.raw` \(Post`);
const POST_OFFICE_LINE = perl(String.raw`^\[(${IP})\] by (\S+) \(Post`);
const ARGOSOFT = perl(String.raw` \(ArGoSoft`);
const ARGOSOFT_LINE = perl(String.raw`^\[(${IP})\] by (\S+) \(ArGoSoft`);
const INTERSCAN = perl(String.raw`^(${IP}) by (\S+) \((?:SMTPL|InterScan)\b`);
const WITH_BSMTP = perl(String.raw` with BSMTP`);
const BSMTP = perl(String.raw`^\S+ by \S+ with BSMTP`);
const SENDMAIL_WITH = perl(String.raw`^(\S+) \((\S+) \[(${IP})\]\) by (\S+) with `);
const YAHOO_HELO_IDENT = perl(String.raw`^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)\@)?(${IP}).*?\) by (\S+) with `);
const COMMUNIGATE_ACCOUNT = perl(String.raw`^\[(${IP})\] \((?:account \S+ )?(?:HELO|EHLO) (\S*)\) by (\S+) \(`);
const COMMUNIGATE = perl(String.raw` \(CommuniGate Pro`);
const COMMUNIGATE_VERIFIED = perl(String.raw`^(\S+) \(\[(${IP})\] verified\) by (\S+) \(`);
const CIPHERTRUST = perl(String.raw`^\(\[(${IP})\]\) by (\S+) with `);
const IRONPORT = perl(String.raw`^([^\d]\S+) \((${IP})\) by (\S+) `);
const CONTENT_TECH = perl(String.raw`^\S+ \(\S+\) by \S+ \(Content Technologies `);
const TWO_BRACKETS = perl(String.raw`^(\S+) \(\[(${IP})\] \[(\S+)\]\) by (\S+) with `);
const IP_BY_WITH = perl(String.raw`^(${IP}) by (\S+) with `);
const POBOX = perl(String.raw`^(\S+) \((\S+)\[(${IP})\]\) by (\S+) `);
const FSECURE = perl(String.raw`^\[(${IP})\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) `);
const ALTAVISTA = perl(String.raw`^(${IP}) \((?:HELO|EHLO) (\S*)\) by (\S+) `);
const SMTPD32 = perl(String.raw`^(\S+) \[(${IP})\] by (\S+) `);
const CSMAP = perl(String.raw`^(\S+)\((${IP})\) by (\S+) `);
const MAILGATE = perl(String.raw`^\[(${IP})\] by (\S+) \(MailGate `);
const UNVERIFIED = perl(String.raw`^(\S+) \(unverified \[(${IP})\]\) by (\S+) `);
const IP_COMMENT_BY = perl(String.raw`^(${IP}) \([A-Za-z][^\)]+\) by (\S+) with `);
const BARE_IP_COMMENT = perl(String.raw`^\[(${IP})\] \(([^\)]+)\) by (\S+) `);
const IDENT_AT_IP = perl(String.raw`^(\S+) \((?:\S+\@)?(${IP})\) by (\S+) with `);
const OBTUSE = perl(String.raw`^(\S+)\((${IP})\)(?:, claiming to be "(\S+)")? via \S+ by (\S+),`);
const YAHOO_LOGIN = perl(String.raw`^(\S+) \((\S+)@(${IP}) with login\) by (\S+\.yahoo\.com) with SMTP`);
const SYNTHETIC = perl(String.raw`^X-Originating-IP: (${IP})$`);

// ---- hand-overs to ignore (Received.pm's "STUFF TO IGNORE", in order)
const IGNORE = [
  String.raw`^\S+ \([^\s\@]+\@${LOCALHOST}\) by \S+ \(`,
  String.raw`^\S+ \S+ by \S+ with local-e?smtp `,
  String.raw`^127\.0\.0\.1 \(AVG SMTP \S+ \[\S+\]\)`,
  String.raw`^\S+\@\S+ by \S+ by uid \S+ `,
  String.raw`^\S+\@\S+ by \S+ `,
  String.raw`^Unknown\/Local \(`,
  String.raw`^${LOCALHOST} \((?:\S+\@)?${LOCALHOST}[\)\[]`,
  String.raw`^\S+ \((?:\S+\@)?${LOCALHOST}\) `,
  String.raw`^\S+ \(\S+\@\S+ \[${LOCALHOST}\]\) `,
  String.raw`^\(AUTH: \S+\) by \S+ with `,
  String.raw`^localhost \(localhost \[\[UNIX: localhost\]\]\) by `,
  String.raw`^\S+\.amazon\.com by \S+\.amazon\.com with ESMTP \(peer crosscheck: `,
  String.raw`^[^\.]+ by \S+ with Novell_GroupWise`,
  String.raw`^no\.name\.available by \S+ via smtpd \(for `,
].map((s) => perl(s));
const QMAIL_SCANNER = perl(String.raw`^\S+ by \S+ \(.{0,100}\) with qmail-scanner`);
// After qmail-scanner's line (it passes the envelope sender on), the rest of the list.
const IGNORE_AFTER = [
  String.raw`^\S+ by \S+ with local`,
  String.raw`^\S+ \(\[unix socket\]\) by \S+ \(Cyrus v[0-9]*?\.[0-9]*?\.[0-9]*?\) with LMTPA`,
  // TCP hand-overs to MTAs that record no address.
  String.raw`^\S+ by \S+ (?:with|via|for|\()`,
  String.raw`^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b`,
  String.raw`^\S+ \(unknown\) by \S+ \(SG\) with \b`,
  String.raw`^\S+ \(\S+ \[local\]\) by \S+ \(OpenSMTPD\) with \b`,
  String.raw`\(LSMTP for`,
  String.raw`^\(\[${LOCALHOST}\]\) with MailEnable `,
  String.raw`^facebook\.com \([^\)]+\) by facebook\.com with Thrift id \S+$`,
  String.raw`^\S+ named \S+ by gmailapi\.google\.com with HTTPREST$`,
  String.raw`^\S+ id \S+$`,
  String.raw`^\[<.*? \(Jetsend`,
].map((s) => perl(s));
const GUESS_HELO = perl(String.raw`^(\S+)[^-A-Za-z0-9\.]`);

// ---- simta's upper-case FROM, and `(from …`
const SIMTA = perl(String.raw`^(\S+) \((\S+) \[(${IP})\]\) BY (\S+) (?:\([^\)]+\) WITH SMTP )?ID <?(\S+?)>?(?: FOR <[^>]+>)?$`);
const NAVGW = perl(String.raw`^(\S*) \[(${IP})\]\) by (\S+) \(NAVGW .*?\) with `);
const SENDMAIL_SUBMIT = perl(String.raw`^\S+\@localhost\) by \S+ `);
const JQUEUEMAIL = perl(String.raw`^[^\s\@]+\@[^)]+\) by \S+\(jqueuemail\) id [^\s;]+`);
const ANY_BRACKETED_IP = perl(String.raw`\[(${IP})\]`);

// ---- enough:
const STRIP_CHARS = perl(String.raw`[\s\000\#\[\]\(\)\<\>\|]`, 'g');
const IPV4_MAPPED = perl(String.raw`^0*:0*:(?:0*:)*ffff:(\d+\.\d+\.\d+\.\d+)$`, 'i');

interface Fields {
  ip: string;
  helo: string;
  rdns: string;
  by: string;
  id: string;
  ident: string;
  envfrom: string | undefined;
  lookedUp: boolean;
  auth: string;
}

/** Received.pm's `enough:` — clean the fields up and make the relay. */
function enough(f: Fields): ReceivedParse {
  let rdns = f.rdns.replace(/\.+$/, '');
  if (/^unknown$/i.test(rdns) || rdns.startsWith('[')) rdns = '';
  let ip = f.ip.replace(/^ipv6:/i, '').replace(/^\[/, '').replace(/\]$/, '');
  ip = ip.replace(/%[A-Z0-9._~-]*$/i, '').replace(IPV4_MAPPED, '$1');
  const bang = (s: string) => s.replace(STRIP_CHARS, '!');
  let envfrom = '';
  if (f.envfrom !== undefined) envfrom = bang(f.envfrom.replace(/^\s*<*/, '').replace(/>*\s*$/, ''));
  return {
    kind: 'relay',
    relay: {
      ip: bang(ip), rdns: bang(rdns), helo: bang(f.helo), by: bang(f.by.replace(/;$/, '')), ident: bang(f.ident),
      envfrom, id: f.id, auth: f.auth, noReverseDns: rdns === '' && f.lookedUp,
    },
  };
}

/** parse_received_line: one Received header value (folded or not). */
export function parseReceivedLine(line: string): ReceivedParse {
  if (!native) {
    for (const re of ALL) compileNow(re);
    native = true;
  }
  let s = line.replace(/[\t\n\v\f\r ]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
  while (/[\t\n\v\f\r ]?;$/.test(s)) s = s.replace(/[\t\n\v\f\r ]?;$/, '');

  // Only lines starting with `from` name a sending host.
  if (!FROM_START.test(s)) return SKIP;
  if (WITH_LOCAL_FOR.test(s)) return SKIP;
  // `from NAME by HOST;` has no address, but `from [IP] by HOST;` does.
  let m = FROM_NAME_BY.exec(s);
  if (m && !FROM_BRACKETED_V4.test(m[1]!)) return SKIP;

  s = s.replace(DATE_AT_END, '');
  s = s.replace(')by ', ') by ');

  const f: Fields = { ip: '', helo: '', rdns: '', by: '', id: '', ident: '', envfrom: undefined, lookedUp: false, auth: '' };
  if ((m = ID.exec(s))) f.id = m[1]!;
  if ((m = HELO_EQ.exec(s)) || (m = HELO_CMD.exec(s))) f.helo = m[1]!;
  if ((m = BY.exec(s))) f.by = m[1]!;
  f.auth = relayAuth(s);

  if (s.startsWith('from ')) {
    s = s.slice(5);
    const r = fromLine(s, f);
    if (r !== null) return r;
  } else if (s.startsWith('FROM ')) {
    s = s.slice(5);
    // simta: upper-case FROM, BY, ID
    if ((m = SIMTA.exec(s))) {
      Object.assign(f, { lookedUp: true, helo: m[1]!, rdns: m[2] === 'unverified' ? '' : m[2]!, ip: m[3]!, by: m[4]!, id: m[5]! });
      return enough(f);
    }
  } else if (s.startsWith('(from ')) {
    s = s.slice(6);
    // Norton AntiVirus Gateway
    if ((m = NAVGW.exec(s))) return enough(Object.assign(f, { helo: m[1]!, ip: m[2]!, by: m[3]! }));
    // sendmail -t on the command line; jqueuemail's local submission
    if (SENDMAIL_SUBMIT.test(s) || JQUEUEMAIL.test(s)) return SKIP;
  }

  // Fall-through: the first bracketed address, if the line had none in a known place.
  if (f.ip === '' && (m = ANY_BRACKETED_IP.exec(s))) f.ip = m[1]!;
  if (f.ip !== '' && f.by !== '') return enough(f);
  return UNPARSEABLE;
}

/**
 * The `from ` branch (s without it): a parse, or null to fall through to the general patterns
 * with what f holds by then (Exim's odd formats and the HELO guess leave partial fields).
 */
function fromLine(s: string, f: Fields): ReceivedParse | null {
  let m: RegExpExecArray | null;
  const set = (o: Partial<Fields>) => enough(Object.assign(f, o));
  if ((m = ENVFROM.exec(s))) f.envfrom = m[1]!;

  if (SQUIRREL.test(s) && (m = SQUIRREL_IP.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if (s.includes('aol.com') && AOL_WEBMAIL.test(s) && (m = AOL_WEBMAIL_IP.exec(s))) return set({ ip: m[1]!, by: m[2]! });

  // One MTA-specific branch, chosen by its signature (Received.pm's if/elsif chain).
  if (SMTPSVC.test(s)) {
    // Microsoft's SMTPSVC never looks the rDNS up.
    if ((m = SMTPSVC_LINE.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
    if (SMTPSVC_PICKUP.test(s)) return SKIP;
  } else if (MS_SMTP.test(s)) {
    if ((m = MS_SMTP_LINE.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]!, id: '' });
  } else if (XMAIL.test(s)) {
    if ((m = XMAIL_LINE.exec(s))) {
      Object.assign(f, { helo: m[1]!, ip: m[2]!, by: m[3]! });
      if ((m = XMAIL_ID.exec(s))) f.id = m[1]!;
      if ((m = XMAIL_FROM.exec(s))) f.envfrom = m[1]!;
      return enough(f);
    }
  } else if (ECELERITY.test(s)) {
    if ((m = ECELERITY_HELO.exec(s))) return set({ ip: m[1]!, helo: m[2]!, by: m[3]! });
    if ((m = ECELERITY_LINE.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  } else if (EXIM.test(s)) {
    if (EXIM_LOCAL.test(s)) return SKIP;
    if ((m = EXIM_BARE_IP.exec(s))) {
      f.ip = m[1]!; f.by = m[3]!;
      eximSub(m[2]!, f);
      return enough(f);
    }
    if ((m = EXIM_LINE.exec(s))) {
      // Exim's HELO defaults to the rDNS (bug 5112).
      f.rdns = m[1]!; f.helo = m[1]!; f.ip = m[2]!; f.by = m[4]!;
      eximSub(m[3]!, f);
      return enough(f);
    }
    if ((m = EXIM_NO_PARENS.exec(s))) return set({ rdns: m[1]!, ip: m[2]!, helo: m[1]!, by: m[4]! });
    // Other odd Exim formats: bits of the line; with an address and a by, that will do.
    if ((m = EXIM_ODD_RDNS.exec(s))) f.rdns = m[1]!;
    if ((m = EXIM_ODD_HELO.exec(s))) f.helo = m[1]!;
    if ((m = EXIM_ODD_IP.exec(s))) f.ip = m[1]!;
    if ((m = EXIM_ODD_BY.exec(s))) {
      f.by = m[1]!;
      if (f.ip !== '') return enough(f);
    }
  } else if (POSTFIX.test(s)) {
    if ((m = POSTFIX_LINE.exec(s)) || (m = POSTFIX_POBOX.exec(s))) return set({ lookedUp: true, helo: m[1]!, rdns: m[2] === 'unknown' ? '' : m[2]!, ip: m[3]!, by: m[4]! });
  } else if (SCALIX.test(s)) {
    if ((m = SCALIX_LINE.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  } else if (DOMINO.test(s)) {
    // Domino never records the rDNS (bug 5926).
    if ((m = DOMINO_LINE.exec(s))) return set({ lookedUp: false, helo: m[1]!, ip: m[2]!, by: m[3]! });
  }

  // IMP webmail fakes a numeric HELO.
  if (WITH_HTTP.test(s) && (m = IMP_HTTP.exec(s))) return set({ ip: m[1]!, by: m[2]! });

  // sendmail, unless qmail-ldap's line (which looks like one).
  if (!QMAIL_LDAP.test(s) && (m = SENDMAIL.exec(s))) {
    let rdns = m[2]!;
    let mm: RegExpExecArray | null;
    if ((mm = SENDMAIL_IDENT.exec(rdns))) { rdns = rdns.slice(mm[0].length); f.ident = mm[1]!; }
    if ((mm = SENDMAIL_IDENT2.exec(rdns))) { rdns = rdns.slice(mm[0].length); f.ident = mm[1]!; }
    return set({ lookedUp: true, helo: m[1]!, rdns, ip: m[3]!, by: m[4]! });
  }

  // Less standard formats from here.
  if ((m = EXCHANGE_IMS.exec(s))) return set({ lookedUp: true, rdns: m[2]!, ip: m[3]!, helo: m[1]!, by: m[4]! });
  if ((m = SMTP_ID_HELO.exec(s))) return set({ rdns: m[1]!, ip: m[2]!, helo: m[3]!, by: m[4]! });
  if ((m = ATTBI_UNKNOWN.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = ATTBI.exec(s))) return set({ lookedUp: true, helo: m[1]!, rdns: m[2]!, ip: m[3]!, by: m[4]! });
  // sendmail with an ident and no rDNS: it did look.
  if ((m = SENDMAIL_IDENT_IP.exec(s))) return set({ lookedUp: true, helo: m[1]!, ip: m[3]!, by: m[4]!, ident: m[2]! });
  if ((m = HOTMAIL_BY.exec(s))) {
    f.by = m[1]!;
    if ((m = LEADING_IP.exec(s))) f.ip = m[1]!;
    return enough(f);
  }
  if ((m = QPSMTPD.exec(s)) || (m = LMTP_LHLO.exec(s)) || (m = GMX_LINE.exec(s))) return set({ rdns: m[1]!, helo: m[2]!, ip: m[3]!, by: m[4]! });
  if ((m = SMTPD_FOR.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });

  // qmail (with HELO only when it differs from the rDNS; `unknown` when tcpserver gave no rDNS),
  // but not sendmail's lines that have an id after the protocol (bug 4813).
  if (QMAIL.test(s)) {
    if ((m = QMAIL_HELO_IDENT.exec(s))) Object.assign(f, { rdns: m[1]!, helo: m[2]!, ident: m[3]!, ip: m[4]!, by: m[6]! });
    else if ((m = QMAIL_HELO.exec(s))) Object.assign(f, { rdns: m[1]!, helo: m[2]!, ip: m[3]!, by: m[5]! });
    else if ((m = QMAIL_IDENT.exec(s))) Object.assign(f, { helo: m[1]!, rdns: m[1]!, ident: m[2]!, ip: m[3]!, by: m[5]! });
    else if ((m = QMAIL_PLAIN.exec(s))) Object.assign(f, { helo: m[1]!, rdns: m[1]!, ip: m[2]!, by: m[4]! });
    if (f.rdns !== 'unknown') f.lookedUp = true;
    else f.rdns = '';
    return enough(f);
  }

  if (VIA_HTTP_END.test(s) && (m = YAHOO_VIA_HTTP.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = SPACE_BRACKET_IP.exec(s))) return set({ ip: m[2]!, by: m[3]! });
  if ((m = PAREN_RDNS_IP.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = BARE_IP_BY.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = PAREN_IP_BY.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = MDAEMON.exec(s))) return set({ lookedUp: true, helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = MDAEMON_PRO.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = SENDMAIL_NO_RDNS.exec(s))) return set({ lookedUp: true, helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = SENDMAIL_LOOSE.exec(s))) {
    // couriertcpd writes softdnserr when it did not look (bug 2326).
    if (m[2] === 'softdnserr') f.lookedUp = false;
    else Object.assign(f, { lookedUp: true, rdns: m[2]! });
    return set({ helo: m[1]!, ip: m[3]!, by: m[4]! });
  }
  if ((m = IP_WITH_PORT.exec(s))) return set({ lookedUp: true, helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = SENDMAIL_AUTH_BITS.exec(s))) return set({ lookedUp: true, helo: m[1]!, rdns: m[2]!, ip: m[3]!, by: m[4]! });

  // A mail fetcher's hand-over (fetchmail, getmail): skipped, and the trust path restarts.
  if (FETCHER.test(s)) return { kind: 'skip', fetcher: true };

  if ((m = QMAILISH_HELO.exec(s))) {
    return set({ lookedUp: true, rdns: m[1]!, helo: m[2]!, ident: (m[3] ?? '').replace(/@$/, ''), ip: m[4]!, by: m[5]! });
  }
  // qmail drops the HELO when it equals the rDNS (bug 2744).
  if ((m = QMAILISH.exec(s))) return set({ lookedUp: true, rdns: m[1]!, helo: m[1]!, ident: (m[2] ?? '').replace(/@$/, ''), ip: m[3]!, by: m[4]! });
  if (WITH_HTTP_FOR.test(s) && (m = OUTBLAZE.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if (VIA_SMAP.test(s) && (m = SMAP.exec(s))) return set({ lookedUp: true, rdns: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = SMAP_HELO.exec(s))) return set({ lookedUp: true, rdns: m[1]!, ip: m[2]!, helo: m[3]!, by: m[4]! });
  if (POST_OFFICE.test(s) && (m = POST_OFFICE_LINE.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if (ARGOSOFT.test(s) && (m = ARGOSOFT_LINE.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = INTERSCAN.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  // BSMTP is no TCP/IP hand-over.
  if (WITH_BSMTP.test(s) && BSMTP.test(s)) return SKIP;
  if ((m = SENDMAIL_WITH.exec(s))) return set({ lookedUp: true, helo: m[1]!, rdns: m[2]!, ip: m[3]!, by: m[4]! });
  if ((m = YAHOO_HELO_IDENT.exec(s))) {
    if (m[3] !== undefined) f.ident = m[3];
    return set({ lookedUp: true, rdns: m[1]!, helo: m[2]!, ip: m[4]!, by: m[5]! });
  }
  if ((m = COMMUNIGATE_ACCOUNT.exec(s))) return set({ ip: m[1]!, helo: m[2]!, by: m[3]! });
  if (COMMUNIGATE.test(s) && (m = COMMUNIGATE_VERIFIED.exec(s))) return set({ lookedUp: true, rdns: m[1]!, helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = CIPHERTRUST.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = IRONPORT.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  // Content Technologies: no address, useless.
  if (CONTENT_TECH.test(s)) return SKIP;
  if ((m = TWO_BRACKETS.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[4]! });
  if ((m = IP_BY_WITH.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = POBOX.exec(s))) return set({ lookedUp: true, helo: m[1]!, rdns: m[2]!, ip: m[3]!, by: m[4]! });
  if ((m = FSECURE.exec(s)) || (m = ALTAVISTA.exec(s))) return set({ ip: m[1]!, helo: m[2]!, by: m[3]! });
  if ((m = SMTPD32.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = CSMAP.exec(s))) return set({ rdns: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = MAILGATE.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = UNVERIFIED.exec(s))) return set({ helo: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = IP_COMMENT_BY.exec(s))) return set({ ip: m[1]!, by: m[2]! });
  if ((m = BARE_IP_COMMENT.exec(s))) {
    f.ip = m[1]!; f.by = m[3]!;
    eximSub(m[2]!, f);
    return enough(f);
  }
  if ((m = IDENT_AT_IP.exec(s))) return set({ rdns: m[1]!, ip: m[2]!, by: m[3]! });
  if ((m = OBTUSE.exec(s))) {
    f.rdns = m[1]!; f.ip = m[2]!; f.helo = m[3] ?? ''; f.by = m[4]!;
    if (m[1] !== 'UNKNOWN') f.lookedUp = true;
    return enough(f);
  }
  if ((m = YAHOO_LOGIN.exec(s))) return set({ helo: m[1]!, ip: m[3]!, by: m[4]! });
  // parse_received_headers' synthetic line for an originating-IP header.
  if ((m = SYNTHETIC.exec(s))) return set({ ip: m[1]!, by: '' });

  // Hand-overs to ignore: local, or TCP ones that record no address.
  if (IGNORE.some((re) => re.test(s))) return SKIP;
  if (QMAIL_SCANNER.test(s)) {
    // qmail-scanner's line only adds the envelope sender to the hand-over below it.
    const e = f.envfrom?.replace(/^\s*<*/, '').replace(/>*\s*$/, '').replace(STRIP_CHARS, '!');
    return e === undefined ? SKIP : { kind: 'skip', scannerEnvfrom: e };
  }
  if (IGNORE_AFTER.some((re) => re.test(s))) return SKIP;

  if (f.helo === '' && (m = GUESS_HELO.exec(s))) f.helo = m[1]!;
  return null;
}

/** Exim's comment after the address: `helo=…` and `ident=…`, taken out in that order. */
function eximSub(sub: string, f: Fields): void {
  let m = SUB_HELO.exec(sub);
  if (m) { f.helo = m[1]!; sub = sub.slice(0, m.index) + sub.slice(m.index + m[0].length); }
  m = SUB_IDENT.exec(sub);
  if (m) f.ident = m[1]!;
}
