/*
 * policy/dnsbl.ts — DNSBL/DNSWL look-ups with postscreen-style weights, summed.
 *
 * A zone spec is `zone[=a.b.c.d][*weight]` as in Postfix's postscreen_dnsbl_sites: each octet
 * of the filter is a number or a bracketed list of numbers and ranges (`[2..11]`, `[2;4;8..9]`);
 * without a filter any 127.0.0.0/8 answer counts; weight defaults to 1 and may be negative
 * (DNSWL). Every zone whose filter matches one of its answers adds its weight once; the specs
 * are looked up concurrently through the one dns/ resolver (its cache makes a repeat free).
 * NXDOMAIN/NODATA is "not listed"; a zone that fails or does not answer in time counts 0 and
 * is named in the detail, never defers mail (a slow list must not stop the mail flow).
 */
import { isIP } from 'node:net';
import type { Hit, Session } from '../core/index.js';
import { reverseName, type ResolveFn } from '../dns/index.js';
import { DNSBL_SPEC } from './config.js';
import type { Maybe } from './maybe.js';
import { recentResults } from './recent-results.js';
import { policyScores } from './scores.js';
import { sessionMemo } from './session-state.js';

export interface DnsblSpec {
  readonly zone: string;
  /** Per octet: the allowed values, or null for "any". */
  readonly filter: ReadonlyArray<ReadonlySet<number> | null> | null;
  readonly weight: number;
  readonly text: string;
}

export interface DnsblResult {
  readonly sum: number;
  /** e.g. ["bl.test=127.0.0.4(+3)", "wl.test=127.0.0.1(-2)"], and failures as "zone: ETIMEOUT". */
  readonly listed: readonly string[];
  readonly failed: readonly string[];
}

function octet(text: string): ReadonlySet<number> {
  if (!text.startsWith('[')) return new Set([Number(text)]);
  const out = new Set<number>();
  for (const part of text.slice(1, -1).split(';')) {
    const [a, b] = part.split('..');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    for (let n = lo; n <= hi && n <= 255; n++) out.add(n);
  }
  return out;
}

export function parseDnsblSpec(text: string): DnsblSpec {
  const m = DNSBL_SPEC.exec(text);
  if (!m) throw new Error(`bad DNSBL spec ${text}`);
  const filter = m[2] ? (m[2].match(/\d{1,3}|\[[\d.;]+\]/g) ?? []).map(octet) : null;
  return { zone: m[1]!.toLowerCase(), filter, weight: m[3] === undefined ? 1 : Number(m[3]), text };
}

export function specMatches(spec: DnsblSpec, answer: string): boolean {
  const parts = answer.split('.').map(Number);
  if (parts.length !== 4) return false;
  if (!spec.filter) return parts[0] === 127;
  return spec.filter.every((set, i) => set === null || set.has(parts[i]!));
}

/** The query name prefix: reversed octets (IPv4) or nibbles (IPv6), without the arpa suffix. */
export function dnsblPrefix(ip: string): string | null {
  if (isIP(ip) === 0) return null;
  const rev = reverseName(ip);
  return rev ? rev.replace(/\.(in-addr|ip6)\.arpa$/, '') : null;
}

export async function lookupDnsbl(ip: string, specs: readonly DnsblSpec[], resolve: ResolveFn, timeoutMs: number): Promise<DnsblResult> {
  const prefix = dnsblPrefix(ip);
  if (!prefix || specs.length === 0) return { sum: 0, listed: [], failed: [] };
  // Several specs may name one zone with different filters: one query per zone.
  const zones = [...new Set(specs.map((s) => s.zone))];
  const answers = new Map<string, string[] | Error>();
  await Promise.all(zones.map(async (zone) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        resolve(`${prefix}.${zone}`, 'A'),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs); }),
      ]);
      answers.set(zone, r);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERROR';
      answers.set(zone, code === 'ENOTFOUND' || code === 'ENODATA' ? [] : Object.assign(new Error(code)));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }));
  let sum = 0;
  const listed: string[] = [];
  const failed: string[] = [];
  for (const zone of zones) {
    const a = answers.get(zone);
    if (a instanceof Error) failed.push(`${zone}: ${a.message}`);
  }
  for (const spec of specs) {
    const a = answers.get(spec.zone);
    if (!Array.isArray(a)) continue;
    const hit = a.find((x) => specMatches(spec, x));
    if (hit === undefined) continue;
    sum += spec.weight;
    listed.push(`${spec.zone}=${hit}(${spec.weight >= 0 ? '+' : ''}${spec.weight})`);
  }
  return { sum: Math.round(sum * 1000) / 1000, listed, failed };
}

const parsed = new WeakMap<readonly string[], DnsblSpec[]>();

function specsOf(zones: readonly string[]): DnsblSpec[] {
  let s = parsed.get(zones);
  if (!s) {
    s = zones.map(parseDnsblSpec);
    parsed.set(zones, s);
  }
  return s;
}

/** Results per client address and zone list, reused for 30 s by this process; a result with a failed zone is not kept. */
const recent = recentResults<DnsblResult>({ ttlMs: 30_000, max: 20_000, keep: (r) => r.failed.length === 0 });

/** The client's DNSBL sum, once per session. */
export function dnsblOf(session: Session, cfg: { zones: readonly string[]; timeoutMs: number }, resolve: ResolveFn): Maybe<DnsblResult> {
  return sessionMemo(session, 'dnsbl', () => recent.get(`${session.clientIp}\0${cfg.zones.join(',')}`, () => lookupDnsbl(session.clientIp, specsOf(cfg.zones), resolve, cfg.timeoutMs)));
}

const hitsOf = new WeakMap<DnsblResult, Hit[]>();

/** The DNSBL_SUM symbol of a result (none when the sum is 0), built once per result. */
export function dnsblHits(r: DnsblResult): Hit[] {
  let hits = hitsOf.get(r);
  if (!hits) {
    const detail = [...r.listed, ...r.failed.map((f) => `failed ${f}`)].join(' ');
    hits = r.sum !== 0 ? [{ name: 'DNSBL_SUM', score: r.sum * policyScores().score('DNSBL_SUM'), detail: `sum ${r.sum}: ${detail}` }] : [];
    hitsOf.set(r, hits);
  }
  return hits;
}
