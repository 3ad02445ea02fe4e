/*
 * cli/dkim-commands.ts — DKIM key lifecycle: `tuxhat dkim keygen DOMAIN` creates a key,
 * `tuxhat dkim check [DOMAIN]` compares the DNS with the keys, `tuxhat dkim rotate DOMAIN`
 * stages a `next` key and `--promote` makes it active once its record is published.
 *
 * keygen:
 * Input: the domain, --selector, --algorithm rsa|ed25519, --dir (else the config's keys
 * directory) → output: `<dir>/<domain>/<selector>.key` (PKCS#8 PEM, mode 0600, never
 * overwritten) and, on stdout, the DNS TXT record to publish, split into 255-byte strings.
 * Run as root, the new directories and the key get the owner of the nearest existing parent
 * (the state directory, owned by the daemon's user), so the daemon can read them.
 * check: for each domain with keys (or DOMAIN), each active and next selector: is the TXT record
 * there and does it hold our public key (sign/key-check.ts, the same compare the daemon makes),
 * and are an SPF and a DMARC record published; `ok`/`FAIL` per line, `all green` or the count of
 * problems at the end, exit 1 on any problem. DNS through the config's `dns` servers.
 * rotate: keygen into `<dir>/<domain>/next/` (the daemon checks next keys but never signs with
 * them); `--promote` checks the next keys' records (refused unless they match, or --force),
 * moves the active keys of the same algorithm to `retired/` and the next ones to the active
 * place. With `dkim.domains` in the config, promotion is a config edit (selectors/next), not a move.
 * Does not publish DNS, and does not tell the running daemon (`tuxhat reload` does).
 * Runs in the `tuxhat` process, usually as root.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/index.js';
import { createResolver } from '../dns/index.js';
import { checkKey, dkimKeysDir, loadKeyRing, loadNextKeys, NEXT_DIR, publicKeyValue as signPublicKeyValue, RETIRED_DIR, SELECTOR_RE, type KeyStatus, type SigningKey } from '../sign/index.js';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { CliError, EXIT_FAILURE, EXIT_OK, UsageError } from './io.js';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The p= value: SPKI DER for RSA (RFC 6376 §3.6.1), the raw 32-byte key for Ed25519 (RFC 8463 §4.2). */
export function publicKeyValue(key: KeyObject): string {
  return signPublicKeyValue(key);
}

/** `S._domainkey.DOMAIN. IN TXT "…" "…"` with each character-string at most 255 bytes (RFC 1035 §3.3). */
export function txtRecord(domain: string, selector: string, text: string): string {
  const parts = text.match(/.{1,255}/g) ?? [''];
  return `${selector}._domainkey.${domain}. IN TXT ${parts.map((p) => `"${p}"`).join(' ')}`;
}

function domainArg(arg: string | undefined): string {
  const domain = (arg ?? '').toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw new UsageError(`not a domain name: ${arg ?? ''}`);
  return domain;
}

function configOf(ctx: CommandContext): Config {
  return loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile));
}

