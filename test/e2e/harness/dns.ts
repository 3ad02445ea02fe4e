/*
 * test/e2e/harness/dns.ts — a real DNS server (dnsmasq) on loopback serving test zones given as data.
 *
 * dnsmasq runs with no upstream, no /etc/hosts, only our own config file, and `--local=/#/`, so every name
 * is answered from the records given here and nothing else: a name with no records is NXDOMAIN,
 * a name with records of other types only is NODATA. Nothing ever leaves the machine.
 *
 * Records and how they map to dnsmasq options (`man dnsmasq`), written to a config file:
 *   a / aaaa  → host-record=NAME,IP     (NODATA for other types, as a real zone would give).
 *               Note: dnsmasq also answers the PTR for that IP with NAME, unless `ptr` names
 *               that address explicitly (an explicit ptr wins).
 *   mx        → mx-host=DOMAIN,HOST,PREF; exchange '.' (null MX, RFC 7505) → a raw RR.
 *   txt       → txt-record; each array element is one TXT record; a string longer than 255
 *               octets is split into 255-octet character-strings (DKIM keys), as RFC 7208 §3.3 /
 *               RFC 6376 §3.6.2.2 expect the reader to join them.
 *   ptr       → ptr-record; the key is an IPv4/IPv6 address or an already reversed name.
 *   cname     → cname=ALIAS,TARGET (the target must be a name dnsmasq knows).
 *   rr        → dns-rr=NAME,TYPE,HEX (anything else, e.g. TLSA 52). Such a name answers
 *               NXDOMAIN (not NODATA) for other types: a dnsmasq quirk.
 *
 * TTL: all answers carry `ttl` seconds (default 0, dnsmasq's default for local data), so a
 * resolver cache does not hide `setRecords` changes unless a test asks for a TTL.
 *
 * Beware when checking PTR from node: `Resolver.reverse()` consults /etc/hosts first (c-ares);
 * use `resolver.resolve(reverseName(ip), 'PTR')` to ask the server.
 */
import { Resolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, LOOPBACK } from './ports.js';
import { spawnService, StopWaiting, tempDir, waitFor, which, type Cleanup, type Spawned } from './util.js';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface DnsRecords {
  a?: Record<string, string | string[]>;
  aaaa?: Record<string, string | string[]>;
  /** domain → MX records, or a single exchange host name (priority 10). */
  mx?: Record<string, string | MxRecord | MxRecord[]>;
  /** name → one TXT record, or several (one per array element). */
  txt?: Record<string, string | string[]>;
  /** IP address (or reversed name) → host name. */
  ptr?: Record<string, string>;
  cname?: Record<string, string>;
  rr?: Array<{ name: string; type: number; hex: string }>;
}

export interface DnsOptions {
  port?: number;
  /** TTL of every answer, seconds (default 0). */
  ttl?: number;
  /** Log every query to the output (default true; see `queries()`). */
  logQueries?: boolean;
}

export interface DnsServer {
  port: number;
  /** '127.0.0.1:PORT', as the gateway's `dns.servers` takes it. */
  server: string;
  /** A node Resolver pointed at this server only (timeout 1 s, 2 tries). */
  resolver(): Resolver;
  /** Replaces all records (restarts dnsmasq on the same port). */
  setRecords(records: DnsRecords): Promise<void>;
  /** The names asked so far, as 'TYPE name' (from dnsmasq's query log), in order. */
  queries(): string[];
  output(): string;
  stop(): Promise<void>;
}

