/*
 * bench/spf-suite.ts — runs the openspf RFC 7208 test suite (rfc7208-tests.yml, release
 * 2014.04, as shipped in pyspf's test/ directory) against the SPF path the gateway uses
 * (content/checks/authenticate.ts checkSpf → mailauth's spf()), through an in-memory resolver
 * built from each scenario's zonedata, and prints the pass count and every failure.
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/spf-suite.js path/to/rfc7208-tests.yml
 *
 * The suite is not vendored here (BSD licence, its authors' file): fetch it from pyspf
 * (https://github.com/sdgathman/pyspf, test/rfc7208-tests.yml). The DNS emulation follows
 * pyspf's test/testspf.py: SPF-type records double as TXT unless the name has TXT records
 * (`TXT: NONE` suppresses that), a name entry TIMEOUT or a TIMEOUT record of the asked type is
 * a DNS timeout, unknown names under `error.` time out, other unknown names are NXDOMAIN, known
 * names without the type NODATA, one level of CNAME is followed. A test passes when mailauth's
 * result is the expected one or one of the listed alternatives (`result: [fail, permerror]`).
 * Explanations (exp=) are not compared: the gateway does not use them (it rejects with its own text).
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { checkSpf } from '../gateway/src/content/checks/authenticate.js';

type Rr = { type: string; value: unknown } | 'TIMEOUT';
type Zone = Map<string, Rr[]>;

function loadZone(data: Record<string, unknown[]>): Zone {
  const zone: Zone = new Map();
  for (const [name, list] of Object.entries(data ?? {})) {
    const out: Rr[] = [];
    const spf: Rr[] = [];
    let hasTxt = false;
    for (const item of list ?? []) {
      if (item === 'TIMEOUT') {
        out.push('TIMEOUT');
        continue;
      }
      for (const [type, raw] of Object.entries(item as Record<string, unknown>)) {
        const value = (type === 'TXT' || type === 'SPF') && typeof raw === 'string' ? [raw] : raw;
        if (type === 'TXT') hasTxt = true;
        else if (type === 'SPF') spf.push({ type: 'TXT', value });
        const none = Array.isArray(value) && value.length === 1 && value[0] === 'NONE';
        if (!none) out.push({ type, value });
      }
    }
    if (!hasTxt) out.push(...spf);
    zone.set(name.toLowerCase(), out);
  }
  return zone;
}

const dnsError = (code: string, name: string) => Object.assign(new Error(`${code} ${name}`), { code, hostname: name });

function resolverFor(zone: Zone) {
  const lookup = async (qname: string, rrtype: string, level = 0): Promise<unknown[]> => {
    const name = qname.split('.').filter(Boolean).join('.').toLowerCase();
    if (name.split('.').some((l) => l.length > 63)) throw dnsError('ETIMEOUT', qname);
    const rrs = zone.get(name);
    if (!rrs) throw dnsError(name.startsWith('error.') ? 'ETIMEOUT' : 'ENOTFOUND', qname);
    const answers: unknown[] = [];
    let typed = false;
    for (const rr of rrs) {
      if (rr === 'TIMEOUT') {
        if (!typed) throw dnsError('ETIMEOUT', qname);
        continue;
      }
      if (rr.type === rrtype) typed = true;
      if (rr.value === 'TIMEOUT') {
        if (rr.type === rrtype) throw dnsError('ETIMEOUT', qname);
        continue;
      }
      if (rr.type === rrtype) {
        if (rrtype === 'MX') {
          const [priority, exchange] = rr.value as [number, string];
          answers.push({ priority, exchange });
        } else answers.push(rrtype === 'TXT' ? (rr.value as string[]) : String(rr.value));
      } else if (rr.type === 'CNAME' && level === 0) {
        answers.push(...(await lookup(String(rr.value), rrtype, 1).catch(() => [])));
      }
    }
    if (answers.length === 0) throw dnsError('ENODATA', qname);
    return answers;
  };
  return (name: string, rrtype: string) => lookup(name, rrtype) as Promise<string[][] | string[]>;
}

interface Case {
  spec?: string | string[];
  helo: string;
  host: string;
  mailfrom: string;
  result: string | string[];
  description?: string;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/spf-suite.js rfc7208-tests.yml\n');
  process.exit(2);
}
let passed = 0;
let total = 0;
const failures: string[] = [];
for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
  const scenario = doc.toJS() as { description: string; tests: Record<string, Case>; zonedata: Record<string, unknown[]> } | null;
  if (!scenario?.tests) continue;
  const resolver = resolverFor(loadZone(scenario.zonedata));
  for (const [id, c] of Object.entries(scenario.tests)) {
    total++;
    const expected = Array.isArray(c.result) ? c.result : [c.result];
    let got: string;
    try {
      const r = await checkSpf({ ip: c.host, helo: c.helo, sender: c.mailfrom ?? '', mta: 'receiver.test', resolver });
      got = r.status.result;
    } catch (err) {
      got = `threw: ${(err as Error).message}`;
    }
    if (expected.includes(got)) passed++;
    else failures.push(`${id} (${scenario.description}; RFC 7208 ${[c.spec].flat().join(', ')}): expected ${expected.join('|')}, got ${got}`);
  }
}
for (const f of failures) process.stdout.write(`FAIL ${f}\n`);
process.stdout.write(`RFC 7208 test suite: ${passed}/${total} passed, ${total - passed} failed\n`);