/** Creates `<dir>/<domain>[/<sub>]/<selector>.key` (0600, never overwritten) → the file and the TXT record. */
function writeKey(dir: string, domain: string, selector: string, algorithm: 'rsa' | 'ed25519', sub?: string): { file: string; record: string } {
  const pair = algorithm === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const keyDir = sub ? join(dir, domain, sub) : join(dir, domain);
  const file = join(keyDir, `${selector}.key`);
  for (const other of [join(dir, domain, `${selector}.key`), join(dir, domain, NEXT_DIR, `${selector}.key`), join(dir, domain, RETIRED_DIR, `${selector}.key`)]) {
    if (existsSync(other)) throw new CliError(`${other} exists; choose another --selector (keys are never overwritten, selectors never reused)`);
  }
  const created: string[] = [];
  let parent = keyDir;
  for (; !existsSync(parent) && dirname(parent) !== parent; parent = dirname(parent)) created.unshift(parent);
  const owner = statSync(parent);
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${file} exists; choose another --selector (keys are never overwritten)`);
    throw err;
  }
  if (process.getuid?.() === 0) for (const p of [...created, file]) chownSync(p, owner.uid, owner.gid);
  return { file, record: txtRecord(domain, selector, `v=DKIM1; k=${algorithm}; p=${publicKeyValue(pair.publicKey)}`) };
}

function algorithmOpt(ctx: CommandContext): 'rsa' | 'ed25519' {
  const algorithm = ctx.opts.algorithm ?? 'rsa';
  if (algorithm !== 'rsa' && algorithm !== 'ed25519') throw new UsageError(`--algorithm must be rsa or ed25519, not ${algorithm}`);
  return algorithm;
}

function selectorOpt(ctx: CommandContext, algorithm: 'rsa' | 'ed25519'): string {
  const now = new Date();
  const selector = ctx.opts.selector ?? `s${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}${algorithm === 'rsa' ? 'rsa' : 'ed'}`;
  if (!SELECTOR_RE.test(selector)) throw new UsageError(`not a selector (letters, digits, . _ -): ${selector}`);
  return selector;
}

export async function dkimKeygenCommand(ctx: CommandContext): Promise<number> {
  const domain = domainArg(ctx.args[0]);
  const algorithm = algorithmOpt(ctx);
  const selector = selectorOpt(ctx, algorithm);
  const dir = ctx.opts.dir ?? dkimKeysDir(configOf(ctx));
  const { file, record } = writeKey(dir, domain, selector, algorithm);
  ctx.io.stderr.write(`wrote ${file}; publish this record, then \`tuxhat reload\`:\n`);
  ctx.io.stdout.write(`${record}\n`);
  return EXIT_OK;
}

interface CheckLine {
  domain: string;
  what: string;
  ok: boolean;
  detail: string;
}

const TXT_START = (records: string[][], prefix: RegExp) => records.map((r) => r.join('')).filter((x) => prefix.test(x));

