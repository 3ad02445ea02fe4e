/*
 * policy/recipients.ts — the static recipient lists of `policy.recipientVerification`:
 * `users` plus `usersFile` (one local part or address per line, # comments), read once per
 * loaded config (a reload reads the file again). An entry without @ is a local part of that
 * domain; a full address must be in that domain.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from '../config/index.js';

const lists = new WeakMap<Config, Map<string, ReadonlySet<string>>>();

export function staticRecipients(config: Config, domain: string): ReadonlySet<string> {
  let byDomain = lists.get(config);
  if (!byDomain) {
    byDomain = new Map();
    lists.set(config, byDomain);
  }
  let set = byDomain.get(domain);
  if (!set) {
    const cfg = config.policy.recipientVerification.domains[domain];
    const entries = [...(cfg?.users ?? [])];
    if (cfg?.usersFile) {
      let text: string;
      try {
        text = readFileSync(cfg.usersFile, 'utf8');
      } catch (err) {
        throw new ConfigError(cfg.usersFile, [`${cfg.usersFile}: cannot read: ${(err as Error).message}`]);
      }
      entries.push(...text.split('\n').map((l) => l.replace(/#.*/, '').trim().toLowerCase()).filter(Boolean));
    }
    set = new Set(entries.map((e) => (e.includes('@') ? e : `${e}@${domain}`)));
    byDomain.set(domain, set);
  }
  return set;
}
