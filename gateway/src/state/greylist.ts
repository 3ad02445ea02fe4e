/*
 * state/greylist.ts — greylisting triplets (client network, envelope sender, recipient) in the
 * cache environment (named db `greylist`).
 *
 * The first attempt of a triplet creates it (passAfter = now + delay, expires = passAfter +
 * retry window) and is told to come back; a retry before passAfter is refused again; a retry
 * between passAfter and expires passes and turns the triplet into a known one that lives for
 * `lifetime` from its last use (postgrey's auto-allow). An entry past `expires` starts over.
 * Each decision is one transaction, so two workers seeing the same retry agree. Runs in every process.
 */
import type { Database, RootDatabase } from 'lmdb';

export interface GreylistEntry {
  /** Epoch ms of the first attempt. */
  readonly first: number;
  readonly passAfter: number;
  readonly expires: number;
  /** True once a retry came in time (or the postmaster released it). */
  readonly passed: boolean;
  /** Attempts seen while pending (first one included). */
  readonly attempts: number;
}

export type Triplet = [network: string, sender: string, recipient: string];

export interface GreylistTimes {
  readonly delayMs: number;
  readonly retryWindowMs: number;
  readonly lifetimeMs: number;
}

/** new: first sight, come back later; early: retried before the delay; passed: retried in time; known: passed before. */
export type GreylistResult = 'new' | 'early' | 'passed' | 'known';

export class GreylistStore {
  readonly #env: RootDatabase;
  readonly #db: Database<GreylistEntry, Triplet>;

  constructor(env: RootDatabase, db: Database<GreylistEntry, Triplet>) {
    this.#env = env;
    this.#db = db;
  }

  static triplet(network: string, sender: string, recipient: string): Triplet {
    // <> is stored as '<>': ordered-binary keys cannot hold an empty string element usefully.
    return [network, sender === '' ? '<>' : sender.toLowerCase(), recipient.toLowerCase()];
  }

  /**
   * When known triplets this process read or wrote expire. Nothing ever shortens a passed
   * triplet's life (a use extends it; release and the sweep touch only pending or expired ones),
   * so an expiry remembered here is at most too early: "known and fresh" from it is exact.
   */
  readonly #knownUntil = new Map<string, number>();

  #remember(id: string, e: GreylistEntry): void {
    if (!e.passed) return;
    if (this.#knownUntil.size >= 10_000) this.#knownUntil.clear();
    this.#knownUntil.set(id, e.expires);
  }

  /** Judge several triplets (one per recipient) in one transaction; each result in order. */
  check(triplets: readonly Triplet[], t: GreylistTimes, now = Date.now()): GreylistResult[] {
    // The common case, a known triplet refreshed within the last hour, needs no write transaction.
    // Never one that has expired (a lifetime under an hour): #judge would start it over, and the
    // sweep may already have removed it from the store.
    const freshFrom = Math.max(now, now + t.lifetimeMs - 3600_000);
    const fresh = (k: Triplet) => {
      const id = k.join('\0');
      if ((this.#knownUntil.get(id) ?? -Infinity) >= freshFrom) return true;
      const e = this.#db.get(k);
      if (e) this.#remember(id, e);
      return e !== undefined && e.passed && e.expires >= freshFrom;
    };
    if (triplets.every(fresh)) return triplets.map(() => 'known');
    return this.#env.transactionSync(() => triplets.map((k) => this.#judge(k, t, now)));
  }

  #judge(k: Triplet, t: GreylistTimes, now: number): GreylistResult {
    const e = this.#db.get(k);
    if (!e || now > e.expires) {
      this.#db.putSync(k, { first: now, passAfter: now + t.delayMs, expires: now + t.delayMs + t.retryWindowMs, passed: false, attempts: 1 });
      return 'new';
    }
    if (e.passed) {
      const refreshed = { ...e, expires: now + t.lifetimeMs };
      this.#db.putSync(k, refreshed);
      this.#remember(k.join('\0'), refreshed);
      return 'known';
    }
    if (now < e.passAfter) {
      this.#db.putSync(k, { ...e, attempts: e.attempts + 1 });
      return 'early';
    }
    const passed = { ...e, passed: true, attempts: e.attempts + 1, expires: now + t.lifetimeMs };
    this.#db.putSync(k, passed);
    this.#remember(k.join('\0'), passed);
    return 'passed';
  }

  list(limit = 1000): Array<{ key: Triplet; value: GreylistEntry }> {
    this.#env.resetReadTxn();
    const out: Array<{ key: Triplet; value: GreylistEntry }> = [];
    for (const { key, value } of this.#db.getRange({ snapshot: false, limit })) out.push({ key: key as Triplet, value });
    return out;
  }

  /**
   * Let pending triplets pass at once: those whose network, sender or recipient equals `match`
   * (or whose sender/recipient domain does). Returns how many were released.
   */
  async release(match: (k: Triplet) => boolean, lifetimeMs: number, now = Date.now()): Promise<number> {
    let n = 0;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#db.getRange({ snapshot: false })) {
        const k = key as Triplet;
        if (value.passed || now > value.expires || !match(k)) continue;
        this.#db.putSync(k, { ...value, passed: true, expires: now + lifetimeMs });
        n++;
      }
    });
    return n;
  }

  /** Drop expired triplets; bounded per call. */
  async sweep(now = Date.now(), limit = 20_000): Promise<number> {
    let removed = 0;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#db.getRange({ snapshot: false, limit })) {
        if (now > value.expires) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }
}
