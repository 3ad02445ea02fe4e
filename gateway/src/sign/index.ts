/*
 * sign/index.ts — outbound DKIM signing: which domain signs a message, and its header edits.
 *
 * Input: the key ring (sign/keys.ts), the envelope sender and the From header, and the message
 * as it will go out → output: 'prepend' header edits (DKIM-Signature, one per active key of the
 * domain) or null when the domain has no key. Does not decide whether to sign (listen/server.ts:
 * outbound deliver/tag only) nor what a failure means. Runs in receiver workers.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config/index.js';
import type { HeaderEdit } from '../core/index.js';
import { dkimSignatures } from './dkim-sign.js';
import type { KeyCheck } from './key-check.js';
import type { KeyRing } from './keys.js';

export { dkimSignatures, headerList, OVERSIGNED, SIGNED_HEADERS, type SigningKey } from './dkim-sign.js';
export { loadKey, loadKeyRing, loadNextKeys, NEXT_DIR, RETIRED_DIR, SELECTOR_RE, type KeyRing } from './keys.js';
export { checkKey, createKeyCheck, parseKeyRecord, publicKeyValue, type KeyCheck, type KeyState, type KeyStatus } from './key-check.js';

/** `dkim.keysDir`, or `<paths.state>/dkim`. */
export function dkimKeysDir(config: Pick<Config, 'dkim' | 'paths'>): string {
  return config.dkim.keysDir ?? join(config.paths.state, 'dkim');
}

/** The domain of an address or of a From header value (the last addr-spec's domain), lower case. */
export function signingDomainOf(signBy: 'from' | 'envelope', mailFrom: string | null, fromHeader: string | null): string | null {
  const source = signBy === 'envelope' ? mailFrom : fromHeader;
  if (!source) return null;
  const angle = /<([^<>]*)>\s*$/.exec(source);
  const addr = (angle ? angle[1]! : source).trim();
  const at = addr.lastIndexOf('@');
  if (at === -1) return null;
  const domain = addr.slice(at + 1).replace(/[>\s].*$/, '').toLowerCase();
  return domain === '' ? null : domain;
}

/**
 * Signature header edits for `domain`, in prepend order (the first key's signature on top); null: no key.
 * With a KeyCheck, keys whose DNS record is missing or different are left out (key-check.ts); when
 * that leaves none, it throws like any signing failure (the caller answers 451 or sends unsigned,
 * as dkim.unsignedOnError says).
 */
export async function dkimHeaderEdits(ring: KeyRing, domain: string | null, message: () => Readable, check?: KeyCheck): Promise<HeaderEdit[] | null> {
  let keys = domain ? ring.get(domain) : undefined;
  if (!keys || keys.length === 0) return null;
  if (check) {
    const u = await check.usable(keys);
    if (u.keys.length === 0) throw new Error(`no DKIM key of ${domain} has a matching DNS record: ${u.refused.map((r) => `${r.selector}: ${r.state}`).join(', ')}`);
    keys = u.keys;
  }
  const values = await dkimSignatures(message(), keys);
  return values.map((value) => ({ op: 'prepend' as const, name: 'DKIM-Signature', value }));
}
