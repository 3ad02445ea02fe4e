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

/** `scope key \0 window ms \0 window number`: a string key, cheaper than an array key per get. */
type CounterKey = string;
const counterKey = (key: string, windowMs: number, bucket: number): CounterKey => `${key}\0${windowMs}\0${bucket}`;

/**
 * Stored as four float64 (messages, recipients, bytes, ends): decoding a msgpack record was most of
 * the cost of a read, and MAIL and RCPT read every counter of the client. Anything else stored
 * under a key (another format) reads as no counter.
 */
function encodeCounter(c: RateCounter): Buffer {
  const b = Buffer.allocUnsafe(32);
  b.writeDoubleLE(c.messages, 0);
  b.writeDoubleLE(c.recipients, 8);
  b.writeDoubleLE(c.bytes, 16);
  b.writeDoubleLE(c.ends, 24);
  return b;
}

function decodeCounter(b: Buffer | undefined): RateCounter | undefined {
  if (!b || b.length !== 32) return undefined;
  return { messages: b.readDoubleLE(0), recipients: b.readDoubleLE(8), bytes: b.readDoubleLE(16), ends: b.readDoubleLE(24) };
}
export type ConsumeMode = 'all-or-nothing' | 'always';

/** How long peek() trusts counts this process read or wrote, when they are far from the limit. */
const VIEW_MS = 1000;
/** "Far": this request would bring no limited unit above this share of its limit. */
const VIEW_NEAR = 0.5;
const VIEW_MAX = 10_000;

