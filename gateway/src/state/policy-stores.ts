/*
 * state/policy-stores.ts — the typed stores of session policy (reputation, greylist, rate
 * counters), each its own named database in the rebuildable cache environment (cache.lmdb,
 * noSync: losing them after a crash costs a few greylist retries, never mail). Opened once per
 * process and StateEnvs (memoised), so callers just ask for them.
 */
import type { StateEnvs } from './envs.js';
import { GreylistStore, type GreylistEntry, type Triplet } from './greylist.js';
import { RateCounterStore } from './rate-counters.js';
import { ReputationStore, type ReputationRecord } from './reputation.js';

export interface PolicyStores {
  readonly reputation: ReputationStore;
  readonly greylist: GreylistStore;
  readonly rates: RateCounterStore;
}

const opened = new WeakMap<StateEnvs, PolicyStores>();

export function policyStores(st: StateEnvs): PolicyStores {
  let s = opened.get(st);
  if (!s) {
    const rep = st.cache.openDB<ReputationRecord, string>('reputation', { encoding: 'msgpack' });
    const grey = st.cache.openDB<GreylistEntry, Triplet>('greylist', { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
    // 'ratelimit3': one binary record of every window per scope key ('ratelimit2' had one per
    // window, the first format msgpack under array keys; counters restart on upgrade).
    const rates = st.cache.openDB<Buffer, string>('ratelimit3', { encoding: 'binary' });
    s = { reputation: new ReputationStore(st.cache, rep), greylist: new GreylistStore(st.cache, grey), rates: new RateCounterStore(st.cache, rates) };
    opened.set(st, s);
    const reputation = s.reputation;
    st.onClose(() => reputation.flush());
  }
  return s;
}

/** The periodic sweep of all three (the primary calls it with the trace sweep). */
export async function sweepPolicyStores(st: StateEnvs, halfLifeMs: number, now = Date.now()): Promise<{ reputation: number; greylist: number; rates: number }> {
  const s = policyStores(st);
  return { reputation: await s.reputation.sweep(halfLifeMs, now), greylist: await s.greylist.sweep(now), rates: await s.rates.sweep(now) };
}
