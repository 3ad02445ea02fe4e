/*
 * policy/recent-results.ts — a per-process memo of look-up results by client (DNSBL sums,
 * forward-confirmed reverse DNS): a client that connects again soon, as most MTAs do, costs no
 * look-up at all, not even a cached one. Kept for `ttlMs` (postscreen keeps DNSBL results an
 * hour; 30 s here), at most `max` keys (cleared when full), and a result `keep` refuses (a failed
 * look-up) or a rejected promise is dropped so the next session asks again.
 */
import { isPromise, memoSlot, type Maybe } from './maybe.js';

export interface RecentResults<T> {
  /** The kept result (synchronously once known), or a new look-up. */
  get(key: string, lookup: () => Maybe<T>, now?: number): Maybe<T>;
}

export function recentResults<T>(opts: { ttlMs: number; max: number; keep: (result: T) => boolean }): RecentResults<T> {
  const results = new Map<string, { until: number; result: { get(): Maybe<T> } }>();
  return {
    get(key, lookup, now = Date.now()) {
      const hit = results.get(key);
      if (hit && hit.until > now) return hit.result.get();
      if (results.size >= opts.max) results.clear();
      const slot = memoSlot(lookup());
      const entry = { until: now + opts.ttlMs, result: slot };
      results.set(key, entry);
      const drop = () => { if (results.get(key) === entry) results.delete(key); };
      const result = slot.get();
      if (isPromise(result)) result.then((r) => { if (!opts.keep(r)) drop(); }, drop);
      else if (!opts.keep(result)) drop();
      return result;
    },
  };
}
