/*
 * content/checks/authenticate.ts — mailauth's authenticate() steps composed by us, so DKIM
 * results can be corrected before DMARC counts them.
 *
 * mailauth 4.13.3 (pinned: 5.x needs Node 22) accepts rsa-sha1 signatures as dkim=pass although
 * RFC 8301 §3.1 forbids verifiers to consider them valid, and ignores the key record's `h=` tag
 * (RFC 6376 §3.6.1: a signature whose hash is not listed must be a PERMFAIL). A pass it wrongly
 * gives would make DMARC pass for a forger who owns a sha1-era signature. So we run the same
 * steps as mailauth's lib/mailauth.js authenticate(): dkimVerify → (our corrections) → spf →
 * arc → dmarc, and build the same Received-SPF and Authentication-Results headers (BIMI off,
 * trustReceived off, no sealing here: ARC sealing happens after all edits, see sign/arc-seal.ts).
 *
 * Input: the message stream, client ip, HELO, envelope sender, authserv-id, resolver, and
 * optionally an SPF result computed earlier in the session (the early SPF check at MAIL FROM),
 * which is reused instead of evaluating SPF twice. Output: mailauth's AuthenticateResult shape.
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { AuthenticateResult, DKIMResult, SPFResult } from 'mailauth';

type Mailauth = typeof import('mailauth');
interface Helpers {
  mailauth: Mailauth;
  foldLines: (s: string, len: number) => string;
  formatAuthHeaderRow: (method: string, status: unknown) => string;
}

// Loaded on the first message that needs it (mailauth with joi, tldts, nodemailer is ~25 MB).
// libmime and lib/tools are resolved from mailauth's own location: they are its dependencies,
// exactly the ones its authenticate() uses, not ours.
let helpers: Promise<Helpers> | null = null;
export function loadMailauth(): Promise<Helpers> {
  helpers ??= import('mailauth').then((mailauth) => {
    const req = createRequire(createRequire(import.meta.url).resolve('mailauth'));
    const libmime = req('libmime') as { foldLines: Helpers['foldLines'] };
    const tools = req('./tools.js') as { formatAuthHeaderRow: Helpers['formatAuthHeaderRow'] };
    return { mailauth, foldLines: (s, n) => libmime.foldLines(s, n), formatAuthHeaderRow: tools.formatAuthHeaderRow };
  });
  return helpers;
}

export type Resolve = (name: string, rrtype: string) => Promise<string[][] | string[]>;

export interface AuthenticateOptions {
  ip: string;
  helo: string | null | undefined;
  /** The envelope MAIL FROM ('' for the null sender). */
  sender: string;
  /** Our authserv-id. */
  mta: string;
  resolver: Resolve;
  /** An SPF result already computed for this transaction (early SPF at MAIL FROM). */
  spf?: SPFResult;
}

/** What RFC 8301 / the key's h= did to one signature, for the hit details. */
export interface DkimCorrection {
  domain: string;
  selector: string | undefined;
  reason: 'weak-algorithm' | 'inappropriate-hash';
}

export interface Authenticated extends AuthenticateResult {
  corrections: DkimCorrection[];
}

/** The SPF step alone, with the same HELO handling as authenticate(); used at MAIL FROM too. */
export async function checkSpf(opts: Omit<AuthenticateOptions, 'spf'>): Promise<SPFResult> {
  const { mailauth } = await loadMailauth();
  let helo = opts.helo || opts.ip;
  if (helo && isIP(helo)) helo = `[${helo}]`;
  return mailauth.spf({ ip: opts.ip, helo, sender: opts.sender, mta: opts.mta, resolver: opts.resolver as never });
}

export async function authenticateMessage(input: Readable | Buffer | string, opts: AuthenticateOptions): Promise<Authenticated> {
  const h = await loadMailauth();
  const { dkimVerify, arc, dmarc } = h.mailauth;
  const dkimResult = await dkimVerify(input, { resolver: opts.resolver as never, sender: opts.sender });
  const corrections = correctDkim(dkimResult.results, h.formatAuthHeaderRow);

  const spfResult = opts.spf ?? (await checkSpf(opts));
  const arcResult = await arc(dkimResult.arc as never, { resolver: opts.resolver as never });

  const headers: string[] = [];
  const arHeader: string[] = [];
  for (const row of dkimResult.results ?? []) arHeader.push(h.foldLines(row.info, 160));
  arHeader.push(h.foldLines(spfResult.info, 160));
  headers.push(spfResult.header);
  if (arcResult?.info) arHeader.push(h.foldLines(arcResult.info, 160));

  let dmarcResult: Awaited<ReturnType<Mailauth['dmarc']>> = false;
  if (dkimResult.headerFrom) {
    dmarcResult = await dmarc({
      headerFrom: dkimResult.headerFrom,
      spfDomains: spfResult.status.result === 'pass' && spfResult.domain ? [spfResult.domain] : [],
      dkimDomains: (dkimResult.results ?? [])
        .filter((r) => r.status.result === 'pass')
        .map((r) => ({ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized })),
      arcResult,
      resolver: opts.resolver as never,
    });
    if (dmarcResult && dmarcResult.info) arHeader.push(h.foldLines(dmarcResult.info, 160));
  }

  headers.push(`Authentication-Results: ${opts.mta};\r\n ${arHeader.join(';\r\n ')}`);
  if (arcResult) (arcResult as { authResults?: string }).authResults = `${opts.mta};\r\n ${arHeader.join(';\r\n ')}`;
  return {
    dkim: dkimResult, spf: spfResult, dmarc: dmarcResult || false, arc: arcResult || false, bimi: false,
    headers: `${headers.join('\r\n')}\r\n`, corrections,
  };
}

/**
 * RFC 8301 §3.1: rsa-sha1 signatures are not valid → dkim=policy (policy.dkim-rules=weak-algorithm).
 * RFC 6376 §3.6.1/§6.1.2: a key record with h= not listing the signature's hash → dkim=permerror
 * (inappropriate hash algorithm). Only pass (and for h=, fail) is corrected: any other outcome
 * already says the signature did not count. Mutates the results (and their A-R info); returns what changed.
 */
export function correctDkim(results: DKIMResult[], format: Helpers['formatAuthHeaderRow']): DkimCorrection[] {
  const out: DkimCorrection[] = [];
  for (const r of results ?? []) {
    const st = r.status;
    if (st.result !== 'pass' && st.result !== 'fail') continue;
    const algo = String((r as { algo?: string }).algo ?? r.algorithm ?? '').toLowerCase();
    const hash = algo.split('-').pop() ?? '';
    const keyHashes = keyTag((r as { rr?: string }).rr, 'h');
    if (keyHashes && !keyHashes.split(':').map((x) => x.trim().toLowerCase()).includes(hash)) {
      st.result = 'permerror';
      st.comment = 'inappropriate hash algorithm';
      out.push({ domain: r.signingDomain, selector: r.selector, reason: 'inappropriate-hash' });
    } else if (hash === 'sha1' && st.result === 'pass') {
      st.result = 'policy';
      st.comment = 'rsa-sha1 not accepted per RFC 8301';
      st.policy = { ...(st.policy ?? {}), 'dkim-rules': 'weak-algorithm' };
      out.push({ domain: r.signingDomain, selector: r.selector, reason: 'weak-algorithm' });
    } else continue;
    r.info = format('dkim', st);
  }
  return out;
}

/** One tag of a DKIM key record (tag=value; list), or null. */
export function keyTag(record: string | undefined, tag: string): string | null {
  if (!record) return null;
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === tag) return part.slice(eq + 1).replace(/\s+/g, '');
  }
  return null;
}
