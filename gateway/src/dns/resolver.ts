/*
 * dns/resolver.ts — the one resolver every lookup goes through (SPF, DKIM, DMARC, DNSBL, MX, PTR,
 * MTA-STS), with a deadline on every call, a positive/negative answer cache and coalescing.
 *
 * (name, rrtype) → the same result shapes and error codes as node:dns/promises (ENOTFOUND for
 * NXDOMAIN, ENODATA for NODATA, ETIMEOUT, ESERVFAIL, ...), so it plugs into mailauth's `resolver`
 * option as is. Callers get their own copy of every answer, so sorting or editing one never
 * changes the cache.
 *
 * Caching: positive answers live for their TTL capped at maxTtlSeconds. Node reports TTLs only for
 * A and AAAA; other types (MX, TXT, PTR, ...) are kept for TTL_UNKNOWN_S, also capped, because
 * guessing long would serve stale SPF/DKIM records after a change. NXDOMAIN and NODATA live for
 * negativeTtlSeconds. Timeouts, SERVFAIL, REFUSED and other failures are never cached: the next
 * caller asks again (fail safe, house style §8). Concurrent identical lookups share one query.
 *
 * Deadline: c-ares retries with exponential back-off, so its own budget is longer than
 * timeoutMs × tries; the hard timer here ends every call after timeoutMs × tries × servers with
 * ETIMEOUT whatever c-ares does. It does not do DNSSEC, DANE or /etc/hosts (names such as
 * "localhost" are for callers to special-case). Runs in every process; each has its own cache.
 */
import { Resolver } from 'node:dns/promises';
import type { AnyRecord, CaaRecord, MxRecord, NaptrRecord, RecordWithTtl, SoaRecord, SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { AnswerCache, type CachedAnswer } from './cache.js';
import { reverseName } from './arpa.js';

export type DnsConfig = Config['dns'];

/** Seconds to keep answers whose TTL node does not report (all but A/AAAA). */
const TTL_UNKNOWN_S = 60;

/** Failures that are facts about the zone (RFC 2308) and so may be cached. */
const NEGATIVE_CODES = new Set(['ENOTFOUND', 'ENODATA']);

export interface DnsCacheStats {
  /** Answers served from the cache, positive or negative. */
  readonly hits: number;
  /** Lookups that went to the network. */
  readonly misses: number;
  /** Lookups that joined an identical query already in flight. */
  readonly coalesced: number;
  /** Lookups that ended on the hard deadline. */
  readonly timeouts: number;
  readonly entries: number;
}

/** Node's error shape: `code` is what callers match on. */
export interface DnsError extends Error {
  code: string;
  syscall: string;
  hostname: string;
}

export interface ResolveFn {
  (name: string, rrtype?: 'A' | 'AAAA' | 'CNAME' | 'NS' | 'PTR'): Promise<string[]>;
  (name: string, rrtype: 'MX'): Promise<MxRecord[]>;
  (name: string, rrtype: 'TXT'): Promise<string[][]>;
  (name: string, rrtype: 'SRV'): Promise<SrvRecord[]>;
  (name: string, rrtype: 'SOA'): Promise<SoaRecord>;
  (name: string, rrtype: 'NAPTR'): Promise<NaptrRecord[]>;
  (name: string, rrtype: 'CAA'): Promise<CaaRecord[]>;
  (name: string, rrtype: 'ANY'): Promise<AnyRecord[]>;
  (name: string, rrtype: string): Promise<unknown>;
}

export interface DnsResolver {
  mx(domain: string): Promise<MxRecord[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  txt(name: string): Promise<string[][]>;
  /** Reverse lookup of an IP (IPv4, IPv6 or IPv4-mapped); the PTR names, like dns.reverse. */
  ptr(ip: string): Promise<string[]>;
  /** Generic lookup with node:dns/promises `resolve` semantics; fits mailauth's `resolver` option. */
  readonly resolve: ResolveFn;
  stats(): DnsCacheStats;
  /** Forget every cached answer (after a config reload or for tests). */
  clear(): void;
  /** Cancel queries in flight (they reject with ECANCELLED) and drop the cache. */
  close(): void;
}

export interface ResolverOptions {
  /** Clock for cache expiry, epoch ms; tests pass a fake one. */
  readonly now?: () => number;
}

interface Fetched {
  readonly value: unknown;
  /** Seconds, or null when the record type carries no TTL in node's API. */
  readonly ttlS: number | null;
}

export function createResolver(cfg: DnsConfig, opts: ResolverOptions = {}): DnsResolver {
  const now = opts.now ?? Date.now;
  const resolver = new Resolver({ timeout: cfg.timeoutMs, tries: cfg.tries });
  const servers = cfg.servers.map(toNodeServer);
  if (servers.length > 0) resolver.setServers(servers);
  const deadlineMs = cfg.timeoutMs * cfg.tries * Math.max(1, resolver.getServers().length);
  const cache = new AnswerCache(cfg.cacheMaxEntries, now);
  const inflight = new Map<string, Promise<unknown>>();
  const counters = { hits: 0, misses: 0, coalesced: 0, timeouts: 0 };

  const fetchRecords = async (name: string, rrtype: string): Promise<Fetched> => {
    if (rrtype === 'A' || rrtype === 'AAAA') {
      const recs: RecordWithTtl[] = rrtype === 'A'
        ? await resolver.resolve4(name, { ttl: true })
        : await resolver.resolve6(name, { ttl: true });
      return { value: recs.map((r) => r.address), ttlS: recs.reduce((m, r) => Math.min(m, r.ttl), Infinity) };
    }
    return { value: await resolver.resolve(name, rrtype), ttlS: null };
  };

  const query = (key: string, name: string, rrtype: string): Promise<unknown> => {
    const running = inflight.get(key);
    if (running) {
      counters.coalesced++;
      return running;
    }
    counters.misses++;
    const p = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        counters.timeouts++;
        reject(dnsError('ETIMEOUT', rrtype, name));
      }, deadlineMs);
      timer.unref();
      fetchRecords(name, rrtype).then((got) => {
        clearTimeout(timer);
        // A late answer is still a good answer: cache it even if this call already timed out.
        const ttlS = Math.min(got.ttlS ?? TTL_UNKNOWN_S, cfg.maxTtlSeconds);
        cache.set(key, { ok: true, value: got.value }, ttlS * 1000);
        resolve(got.value);
      }, (err: unknown) => {
        clearTimeout(timer);
        const e = err as Partial<DnsError>;
        if (typeof e.code === 'string' && NEGATIVE_CODES.has(e.code)) {
          cache.set(key, { ok: false, code: e.code, syscall: e.syscall ?? syscallFor(rrtype), hostname: e.hostname ?? name },
            cfg.negativeTtlSeconds * 1000);
        }
        reject(err);
      });
    }).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  const lookup = async (rawName: string, rawType: string): Promise<unknown> => {
    const rrtype = rawType.toUpperCase();
    const name = normaliseName(rawName);
    const key = `${rrtype} ${name}`;
    const cached = cache.get(key);
    if (cached) {
      counters.hits++;
      return answerOf(cached);
    }
    return copyAnswer(await query(key, name, rrtype));
  };

  return {
    mx: (domain) => lookup(domain, 'MX') as Promise<MxRecord[]>,
    a: (name) => lookup(name, 'A') as Promise<string[]>,
    aaaa: (name) => lookup(name, 'AAAA') as Promise<string[]>,
    txt: (name) => lookup(name, 'TXT') as Promise<string[][]>,
    ptr: async (ip) => {
      const name = reverseName(ip);
      if (name === null) throw dnsError('EINVAL', 'PTR', ip, 'getHostByAddr');
      return lookup(name, 'PTR') as Promise<string[]>;
    },
    resolve: ((name: string, rrtype = 'A') => lookup(name, rrtype)) as ResolveFn,
    stats: () => ({ ...counters, entries: cache.size }),
    clear: () => cache.clear(),
    close: () => {
      resolver.cancel();
      cache.clear();
    },
  };
}