/** The in-addr.arpa / ip6.arpa name for an address. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIPv6(ip)) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const tl = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl] : h;
    const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
    return `${nibbles.split('').reverse().join('.')}.ip6.arpa`;
  }
  return ip;
}

/** Splits a TXT value into ≤255-octet character-strings. */
export function txtChunks(value: string): string[] {
  const buf = Buffer.from(value, 'utf8');
  if (buf.length <= 255) return [value];
  const out: string[] = [];
  for (let i = 0; i < buf.length; i += 255) out.push(buf.subarray(i, i + 255).toString('utf8'));
  return out;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/**
 * dnsmasq config-file lines for the records (exported for tests of the mapping). A config file,
 * not argv, because only its parser understands quoted strings (TXT values with commas).
 */
export function recordLines(records: DnsRecords): string[] {
  const args: string[] = [];
  for (const [name, ips] of Object.entries(records.a ?? {})) for (const ip of list(ips)) args.push(`host-record=${name},${ip}`);
  for (const [name, ips] of Object.entries(records.aaaa ?? {})) for (const ip of list(ips)) args.push(`host-record=${name},${ip}`);
  for (const [domain, mxs] of Object.entries(records.mx ?? {})) {
    for (const mx of list(mxs)) {
      const { exchange, priority } = typeof mx === 'string' ? { exchange: mx, priority: 10 } : mx;
      if (exchange === '.' || exchange === '') {
        args.push(`dns-rr=${domain},15,${priority.toString(16).padStart(4, '0')}00`);
      } else args.push(`mx-host=${domain},${exchange},${priority}`);
    }
  }
  for (const [name, values] of Object.entries(records.txt ?? {})) {
    for (const v of list(values)) {
      // dnsmasq's option parser takes quoted strings; a quote or backslash inside is escaped.
      const parts = txtChunks(v).map((c) => `"${c.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
      args.push(`txt-record=${name},${parts.join(',')}`);
    }
  }
  for (const [ip, host] of Object.entries(records.ptr ?? {})) args.push(`ptr-record=${reverseName(ip)},${host}`);
  for (const [alias, target] of Object.entries(records.cname ?? {})) args.push(`cname=${alias},${target}`);
  for (const rr of records.rr ?? []) args.push(`dns-rr=${rr.name},${rr.type},${rr.hex.replace(/[^0-9a-fA-F]/g, '')}`);
  return args;
}

/** Starts dnsmasq serving `records` on a free (or the given) loopback port; stopped in teardown. */
export async function startDns(t: Cleanup, records: DnsRecords = {}, opts: DnsOptions = {}): Promise<DnsServer> {
  const bin = which('dnsmasq', 'dnsmasq-base');
  const dir = await tempDir(t, 'dns');
  const port = opts.port ?? (await freePort());
  let proc: Spawned | undefined;
  let current = records;
  const queries: string[] = [];
  const conf = join(dir, 'zones.conf');
  const start = async (): Promise<void> => {
    await writeFile(conf, `${recordLines(current).join('\n')}\n`);
    const args = [
      '--keep-in-foreground',
      `--conf-file=${conf}`,
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--bind-interfaces',
      `--listen-address=${LOOPBACK}`,
      `--port=${port}`,
      '--pid-file=', // none: several instances, and no write to /run
      '--local=/#/', // every name is ours: unknown → NXDOMAIN, never forwarded
      `--local-ttl=${opts.ttl ?? 0}`,
      '--log-facility=-',
      ...(opts.logQueries === false ? [] : ['--log-queries']),
    ];
    const p = spawnService(t, bin, args, {
      cwd: dir,
      logFile: join(dir, 'dnsmasq.log'),
      onLine: (l) => {
        const m = /: query\[(\w+)\] (\S+) from/.exec(l);
        if (m) queries.push(`${m[1]} ${m[2]}`);
      },
    });
    proc = p;
    const r = new Resolver({ timeout: 300, tries: 1 });
    r.setServers([`${LOOPBACK}:${port}`]);
    await waitFor(
      async () => {
        if (p.hasExited()) throw new StopWaiting(`dnsmasq exited: ${p.output()}`);
        try {
          await r.resolve4('harness-probe.invalid');
          return true;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          // Any DNS answer (NXDOMAIN here) proves it serves; a timeout/refusal does not.
          return code === 'ENOTFOUND' || code === 'ENODATA';
        }
      },
      { timeoutMs: 5000, what: `dnsmasq on ${LOOPBACK}:${port}`, detail: () => p.output() },
    );
  };
  await start();
  return {
    port,
    server: `${LOOPBACK}:${port}`,
    resolver() {
      const r = new Resolver({ timeout: 1000, tries: 2 });
      r.setServers([`${LOOPBACK}:${port}`]);
      return r;
    },
    async setRecords(rec) {
      current = rec;
      await proc?.stop(2000);
      await start();
    },
    queries: () => queries.filter((q) => !q.endsWith('harness-probe.invalid')),
    output: () => proc?.output() ?? '',
    stop: async () => proc?.stop(2000),
  };
}
