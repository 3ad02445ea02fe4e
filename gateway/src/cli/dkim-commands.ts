/*
 * cli/dkim-commands.ts — `tuxhat dkim keygen DOMAIN`: create a DKIM signing key.
 *
 * Input: the domain, --selector, --algorithm rsa|ed25519, --dir (else the config's keys
 * directory) → output: `<dir>/<domain>/<selector>.key` (PKCS#8 PEM, mode 0600, never
 * overwritten) and, on stdout, the DNS TXT record to publish, split into 255-byte strings.
 * Run as root, the new directories and the key get the owner of the nearest existing parent
 * (the state directory, owned by the daemon's user), so the daemon can read them.
 * Does not publish or check DNS, and does not tell the running daemon (`tuxhat reload` does).
 * Runs in the `tuxhat` process, usually as root.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dkimKeysDir, SELECTOR_RE } from '../sign/index.js';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { CliError, EXIT_OK, UsageError } from './io.js';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The p= value: SPKI DER for RSA (RFC 6376 §3.6.1), the raw 32-byte key for Ed25519 (RFC 8463 §4.2). */
export function publicKeyValue(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return (key.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

/** `S._domainkey.DOMAIN. IN TXT "…" "…"` with each character-string at most 255 bytes (RFC 1035 §3.3). */
export function txtRecord(domain: string, selector: string, text: string): string {
  const parts = text.match(/.{1,255}/g) ?? [''];
  return `${selector}._domainkey.${domain}. IN TXT ${parts.map((p) => `"${p}"`).join(' ')}`;
}

export async function dkimKeygenCommand(ctx: CommandContext): Promise<number> {
  const domain = (ctx.args[0] ?? '').toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw new UsageError(`not a domain name: ${ctx.args[0] ?? ''}`);
  const algorithm = ctx.opts.algorithm ?? 'rsa';
  if (algorithm !== 'rsa' && algorithm !== 'ed25519') throw new UsageError(`--algorithm must be rsa or ed25519, not ${algorithm}`);
  const now = new Date();
  const selector = ctx.opts.selector ?? `s${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}${algorithm === 'rsa' ? 'rsa' : 'ed'}`;
  if (!SELECTOR_RE.test(selector)) throw new UsageError(`not a selector (letters, digits, . _ -): ${selector}`);
  const dir = ctx.opts.dir ?? dkimKeysDir(loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile)));
  const pair = algorithm === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const file = join(dir, domain, `${selector}.key`);
  const created: string[] = [];
  let parent = join(dir, domain);
  for (; !existsSync(parent) && dirname(parent) !== parent; parent = dirname(parent)) created.unshift(parent);
  const owner = statSync(parent);
  mkdirSync(join(dir, domain), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${file} exists; choose another --selector (keys are never overwritten)`);
    throw err;
  }
  if (process.getuid?.() === 0) for (const p of [...created, file]) chownSync(p, owner.uid, owner.gid);
  ctx.io.stderr.write(`wrote ${file}; publish this record, then \`tuxhat reload\`:\n`);
  ctx.io.stdout.write(`${txtRecord(domain, selector, `v=DKIM1; k=${algorithm}; p=${publicKeyValue(pair.publicKey)}`)}\n`);
  return EXIT_OK;
}