function farFromLimits(c: RateCounter | undefined, r: RateRequest): boolean {
  for (const unit of RATE_UNITS) {
    const limit = r.limits[unit];
    if (limit !== undefined && (c?.[unit] ?? 0) + (r.add[unit] ?? 0) > limit * VIEW_NEAR) return false;
  }
  return true;
}

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
  readonly #db: Database<Buffer, CounterKey>;

  constructor(env: RootDatabase, db: Database<Buffer, CounterKey>) {
    this.#env = env;
    this.#db = db;
  }

  /**
   * Check and count in one transaction. mode 'all-or-nothing' (inbound: refuse over limit):
   * when a counter would exceed its limit nothing is added. mode 'always' (outbound: hold, but
   * keep counting): everything is added either way. Returns the first limit exceeded, or null.
   */
  consume(requests: readonly RateRequest[], mode: ConsumeMode, now = Date.now()): RateExceeded | null {
    if (requests.length === 0) return null;
    return this.#commit([{ requests, mode, now }])[0]!;
  }

  /**
   * consume(), for the SMTP path: the requests of every session made in one event-loop turn share
   * one write transaction (a transaction per request made the workers queue for the
   * cross-process write lock). Each request is still checked and counted on its own, in order,
   * against the counts the earlier ones left: exact as before.
   */
  consumeBatched(requests: readonly RateRequest[], mode: ConsumeMode, now = Date.now()): Promise<RateExceeded | null> {
    if (requests.length === 0) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#queue.push({ requests, mode, now, resolve, reject });
      if (this.#queue.length === 1) setImmediate(() => this.#flush());
    });
  }

  #queue: Array<{ requests: readonly RateRequest[]; mode: ConsumeMode; now: number; resolve: (r: RateExceeded | null) => void; reject: (err: unknown) => void }> = [];

  #flush(): void {
    const batch = this.#queue.splice(0);
    let results: Array<RateExceeded | null>;
    try {
      results = this.#commit(batch);
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    batch.forEach((b, i) => b.resolve(results[i]!));
  }

  /** Requests applied in order in one write transaction; the first limit each exceeded, or null. */
  #commit(batch: ReadonlyArray<{ requests: readonly RateRequest[]; mode: ConsumeMode; now: number }>): Array<RateExceeded | null> {
    const pending = new Map<string, [CounterKey, RateCounter]>();
    const read = new Map<CounterKey, RateCounter | undefined>();
    const out = this.#env.transactionSync(() => {
      const out = batch.map((b) => this.#apply(b.requests, b.mode, b.now, pending, read));
      for (const [k, v] of pending.values()) this.#db.putSync(k, encodeCounter(v));
      return out;
    });
    // What was just read and written is the exact count at this moment: peek() may use it for a while.
    const at = Date.now();
    for (const [k, v] of read) this.#remember(k, v, at);
    for (const [k, v] of pending.values()) this.#remember(k, v, at);
    return out;
  }

  /**
   * peek()'s view of counters: key → the counts last read or written by this process and when.
   * Only an early answer rides on it (the exact count is the write transaction after DATA), and
   * only while the counts are far from the limit: within VIEW_NEAR of a limit, or older than
   * VIEW_MS, peek() reads the store. One LMDB read per counter per command was a third of the
   * policy stage's cost in the daemon.
   */
  readonly #view = new Map<CounterKey, { counter: RateCounter | undefined; at: number }>();

  #remember(key: CounterKey, counter: RateCounter | undefined, at: number): void {
    if (this.#view.size >= VIEW_MAX) this.#view.clear();
    this.#view.set(key, { counter, at });
  }

  #read(key: CounterKey, r: RateRequest, now: number): RateCounter | undefined {
    const seen = this.#view.get(key);
    if (seen && now - seen.at < VIEW_MS && farFromLimits(seen.counter, r)) return seen.counter;
    const counter = decodeCounter(this.#db.getBinaryFast(key));
    this.#remember(key, counter, now);
    return counter;
  }

  /** One request inside the caller's write transaction; what it adds goes to `pending`. */
  #apply(requests: readonly RateRequest[], mode: ConsumeMode, now: number, pending: Map<string, [CounterKey, RateCounter]>, read: Map<CounterKey, RateCounter | undefined>): RateExceeded | null {
    const next = new Map<string, [CounterKey, RateCounter]>();
    let exceeded: RateExceeded | null = null;
    for (const r of requests) {
      const bucket = Math.floor(now / r.windowMs);
      const key = counterKey(r.key, r.windowMs, bucket);
      const id = key;
      const prev = next.get(id)?.[1] ?? pending.get(id)?.[1] ?? this.#readInTxn(key, read) ?? { messages: 0, recipients: 0, bytes: 0, ends: (bucket + 1) * r.windowMs };
      const after = { ...prev };
      for (const unit of RATE_UNITS) {
        const add = r.add[unit] ?? 0;
        const limit = r.limits[unit];
        const wouldBe = prev[unit] + add;
        if (add > 0 && limit !== undefined && wouldBe > limit && !exceeded) exceeded = { key: r.key, windowMs: r.windowMs, unit, limit, wouldBe };
        after[unit] = wouldBe;
      }
      next.set(id, [key, after]);
    }
    if (exceeded && mode === 'all-or-nothing') return exceeded;
    for (const [id, kv] of next) pending.set(id, kv);
    return exceeded;
  }

  #readInTxn(key: CounterKey, read: Map<CounterKey, RateCounter | undefined>): RateCounter | undefined {
    if (read.has(key)) return read.get(key);
    const c = decodeCounter(this.#db.getBinaryFast(key));
    read.set(key, c);
    return c;
  }

  /**
   * Would `requests` fit? Read-only (no write lock, no transaction): the early answer at MAIL and
   * RCPT. The exact check-and-count is consume()/consumeBatched() once, after DATA; a burst that
   * races past this answer is refused there. Counts below half a limit may be up to VIEW_MS old
   * (this process's own counts are always current); nearer the limit the store is read.
   */
  peek(requests: readonly RateRequest[], now = Date.now()): RateExceeded | null {
    if (requests.length === 0) return null;
    // No resetReadTxn: lmdb-js renews the read snapshot every event turn, and a view one turn
    // old only moves a refusal from here to the exact count after DATA.
    for (const r of requests) {
      const prev = this.#read(counterKey(r.key, r.windowMs, Math.floor(now / r.windowMs)), r, now);
      for (const unit of RATE_UNITS) {
        const add = r.add[unit] ?? 0;
        const limit = r.limits[unit];
        const wouldBe = (prev?.[unit] ?? 0) + add;
        if (add > 0 && limit !== undefined && wouldBe > limit) return { key: r.key, windowMs: r.windowMs, unit, limit, wouldBe };
      }
    }
    return null;
  }

  /** The current window's counts of one key (for the CLI and tests). */
  current(key: string, windowMs: number, now = Date.now()): RateCounter | null {
    this.#env.resetReadTxn();
    return decodeCounter(this.#db.getBinaryFast(counterKey(key, windowMs, Math.floor(now / windowMs)))) ?? null;
  }

  /** Drop counters whose window ended; bounded per call. */
  async sweep(now = Date.now(), limit = 50_000): Promise<number> {
    let removed = 0;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#db.getRange({ snapshot: false, limit })) {
        const c = decodeCounter(value);
        if (!c || c.ends <= now) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }
}
