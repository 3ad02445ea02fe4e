/*
 * state/policy-admin.ts — the postmaster's view of the policy stores, for the admin API:
 * `tuxhat reputation show|reset SUBJECT` and `tuxhat greylist list|release MATCH`.
 * SUBJECT is an IP address (its /24 or /64 network is shown), a network as shown by `show`, or
 * a domain (its envelope-sender and DKIM reputations). MATCH is an IP or network (the triplet's
 * network), an address (sender or recipient) or a domain (of the sender or recipient).
 * Runs in the primary process (the daemon owns the state directory; see admin-commands).
 */
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { maskedNetwork } from './network.js';
import { policyStores } from './policy-stores.js';
import { classify, ReputationStore, type ReputationClass, type ReputationCounts } from './reputation.js';
import type { StateEnvs } from './envs.js';
import type { Triplet } from './greylist.js';

export interface ReputationView {
  readonly key: string;
  readonly scope: string;
  readonly subject: string;
  readonly counts: ReputationCounts;
  readonly cls: ReputationClass;
  readonly badShare: number;
  readonly since: number;
}

export interface GreylistView {
  readonly network: string;
  readonly sender: string;
  readonly recipient: string;
  readonly first: number;
  readonly passAfter: number;
  readonly expires: number;
  readonly passed: boolean;
  readonly attempts: number;
}

/** The reputation keys a subject names; null when it is neither an IP, a network nor a domain. */
export function reputationKeys(config: Config, subject: string): string[] | null {
  const s = subject.trim().toLowerCase();
  const [addr, bits] = s.split('/');
  if (addr && isIP(addr)) {
    const net = bits === undefined ? maskedNetwork(addr, config.reputation.ipv4Prefix, config.reputation.ipv6Prefix) : s;
    return [ReputationStore.key('ip', net)];
  }
  if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9])?)*\.?$/.test(s)) return null;
  const d = s.replace(/\.$/, '');
  return [ReputationStore.key('from', d), ReputationStore.key('dkim', d)];
}

export function showReputation(st: StateEnvs, config: Config, keys: readonly string[], now = Date.now()): ReputationView[] {
  st.cache.resetReadTxn();
  const store = policyStores(st).reputation;
  const out: ReputationView[] = [];
  for (const key of keys) {
    const r = store.get(key, config.reputation.halfLifeMs, now);
    if (!r) continue;
    const { cls, badShare } = classify(r.counts, config.reputation);
    const colon = key.indexOf(':');
    out.push({ key, scope: key.slice(0, colon), subject: key.slice(colon + 1), counts: r.counts, cls, badShare, since: r.since });
  }
  return out;
}

export async function resetReputation(st: StateEnvs, keys: readonly string[]): Promise<number> {
  const store = policyStores(st).reputation;
  let n = 0;
  for (const key of keys) if (await store.reset(key)) n++;
  return n;
}

export function listGreylist(st: StateEnvs, limit = 1000): GreylistView[] {
  return policyStores(st).greylist.list(limit).map(({ key, value }) => ({ network: key[0], sender: key[1], recipient: key[2], ...value }));
}

/** The triplet filter a MATCH names; null when it names nothing sensible. */
export function greylistMatcher(config: Config, match: string): ((k: Triplet) => boolean) | null {
  const m = match.trim().toLowerCase();
  const [addr, bits] = m.split('/');
  if (addr && isIP(addr)) {
    const net = bits === undefined ? maskedNetwork(addr, config.greylisting.ipv4Prefix, config.greylisting.ipv6Prefix) : m;
    return (k) => k[0] === net;
  }
  if (m.includes('@')) return (k) => k[1] === m || k[2] === m;
  if (/^[a-z0-9.-]+$/.test(m) && m.includes('.')) return (k) => k[1].endsWith(`@${m}`) || k[2].endsWith(`@${m}`);
  return null;
}

export function releaseGreylist(st: StateEnvs, config: Config, match: (k: Triplet) => boolean): Promise<number> {
  return policyStores(st).greylist.release(match, config.greylisting.lifetimeMs);
}
