/*
 * sign/key-check-start.ts — the receiver's DKIM key check: created at start when signing and
 * dkim.dnsCheck are on and there are keys; checks active and `next` keys at once (without
 * waiting: the first signing waits for its own keys) and again every intervalMs on an unref'd
 * timer, so a record that disappears is logged even when no mail is signed.
 */
import type { Config } from '../config/index.js';
import type { DnsResolver } from '../dns/index.js';
import type { Logger } from '../log/index.js';
import { createKeyCheck, type KeyCheck } from './key-check.js';
import { dkimKeysDir } from './index.js';
import { loadNextKeys, type KeyRing } from './keys.js';

export function startDkimKeyCheck(config: Config, ring: KeyRing, resolver: DnsResolver, log: Logger): KeyCheck | null {
  if (!config.dkim.enabled || !config.dkim.dnsCheck.enabled || ring.size === 0) return null;
  const { intervalMs, onBadRecord } = config.dkim.dnsCheck;
  const check = createKeyCheck({ resolve: (name) => resolver.txt(name), log, intervalMs, onBadRecord });
  let next: ReturnType<typeof loadNextKeys> = [];
  try {
    next = loadNextKeys(dkimKeysDir(config), config.dkim.domains);
  } catch (err) {
    log.error({ event: 'dkim-key', err: (err as Error).message }, 'a next DKIM key cannot be read');
  }
  const all = [...[...ring.values()].flat(), ...next];
  const run = () => void check.checkAll(all).catch((err: unknown) => log.warn({ event: 'dkim-key', err: (err as Error).message }, 'DKIM key check failed'));
  run();
  setInterval(run, intervalMs).unref();
  return check;
}
