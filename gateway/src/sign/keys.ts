/*
 * sign/keys.ts — DKIM private keys from the keys directory, loaded once per receiver.
 *
 * Input: `dkim.keysDir` laid out as `<domain>/<selector>.key` (PEM, PKCS#8 or PKCS#1) and the
 * optional `dkim.domains` selector lists → output: domain → signing keys, the algorithm read from
 * the key type (RSA → rsa-sha256, Ed25519 → ed25519-sha256). Without `dkim.domains` every key
 * found is active; with it, only the listed selectors of the listed domains (a listed key that is
 * missing or unreadable is an error at start-up). `next` keys (rotation) are loaded apart and never
 * sign. Does not create keys (cli/dkim-commands.ts) and does not check DNS (key-check.ts). Runs in receiver workers at start-up.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SigningKey } from './dkim-sign.js';

export type KeyRing = ReadonlyMap<string, readonly SigningKey[]>;

/** A selector as file name: DNS label characters only (RFC 6376 §3.1). */
export const SELECTOR_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$/;

export function loadKey(domain: string, selector: string, file: string): SigningKey {
  const key = createPrivateKey(readFileSync(file));
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') throw new Error(`${file}: unsupported DKIM key type ${String(type)} (rsa or ed25519)`);
  return { domain, selector, algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256', key };
}

/** Staged keys (`tuxhat dkim rotate`) live in `<domain>/next/`, retired ones in `<domain>/retired/`. */
export const NEXT_DIR = 'next';
export const RETIRED_DIR = 'retired';

/**
 * The `next` keys: published and checked before they sign. With `dkim.domains`, the listed `next`
 * selectors (`<domain>/<selector>.key` or `<domain>/next/<selector>.key`); else every key in a
 * `<domain>/next/` directory.
 */
export function loadNextKeys(keysDir: string, domains: Readonly<Record<string, { readonly next?: readonly string[] }>>): SigningKey[] {
  const listed = Object.entries(domains);
  if (listed.length > 0) {
    return listed.flatMap(([domain, d]) => (d.next ?? []).map((s) => {
      const staged = join(keysDir, domain, NEXT_DIR, `${s}.key`);
      return loadKey(domain, s, existsSync(staged) ? staged : join(keysDir, domain, `${s}.key`));
    }));
  }
  if (!existsSync(keysDir)) return [];
  const out: SigningKey[] = [];
  for (const dir of readdirSync(keysDir, { withFileTypes: true })) {
    const nextDir = join(keysDir, dir.name, NEXT_DIR);
    if (!dir.isDirectory() || !existsSync(nextDir)) continue;
    for (const f of readdirSync(nextDir).filter((x) => x.endsWith('.key') && SELECTOR_RE.test(x.slice(0, -4))).sort()) {
      out.push(loadKey(dir.name.toLowerCase(), f.slice(0, -4), join(nextDir, f)));
    }
  }
  return out;
}

export function loadKeyRing(keysDir: string, domains: Readonly<Record<string, { readonly selectors: readonly string[] }>>): KeyRing {
  const ring = new Map<string, SigningKey[]>();
  const listed = Object.entries(domains);
  if (listed.length > 0) {
    for (const [domain, { selectors }] of listed) {
      ring.set(domain, selectors.map((s) => loadKey(domain, s, join(keysDir, domain, `${s}.key`))));
    }
    return ring;
  }
  if (!existsSync(keysDir)) return ring;
  for (const dir of readdirSync(keysDir, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const domain = dir.name.toLowerCase();
    const keys = readdirSync(join(keysDir, dir.name)).filter((f) => f.endsWith('.key') && SELECTOR_RE.test(f.slice(0, -4))).sort()
      .map((f) => loadKey(domain, f.slice(0, -4), join(keysDir, dir.name, f)));
    if (keys.length > 0) ring.set(domain, keys);
  }
  return ring;
}