export async function dkimCheckCommand(ctx: CommandContext): Promise<number> {
  const config = configOf(ctx);
  const dir = ctx.opts.dir ?? dkimKeysDir(config);
  const only = ctx.args[0] !== undefined ? domainArg(ctx.args[0]) : null;
  const ring = loadKeyRing(dir, config.dkim.domains);
  const next = loadNextKeys(dir, config.dkim.domains);
  const keys: Array<{ key: SigningKey; role: 'active' | 'next' }> = [
    ...[...ring.values()].flat().map((key) => ({ key, role: 'active' as const })),
    ...next.map((key) => ({ key, role: 'next' as const })),
  ].filter((k) => only === null || k.key.domain === only);
  const domains = [...new Set([...(only ? [only] : []), ...keys.map((k) => k.key.domain)])].sort();
  if (domains.length === 0) throw new CliError(`no DKIM keys in ${dir}`);
  const resolver = createResolver(config.dns);
  const lines: CheckLine[] = [];
  try {
    for (const domain of domains) {
      const mine = keys.filter((k) => k.key.domain === domain);
      if (mine.length === 0) lines.push({ domain, what: 'DKIM', ok: false, detail: `no key for ${domain} in ${dir}` });
      const states = await Promise.all(mine.map((k) => checkKey(k.key, (n) => resolver.txt(n))));
      mine.forEach((k, i) => {
        const st: KeyStatus = states[i]!;
        lines.push({ domain, what: `DKIM ${k.key.selector} (${k.key.algorithm}, ${k.role})`, ok: st.state === 'ok', detail: st.state === 'ok' ? st.detail : `${st.state}: ${st.detail}` });
      });
      for (const [what, name, prefix] of [['SPF', domain, /^v=spf1(\s|$)/i], ['DMARC', `_dmarc.${domain}`, /^v=DMARC1\s*(;|$)/i]] as const) {
        try {
          const found = TXT_START(await resolver.txt(name), prefix);
          if (found.length === 1) lines.push({ domain, what, ok: true, detail: found[0]! });
          else lines.push({ domain, what, ok: false, detail: found.length === 0 ? `no ${what} record at ${name}` : `${found.length} ${what} records at ${name} (a ${what} permerror)` });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          lines.push({ domain, what, ok: false, detail: code === 'ENOTFOUND' || code === 'ENODATA' ? `no ${what} record at ${name}` : `DNS lookup of ${name} failed: ${code ?? (err as Error).message}` });
        }
      }
    }
  } finally {
    resolver.close();
  }
  const problems = lines.filter((l) => !l.ok).length;
  if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify({ ok: problems === 0, checks: lines }, null, 2)}\n`);
  else {
    for (const domain of domains) {
      ctx.io.stdout.write(`${domain}\n`);
      for (const l of lines.filter((x) => x.domain === domain)) ctx.io.stdout.write(`  ${l.ok ? 'ok  ' : 'FAIL'}  ${l.what}: ${l.detail}\n`);
    }
    ctx.io.stdout.write(problems === 0 ? 'all green\n' : `${problems} problem${problems === 1 ? '' : 's'}\n`);
  }
  return problems === 0 ? EXIT_OK : EXIT_FAILURE;
}

export async function dkimRotateCommand(ctx: CommandContext): Promise<number> {
  const domain = domainArg(ctx.args[0]);
  const config = configOf(ctx);
  const dir = ctx.opts.dir ?? dkimKeysDir(config);
  if (!ctx.opts.promote) {
    const algorithm = algorithmOpt(ctx);
    const { file, record } = writeKey(dir, domain, selectorOpt(ctx, algorithm), algorithm, NEXT_DIR);
    ctx.io.stderr.write(`wrote ${file} (next: checked, not signing). Publish this record, check it with \`tuxhat dkim check ${domain}\`, then \`tuxhat dkim rotate ${domain} --promote\`:\n`);
    ctx.io.stdout.write(`${record}\n`);
    return EXIT_OK;
  }
  if (Object.keys(config.dkim.domains).length > 0) {
    throw new CliError(`dkim.domains is set in the config: promote by moving the selector from dkim.domains.${domain}.next to selectors, then \`tuxhat reload\``);
  }
  const next = loadNextKeys(dir, {}).filter((k) => k.domain === domain);
  if (next.length === 0) throw new CliError(`no next key for ${domain} in ${join(dir, domain, NEXT_DIR)} (stage one with \`tuxhat dkim rotate ${domain}\`)`);
  const resolver = createResolver(config.dns);
  let states: KeyStatus[];
  try {
    states = await Promise.all(next.map((k) => checkKey(k, (n) => resolver.txt(n))));
  } finally {
    resolver.close();
  }
  const bad = states.filter((s) => s.state !== 'ok');
  if (bad.length > 0 && !ctx.opts.force) {
    throw new CliError(`not promoted: ${bad.map((b) => `${b.selector}: ${b.state} (${b.detail})`).join('; ')}. Publish the record first (or --force)`);
  }
  const active = loadKeyRing(dir, {}).get(domain) ?? [];
  const retired: string[] = [];
  mkdirSync(join(dir, domain, RETIRED_DIR), { recursive: true, mode: 0o700 });
  for (const k of next) {
    for (const old of active.filter((a) => a.algorithm === k.algorithm)) {
      if (retired.includes(old.selector)) continue;
      renameSync(join(dir, domain, `${old.selector}.key`), join(dir, domain, RETIRED_DIR, `${old.selector}.key`));
      retired.push(old.selector);
    }
    renameSync(join(dir, domain, NEXT_DIR, `${k.selector}.key`), join(dir, domain, `${k.selector}.key`));
    ctx.io.stdout.write(`active: ${k.selector} (${k.algorithm})\n`);
  }
  for (const r of retired) ctx.io.stdout.write(`retired: ${r} — keep ${r}._domainkey.${domain} published for about a week (mail in transit and re-verification), then remove it\n`);
  ctx.io.stderr.write('run `tuxhat reload` to sign with the new keys\n');
  return EXIT_OK;
}
