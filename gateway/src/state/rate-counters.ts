/*
 * state/rate-counters.ts — fixed-window rate counters shared by every worker process, in the
 * cache environment (named db `ratelimit`).
 *
 * A counter is [scope key, window ms, window number] → { messages, recipients, bytes }. A
 * request names several counters (client, sender, user, domain; each with several windows) and
 * how much to add; the check and the addition happen in ONE LMDB write transaction
 * (transactionSync: the environment's write lock is held across processes), so under any
 * concurrency exactly `limit` units fit in a window. Windows are aligned to the epoch (fixed,
 * not sliding: a burst across a boundary may reach twice the limit, as with Postfix anvil's
 * time unit). A sweep drops counters of windows that ended. Runs in every process.
 */
import type { Database, RootDatabase } from 'lmdb';

export const RATE_UNITS = ['messages', 'recipients', 'bytes'] as const;
export type RateUnit = (typeof RATE_UNITS)[number];
export type RateAmounts = Partial<Record<RateUnit, number>>;

export interface RateCounter {
  readonly messages: number;
  readonly recipients: number;
  readonly bytes: number;
  /** Epoch ms the window ends (for the sweep). */
  readonly ends: number;
}

type CounterKey = [string, number, number];

export interface RateRequest {
  /** e.g. 'ip:192.0.2.7', 'from:a@example.com', 'user:alice@example.com', 'domain:example.com'. */
  readonly key: string;
  readonly windowMs: number;
  readonly limits: RateAmounts;
  readonly add: RateAmounts;
}

export interface RateExceeded {
  readonly key: string;
  readonly windowMs: number;
  readonly unit: RateUnit;
  readonly limit: number;
  /** The count the window would have reached. */
  readonly wouldBe: number;
}

export class RateCounterStore {
  readonly #env: RootDatabase;
  readonly #db: Database<RateCounter, CounterKey>;

  constructor(env: RootDatabase, db: Database<RateCounter, CounterKey>) {
    this.#env = env;
    this.#db = db;
  }

  /**
   * Check and count in one transaction. mode 'all-or-nothing' (inbound: refuse over limit):
   * when a counter would exceed its limit nothing is added. mode 'always' (outbound: hold, but
   * keep counting): everything is added either way. Returns the first limit exceeded, or null.
   */
  consume(requests: readonly RateRequest[], mode: 'all-or-nothing' | 'always', now = Date.now()): RateExceeded | null {
    if (requests.length === 0) return null;
    return this.#env.transactionSync(() => {
      const next: Array<[CounterKey, RateCounter]> = [];
      let exceeded: RateExceeded | null = null;
      for (const r of requests) {
        const bucket = Math.floor(now / r.windowMs);
        const key: CounterKey = [r.key, r.windowMs, bucket];
        const prev = next.find(([k]) => k[0] === key[0] && k[1] === key[1])?.[1] ?? this.#db.get(key) ?? { messages: 0, recipients: 0, bytes: 0, ends: (bucket + 1) * r.windowMs };
        const after = { ...prev };
        for (const unit of RATE_UNITS) {
          const add = r.add[unit] ?? 0;
          const limit = r.limits[unit];
          const wouldBe = prev[unit] + add;
          if (add > 0 && limit !== undefined && wouldBe > limit && !exceeded) exceeded = { key: r.key, windowMs: r.windowMs, unit, limit, wouldBe };
          after[unit] = wouldBe;
        }
        next.push([key, after]);
      }
      if (exceeded && mode === 'all-or-nothing') return exceeded;
      for (const [k, v] of next) this.#db.putSync(k, v);
      return exceeded;
    });
  }

  /** The current window's counts of one key (for the CLI and tests). */
  current(key: string, windowMs: number, now = Date.now()): RateCounter | null {
    this.#env.resetReadTxn();
    return this.#db.get([key, windowMs, Math.floor(now / windowMs)]) ?? null;
  }

  /** Drop counters whose window ended; bounded per call. */
  async sweep(now = Date.now(), limit = 50_000): Promise<number> {
    let removed = 0;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#db.getRange({ snapshot: false, limit })) {
        if (value.ends <= now) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }
}