function answerOf(cached: CachedAnswer): unknown {
  if (cached.ok) return copyAnswer(cached.value);
  // A fresh error each time (callers may annotate it), but without a stack: capturing one cost
  // more than the whole cache hit, and a cached answer's stack tells nothing.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return throwError(dnsError(cached.code, '', cached.hostname, cached.syscall));
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function throwError(err: Error): never {
  throw err;
}

/**
 * A copy the caller may change without changing the cache. DNS answers are at most two levels
 * deep (string[], string[][] for TXT, objects of scalars for MX/SRV/SOA/CAA), so this is a full
 * copy of them, at a fraction of structuredClone's cost.
 */
function copyAnswer(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x: unknown) => (Array.isArray(x) ? x.slice() : x !== null && typeof x === 'object' ? { ...x } : x));
  if (v !== null && typeof v === 'object') return { ...v };
  return v;
}

function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** node names its syscalls queryA, queryAaaa, queryMx, ...; callers may log them. */
function syscallFor(rrtype: string): string {
  return `query${rrtype.charAt(0)}${rrtype.slice(1).toLowerCase()}`;
}

function dnsError(code: string, rrtype: string, hostname: string, syscall = syscallFor(rrtype)): DnsError {
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}

/**
 * Config form → node's setServers form: "ip", "ip:port", "[v6]", "[v6]:port". Names are refused
 * here, at start-up, because resolving the resolver's own address would need a resolver.
 */
export function toNodeServer(server: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(server.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3];
  const family = host === undefined ? 0 : isIP(host);
  if (!m || !host || family === 0) {
    throw new Error(`dns.servers: "${server}" is not an IP address or IP:port`);
  }
  if (port === undefined) return host;
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
