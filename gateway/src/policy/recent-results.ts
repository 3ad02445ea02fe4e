/*
 * policy/recent-results.ts — a per-process memo of look-up results by client (DNSBL sums,
 * forward-confirmed reverse DNS): a client that connects again soon, as most MTAs do, costs no
 * look-up at all, not even a cached one. Kept for `ttlMs` (postscreen keeps DNSBL results an
 * hour; 30 s here), at most `max` keys (cleared when full), and a result `keep` refuses (a failed
 * look-up) or a rejected promise is dropped so the next session asks again.
 */
export interface RecentResults<T> {
  get(key: string, lookup: () => Promise<T>, now?: number): Promise<T>;
}

export function recentResults<T>(opts: { ttlMs: number; max: number; keep: (result: T) => boolean }): RecentResults<T> {
  const results = new Map<string, { until: number; result: Promise<T> }>();
  return {
    get(key, lookup, now = Date.now()) {
      const hit = results.get(key);
      if (hit && hit.until > now) return hit.result;
      if (results.size >= opts.max) results.clear();
      const result = lookup();
      results.set(key, { until: now + opts.ttlMs, result });
      void result.then((r) => { if (!opts.keep(r)) results.delete(key); }, () => results.delete(key));
      return result;
    },
  };
}
