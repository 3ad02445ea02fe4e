/*
 * state/rate-counters.ts — fixed-window rate counters shared by every worker process, in the
 * cache environment (named db `ratelimit3`).
 *
 * A counter is [scope key, window ms, window number] → { messages, recipients, bytes }; all the
 * windows of one scope key live in one record (one read and one write per key per message, not
 * one per window). A request names several counters (client, sender, user, domain; each with several windows) and
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

/** One window of a scope key as stored: its length, when it ends (which names the window), its counts. */
interface StoredWindow {
  readonly windowMs: number;
  readonly counter: RateCounter;
}
type ScopeRecord = readonly StoredWindow[];

/** A record being counted inside a write transaction: decoded for it alone, so changed in place. */
type Counting = Array<{ windowMs: number; counter: { -readonly [U in keyof RateCounter]: RateCounter[U] } }>;

/**
 * A record is five float64 per window (window ms, ends, messages, recipients, bytes): decoding a
 * msgpack record was most of the cost of a read. Anything else stored under a key reads as no counter.
 */
function encodeRecord(windows: ScopeRecord): Buffer {
  const b = Buffer.allocUnsafe(40 * windows.length);
  windows.forEach((w, i) => {
    b.writeDoubleLE(w.windowMs, 40 * i);
    b.writeDoubleLE(w.counter.ends, 40 * i + 8);
    b.writeDoubleLE(w.counter.messages, 40 * i + 16);
    b.writeDoubleLE(w.counter.recipients, 40 * i + 24);
    b.writeDoubleLE(w.counter.bytes, 40 * i + 32);
  });
  return b;
}

function decodeRecord(b: Buffer | undefined): ScopeRecord {
  if (!b || b.length === 0 || b.length % 40 !== 0) return [];
  const out: StoredWindow[] = [];
  for (let o = 0; o < b.length; o += 40) {
    out.push({ windowMs: b.readDoubleLE(o), counter: { ends: b.readDoubleLE(o + 8), messages: b.readDoubleLE(o + 16), recipients: b.readDoubleLE(o + 24), bytes: b.readDoubleLE(o + 32) } });
  }
  return out;
}

/** When the window of `windowMs` that contains `now` ends (which names it). */
const windowEnd = (windowMs: number, now: number): number => (Math.floor(now / windowMs) + 1) * windowMs;

/** The counts of the window of `windowMs` that contains `now`, if the record has them. */
function counterAt(record: ScopeRecord, windowMs: number, now: number): RateCounter | undefined {
  const ends = windowEnd(windowMs, now);
  for (const w of record) if (w.windowMs === windowMs) return w.counter.ends === ends ? w.counter : undefined;
  return undefined;
}

/** The current window of `windowMs` in a record being counted, started (at zero) if missing or ended. */
function currentWindow(record: Counting, windowMs: number, now: number): Counting[number]['counter'] {
  const ends = windowEnd(windowMs, now);
  const w = record.find((x) => x.windowMs === windowMs);
  if (w) {
    if (w.counter.ends !== ends) w.counter = { ends, messages: 0, recipients: 0, bytes: 0 };
    return w.counter;
  }
  const counter = { ends, messages: 0, recipients: 0, bytes: 0 };
  record.push({ windowMs, counter });
  return counter;
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
  readonly #db: Database<Buffer, string>;

  constructor(env: RootDatabase, db: Database<Buffer, string>) {
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
    // Scope key → its record as this transaction leaves it (read once, changed in place, written once).
    const records = new Map<string, Counting>();
    const written = new Set<string>();
    let latest = 0;
    const out = this.#env.transactionSync(() => {
      const out = batch.map((b) => {
        latest = Math.max(latest, b.now);
        return this.#apply(b.requests, b.mode, b.now, records, written);
      });
      // Windows that ended are dropped as the record is written (nothing reads them again).
      for (const k of written) this.#db.putSync(k, encodeRecord(records.get(k)!.filter((w) => w.counter.ends > latest)));
      return out;
    });
    // What was just read and written is the exact count at this moment: peek() may use it for a while.
    const at = Date.now();
    for (const [k, r] of records) this.#remember(k, r, at);
    return out;
  }

  /**
   * One request inside the caller's write transaction: first every counter is checked (a request
   * may name the same counter twice: the units add up), then, unless all-or-nothing refuses,
   * added to in place; the keys changed go to `written`.
   */
  #apply(requests: readonly RateRequest[], mode: ConsumeMode, now: number, records: Map<string, Counting>, written: Set<string>): RateExceeded | null {
    let exceeded: RateExceeded | null = null;
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!;
      let record = records.get(r.key);
      if (!record) {
        record = decodeRecord(this.#db.getBinaryFast(r.key)) as Counting;
        records.set(r.key, record);
      }
      if (exceeded) continue;
      const prev = counterAt(record, r.windowMs, now);
      for (const unit of RATE_UNITS) {
        const add = r.add[unit] ?? 0;
        const limit = r.limits[unit];
        if (add <= 0 || limit === undefined) continue;
        let wouldBe = (prev?.[unit] ?? 0) + add;
        for (let j = 0; j < i; j++) {
          const e = requests[j]!;
          if (e.key === r.key && e.windowMs === r.windowMs) wouldBe += e.add[unit] ?? 0;
        }
        if (wouldBe > limit) {
          exceeded = { key: r.key, windowMs: r.windowMs, unit, limit, wouldBe };
          break;
        }
      }
    }
    if (exceeded && mode === 'all-or-nothing') return exceeded;
    for (const r of requests) {
      const c = currentWindow(records.get(r.key)!, r.windowMs, now);
      for (const unit of RATE_UNITS) c[unit] += r.add[unit] ?? 0;
      written.add(r.key);
    }
    return exceeded;
  }

  /**
   * peek()'s view of scope keys: key → the record last read or written by this process and when.
   * Only an early answer rides on it (the exact count is the write transaction after DATA), and
   * only while the counts are far from the limit: within VIEW_NEAR of a limit, or older than
   * VIEW_MS, peek() reads the store. One LMDB read per counter per command was a third of the
   * policy stage's cost in the daemon.
   */
  readonly #view = new Map<string, { record: ScopeRecord; at: number }>();

  #remember(key: string, record: ScopeRecord, at: number): void {
    if (this.#view.size >= VIEW_MAX) this.#view.clear();
    this.#view.set(key, { record, at });
  }

  #counter(r: RateRequest, now: number): RateCounter | undefined {
    const seen = this.#view.get(r.key);
    if (seen && now - seen.at < VIEW_MS) {
      const c = counterAt(seen.record, r.windowMs, now);
      if (farFromLimits(c, r)) return c;
    }
    const record = decodeRecord(this.#db.getBinaryFast(r.key));
    this.#remember(r.key, record, now);
    return counterAt(record, r.windowMs, now);
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
      const prev = this.#counter(r, now);
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
    return counterAt(decodeRecord(this.#db.getBinaryFast(key)), windowMs, now) ?? null;
  }

  /** Drop keys whose every window ended; bounded per call. */
  async sweep(now = Date.now(), limit = 50_000): Promise<number> {
    let removed = 0;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#db.getRange({ snapshot: false, limit })) {
        if (decodeRecord(value).every((w) => w.counter.ends <= now)) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }
}
