/*
 * content/spam/sa-relays.ts — SpamAssassin's relay pseudo headers (X-Spam-Relays-Trusted,
 * -Untrusted, -Internal, -External) from the message's Received headers, in SpamAssassin's
 * format: one `[ ip=… rdns=… helo=… by=… ident=… envfrom=… intl=0|1 id=… auth=… msa=0 ]` per
 * relay, newest first, so its rules on them (RDNS_NONE, HELO_*, first-external-relay tests …)
 * run unchanged.
 *
 * Each line is read by sa-received.ts, a port of SpamAssassin's parse_received_line: a relay,
 * a line skipped on purpose (local hand-overs, mail fetchers …), or an unparseable one
 * (RelayHeaders.unparseable). Webmail's originating-IP headers (SpamAssassin's default
 * originating_ip_headers) add the client as the oldest hop, as there.
 *
 * Trust path (parse_received_headers): relays at the top are trusted until the first one that
 * is not; that one — in the daemon, normally the public client our own Received header
 * records — and every relay below it are untrusted. A relay is trusted when it authenticated,
 * or, with spam.trustedNetworks set (SpamAssassin's trusted_networks), when its address is in
 * those networks or loopback (always trusted, as there); unset, as SpamAssassin infers it,
 * when its address is private (IP_PRIVATE: 127/8, 10/8, 192.168/16 …). No internal_networks:
 * internal = trusted, external = untrusted.
 */

import { IP_ADDRESS, parseReceivedLine } from './sa-received.js';

export { relayAuth } from './sa-received.js';

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
  /** Received lines SpamAssassin's parser cannot read (num_relays_unparseable: check_relays_unparseable, NO_RELAYS). */
  readonly unparseable: number;
  /**
   * SpamAssassin's last_trusted_relay_index: the index of the last Received line above the
   * first untrusted relay (lines skipped or unparseable there count too); -1 if none.
   */
  readonly lastTrustedIndex: number;
  /** The pseudo header values, by lower-case name (x-spam-relays-trusted …). */
  readonly headers: ReadonlyMap<string, string>;
}

/** One Received header value → its relay, or null when SpamAssassin's parser makes none of it. */
export function parseReceived(v: string): Relay | null {
  const p = parseReceivedLine(v);
  return p.kind === 'relay' ? p.relay : null;
}

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
const ORIGINATING_IP = new RegExp(IP_ADDRESS);

/**
 * The originating IP headers' addresses (the last occurrence of each header, its first
 * address) as parse_received_headers writes them: synthetic Received lines, parsed as the others.
 */
function originatingLines(headers: ReadonlyArray<{ readonly name: string; readonly value: string }>): string[] {
  const last = new Map<string, string>();
  for (const h of headers) if (ORIGINATING_IP_HEADERS.has(h.name)) last.set(h.name, h.value);
  const out: string[] = [];
  // In SpamAssassin's order of the setting, not the message's.
  for (const name of ORIGINATING_IP_HEADERS) {
    const ip = ORIGINATING_IP.exec(last.get(name) ?? '')?.[0];
    if (ip !== undefined) out.push(`from X-Originating-IP: ${ip}`);
  }
  return out;
}

/** The relay pseudo headers from the Received header values (newest first), then any originating-IP lines. */
export function relayHeaders(received: readonly string[], trust: RelayTrust = null, originating: readonly string[] = []): RelayHeaders {
  const trusted: Relay[] = [];
  const untrusted: Relay[] = [];
  let unparseable = 0;
  let lastTrustedIndex = -1;
  let scannerEnvfrom: string | undefined;
  for (const v of [...received.slice(0, 50), ...originating]) {
    // qmail-scanner's line (newer) passes the envelope sender on to this hand-over only.
    const envfrom = scannerEnvfrom;
    scannerEnvfrom = undefined;
    const p = parseReceivedLine(v);
    if (p.kind !== 'relay') {
      if (untrusted.length === 0) lastTrustedIndex++;
      if (p.kind === 'unparseable') unparseable++;
      else if (p.scannerEnvfrom) scannerEnvfrom = p.scannerEnvfrom;
      // found_pop_fetcher_sig: a fetch seen while every relay so far is trusted means those
      // were added after the fetch, locally: the trusted list starts again below it.
      else if (p.fetcher && untrusted.length === 0) trusted.length = 0;
      continue;
    }
    const r = envfrom && envfrom !== '0' ? { ...p.relay, envfrom } : p.relay;
    if (untrusted.length === 0 && isTrustedRelay(r, trust)) {
      trusted.push(r);
      lastTrustedIndex++;
    } else untrusted.push(r);
  }
  const t = trusted.map((r) => formatRelay(r, true)).join(' ');
  const u = untrusted.map((r) => formatRelay(r, false)).join(' ');
  return {
    trusted, untrusted, unparseable, lastTrustedIndex,
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
    r = relayHeaders(msg.headers.filter((h) => h.name === 'received').map((h) => h.value), msg.relayTrust ?? null, originatingLines(msg.headers));
    perMessage.set(msg.headers, r);
  }
  return r;
}
