/*
 * sign/key-check.ts — does the DNS publish the public key of each signing key?
 *
 * Input: signing keys (active and `next` ones), the process's resolver → output: per key a state
 * `ok` (the selector's TXT record holds our public key), `missing` (no record, or no DKIM key in
 * it), `mismatch` (a record with another key, a revoked `p=`, or a `k=`/`h=` that does not fit)
 * or `unknown` (DNS failure: we cannot tell). A signature whose record is missing or different is
 * a dkim=permerror/fail at every receiver, which hurts the domain more than no signature.
 *
 * KeyCheck.usable() is what the signer asks before signing: it waits for the first check of
 * the domain's keys (bounded by the dns deadline), re-checks when the cached answer is older
 * than `dkim.dnsCheck.intervalMs`, and drops keys that are `missing`/`mismatch` unless
 * `dkim.dnsCheck.onBadRecord` is `sign`. `unknown` keeps the last known state (a DNS outage does
 * not stop signing; a key never seen is used). Every state change is logged once, `error` for
 * missing/mismatch (event `dkim-key`). Runs in receiver workers; the same compare is used by
 * `tuxhat dkim check` (cli/dkim-commands.ts).
 */
import { createPublicKey } from 'node:crypto';
import type { Logger } from '../log/index.js';
import type { SigningKey } from './dkim-sign.js';

export type KeyState = 'ok' | 'missing' | 'mismatch' | 'unknown';

export interface KeyStatus {
  readonly domain: string;
  readonly selector: string;
  readonly state: KeyState;
  /** What was found, for humans: the reason or the DNS error. */
  readonly detail: string;
}

export type TxtResolve = (name: string, rrtype: 'TXT') => Promise<string[][]>;

/** The p= value we publish: SPKI DER for RSA (RFC 6376 §3.6.1), the raw 32-byte key for Ed25519 (RFC 8463 §4.2). */
export function publicKeyValue(key: SigningKey['key']): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ type: 'spki', format: 'der' });
  return (pub.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

/** tag=value list of a DKIM key record (RFC 6376 §3.6.1), tags lower case, whitespace removed from values. */
export function parseKeyRecord(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

/** Compare one key with the TXT records at its selector. */
export async function checkKey(key: SigningKey, resolve: TxtResolve): Promise<KeyStatus> {
  const name = `${key.selector}._domainkey.${key.domain}`;
  const base = { domain: key.domain, selector: key.selector };
  let records: string[][];
  try {
    records = await resolve(name, 'TXT');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { ...base, state: 'missing', detail: `no TXT record at ${name}` };
    return { ...base, state: 'unknown', detail: `DNS lookup of ${name} failed: ${code ?? (err as Error).message}` };
  }
  const keys = records.map((r) => parseKeyRecord(r.join(''))).filter((t) => t.has('p'));
  if (keys.length === 0) return { ...base, state: 'missing', detail: `no DKIM key record (p=) at ${name}` };
  if (keys.length > 1) return { ...base, state: 'mismatch', detail: `${keys.length} DKIM key records at ${name}; receivers may pick any` };
  const tags = keys[0]!;
  const ours = publicKeyValue(key.key);
  const type = key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519';
  if ((tags.get('p') ?? '') === '') return { ...base, state: 'mismatch', detail: `the key at ${name} is revoked (empty p=)` };
  if ((tags.get('k') ?? 'rsa').toLowerCase() !== type) return { ...base, state: 'mismatch', detail: `${name} says k=${tags.get('k') ?? 'rsa'}, our key is ${type}` };
  const h = tags.get('h');
  if (h && !h.toLowerCase().split(':').includes('sha256')) return { ...base, state: 'mismatch', detail: `${name} says h=${h}; we sign with sha256` };
  if (tags.get('p') !== ours) return { ...base, state: 'mismatch', detail: `the public key at ${name} is not the one of our private key` };
  return { ...base, state: 'ok', detail: `${name} publishes our key` };
}

export interface KeyCheckOptions {
  readonly resolve: TxtResolve;
  readonly log?: Logger;
  /** How old a check may be before the next signing re-checks (ms). */
  readonly intervalMs: number;
  /** What a missing or mismatched record means for signing. */
  readonly onBadRecord: 'refuse' | 'sign';
  readonly now?: () => number;
}

interface Entry {
  status: KeyStatus | null;
  checkedAt: number;
  inflight: Promise<KeyStatus> | null;
}

export interface KeyCheck {
  /** The keys of `keys` that may sign now (checks first when needed); `refused` says why others may not. */
  usable(keys: readonly SigningKey[]): Promise<{ keys: SigningKey[]; refused: KeyStatus[] }>;
  /** Check these keys now (at start; `next` keys too) without waiting for a signing. */
  checkAll(keys: readonly SigningKey[]): Promise<KeyStatus[]>;
  /** The last known state of every key checked so far. */
  states(): KeyStatus[];
}

export function createKeyCheck(opts: KeyCheckOptions): KeyCheck {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const id = (k: SigningKey) => `${k.selector}._domainkey.${k.domain}`;

  const refresh = (k: SigningKey): Promise<KeyStatus> => {
    let e = entries.get(id(k));
    if (!e) entries.set(id(k), (e = { status: null, checkedAt: 0, inflight: null }));
    const entry = e;
    if (entry.status && entry.status.state !== 'unknown' && now() - entry.checkedAt < opts.intervalMs) return Promise.resolve(entry.status);
    entry.inflight ??= checkKey(k, opts.resolve).then((st) => {
      entry.inflight = null;
      entry.checkedAt = now();
      const prev = entry.status;
      // A DNS failure keeps what we knew; only a first failure is recorded as unknown.
      if (st.state !== 'unknown' || !prev) entry.status = st;
      else if (prev.state !== 'unknown') entry.checkedAt = 0; // retry at the next signing
      if (!prev || prev.state !== st.state) report(st);
      return entry.status!;
    });
    return entry.inflight;
  };

  const report = (st: KeyStatus) => {
    const fields = { event: 'dkim-key', domain: st.domain, selector: st.selector, state: st.state, detail: st.detail };
    if (st.state === 'missing' || st.state === 'mismatch') {
      opts.log?.error(fields, opts.onBadRecord === 'refuse'
        ? `DKIM key ${st.selector} of ${st.domain}: DNS record ${st.state}; not signing with it (dkim.dnsCheck.onBadRecord)`
        : `DKIM key ${st.selector} of ${st.domain}: DNS record ${st.state}; signing anyway (dkim.dnsCheck.onBadRecord: sign)`);
    } else if (st.state === 'unknown') opts.log?.warn(fields, `DKIM key ${st.selector} of ${st.domain}: cannot check its DNS record`);
    else opts.log?.info(fields, `DKIM key ${st.selector} of ${st.domain}: DNS record matches`);
  };

  return {
    async usable(keys) {
      const states = await Promise.all(keys.map(refresh));
      const ok: SigningKey[] = [];
      const refused: KeyStatus[] = [];
      keys.forEach((k, i) => {
        const st = states[i]!;
        if (opts.onBadRecord === 'refuse' && (st.state === 'missing' || st.state === 'mismatch')) refused.push(st);
        else ok.push(k);
      });
      return { keys: ok, refused };
    },
    checkAll: (keys) => Promise.all(keys.map(refresh)),
    states: () => [...entries.values()].flatMap((e) => (e.status ? [e.status] : [])),
  };
}
