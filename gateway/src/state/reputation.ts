/*
 * state/reputation.ts — time-decayed reputation counts per client network, envelope sender
 * domain and DKIM-aligned domain, in the rebuildable cache environment (named db `reputation`).
 *
 * Each key holds five counters (ham, spam, virus, reject, authfail) and the time they were last
 * brought up to date. Counts decay exponentially with a half-life (default 7 days): what a
 * network did last month hardly matters, what it did this morning does. A read decays on the fly;
 * a write decays, adds and stores in one transaction, so concurrent workers never lose an update.
 * Keys: 'ip:192.0.2.0/24', 'from:example.com', 'dkim:example.com'. A sweep drops keys whose
 * decayed total fell under 0.05 (nothing left worth knowing). Runs in every process.
 */
import type { Database, RootDatabase } from 'lmdb';

export const REPUTATION_KINDS = ['ham', 'spam', 'virus', 'reject', 'authfail'] as const;
export type ReputationKind = (typeof REPUTATION_KINDS)[number];
export type ReputationCounts = Record<ReputationKind, number>;

export interface ReputationRecord {
  readonly counts: ReputationCounts;
  /** Epoch ms the counts were decayed to. */
  readonly at: number;
  /** Epoch ms of the first event (kept across decay; shown by `reputation show`). */
  readonly since: number;
}

export type ReputationScope = 'ip' | 'from' | 'dkim';

export const zeroCounts = (): ReputationCounts => ({ ham: 0, spam: 0, virus: 0, reject: 0, authfail: 0 });

/** counts × 2^(−elapsed / halfLife). Pure. */
export function decay(counts: ReputationCounts, elapsedMs: number, halfLifeMs: number): ReputationCounts {
  const f = elapsedMs <= 0 ? 1 : 2 ** (-elapsedMs / halfLifeMs);
  const out = zeroCounts();
  for (const k of REPUTATION_KINDS) out[k] = counts[k] * f;
  return out;
}

export function total(c: ReputationCounts): number {
  return REPUTATION_KINDS.reduce((s, k) => s + c[k], 0);
}

export type ReputationClass = 'good' | 'neutral' | 'bad' | 'unknown';

/**
 * The judgement: fewer than minSamples (decayed) events → unknown. Otherwise the share of bad
 * events, weighting a virus twice and a session reject or an authentication failure half:
 * ≤ goodBelow → good, ≥ badAbove → bad, between → neutral. Pure.
 */
export function classify(c: ReputationCounts, opts: { minSamples: number; goodBelow: number; badAbove: number }): { cls: ReputationClass; badShare: number } {
  const bad = c.spam + 2 * c.virus + 0.5 * c.reject + 0.5 * c.authfail;
  const weight = bad + c.ham;
  if (total(c) < opts.minSamples || weight === 0) return { cls: 'unknown', badShare: weight === 0 ? 0 : bad / weight };
  const badShare = bad / weight;
  return { cls: badShare <= opts.goodBelow ? 'good' : badShare >= opts.badAbove ? 'bad' : 'neutral', badShare };
}

export class ReputationStore {
  readonly #env: RootDatabase;
  readonly #db: Database<ReputationRecord, string>;

  constructor(env: RootDatabase, db: Database<ReputationRecord, string>) {
    this.#env = env;
    this.#db = db;
  }

  static key(scope: ReputationScope, id: string): string {
    return `${scope}:${id.toLowerCase()}`;
  }

  /** The counts decayed to `now`, or null when nothing is known. */
  get(key: string, halfLifeMs: number, now = Date.now()): ReputationRecord | null {
    const r = this.#db.get(key);
    if (!r) return null;
    return { counts: decay(r.counts, now - r.at, halfLifeMs), at: now, since: r.since };
  }

  /**
   * Add events to several keys (a verdict touches ip, from and dkim at once). Events are batched
   * per process and written every FLUSH_MS (or at MAX_BATCH) in one short synchronous
   * transaction: a write transaction per message made every worker wait for the cross-process
   * write lock, which an asynchronous transaction holds until its process's event loop gets to
   * the callback. Counts stay exact (each event is applied in order, at its own time); what is
   * lost in a crash is at most FLUSH_MS of learning in a rebuildable cache. The promise resolves
   * once the batch is committed.
   */
  record(events: ReadonlyArray<{ key: string; kind: ReputationKind; n?: number }>, halfLifeMs: number, now = Date.now()): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      this.#pending.push({ events, halfLifeMs, now, resolve, reject });
    });
    if (this.#pending.length >= ReputationStore.MAX_BATCH) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), ReputationStore.FLUSH_MS);
    return done;
  }

  static readonly FLUSH_MS = 50;
  static readonly MAX_BATCH = 256;
  #pending: Array<{ events: ReadonlyArray<{ key: string; kind: ReputationKind; n?: number }>; halfLifeMs: number; now: number; resolve: () => void; reject: (err: unknown) => void }> = [];
  #timer: NodeJS.Timeout | null = null;

  /** Write the batched events now (also before the process exits). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return;
    try {
      this.#env.transactionSync(() => {
        const touched = new Map<string, ReputationRecord>();
        for (const b of batch) {
          for (const e of b.events) {
            const seen = touched.get(e.key);
            const before = seen
              ? { counts: decay(seen.counts, b.now - seen.at, b.halfLifeMs), since: seen.since }
              : this.get(e.key, b.halfLifeMs, b.now) ?? { counts: zeroCounts(), since: b.now };
            const counts = { ...before.counts, [e.kind]: before.counts[e.kind] + (e.n ?? 1) };
            touched.set(e.key, { counts, at: b.now, since: before.since });
          }
        }
        for (const [k, v] of touched) this.#db.putSync(k, v);
      });
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const b of batch) b.resolve();
  }

  async reset(key: string): Promise<boolean> {
    return this.#db.remove(key);
  }

  /** Keys starting with `prefix` (e.g. 'ip:192.0.2.'), at most `limit`. */
  list(prefix: string, limit = 1000): Array<{ key: string; value: ReputationRecord }> {
    this.#env.resetReadTxn();
    const out: Array<{ key: string; value: ReputationRecord }> = [];
    for (const { key, value } of this.#db.getRange({ start: prefix, snapshot: false })) {
      if (!key.startsWith(prefix) || out.length >= limit) break;
      out.push({ key, value });
    }
    return out;
  }

  /** Drop keys with (almost) nothing left after decay; bounded per call. */
  async sweep(halfLifeMs: number, now = Date.now(), limit = 20_000): Promise<number> {
    let removed = 0;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#db.getRange({ snapshot: false, limit })) {
        if (total(decay(value.counts, now - value.at, halfLifeMs)) < 0.05) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }
}
