/*
 * deliver/pool.ts — outgoing session slots: a global and a per-destination limit, and a small cache
 * of idle sessions per destination for reuse (Postfix's connection cache, scache(8)).
 *
 * acquire(destination) → a lease: an idle session to reuse, or permission to open one; release()
 * gives the session back (parked idle, handed to a waiter, or closed). A slot is held by every
 * open session, busy or idle, so `max` bounds sockets, not just deliveries; when the global limit
 * is the only thing in the way, the least recently used idle session of another destination is
 * closed to make room. Waiters are served first-come, skipping those whose destination is full, so
 * one slow destination cannot block the others. Idle sessions are closed after IDLE_MS by one
 * coarse sweep timer (house style §12), and never reused after MAX_AGE_MS. Generic: knows nothing
 * about SMTP. Runs in the primary (delivery).
 */

/** Postfix smtp_connection_cache_time_limit: 2 s; an idle session is only worth keeping for a burst. */
export const IDLE_MS = 2_000;
/** Postfix smtp_connection_reuse_time_limit: 300 s, so a long-lived session cannot hide a changed route. */
export const MAX_AGE_MS = 300_000;

export interface Poolable {
  /** False once the peer or a timeout closed it. */
  readonly usable: boolean;
  readonly openedAt: number;
  close(): void;
}

export interface Lease<S> {
  readonly destination: string;
  /** An idle session to reuse, or null: open a new one under this lease's slot. */
  readonly session: S | null;
}

export interface PoolLimits {
  readonly max: number;
  readonly perDestination: number;
}

export interface PoolOptions {
  readonly idleMs?: number;
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

export interface PoolStats {
  readonly open: number;
  readonly idle: number;
  readonly waiting: number;
}

interface Parked<S> {
  readonly session: S;
  readonly since: number;
}

interface Dest<S> {
  open: number;
  /** Most recently parked last; reused from the end so the oldest ones age out. */
  readonly idle: Parked<S>[];
}

interface Waiter<S> {
  readonly destination: string;
  readonly resolve: (lease: Lease<S>) => void;
  readonly reject: (err: Error) => void;
}

export class PoolClosedError extends Error {
  readonly code = 'EPOOLCLOSED';
  constructor() {
    super('delivery is shutting down');
    this.name = 'PoolClosedError';
  }
}

export class SessionPool<S extends Poolable> {
  readonly #limits: PoolLimits;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #dests = new Map<string, Dest<S>>();
  #waiters: Waiter<S>[] = [];
  #open = 0;
  #sweeper: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(limits: PoolLimits, opts: PoolOptions = {}) {
    this.#limits = limits;
    this.#idleMs = opts.idleMs ?? IDLE_MS;
    this.#maxAgeMs = opts.maxAgeMs ?? MAX_AGE_MS;
    this.#now = opts.now ?? Date.now;
  }

  acquire(destination: string): Promise<Lease<S>> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    const lease = this.#tryAcquire(destination);
    if (lease) return Promise.resolve(lease);
    return new Promise((resolve, reject) => this.#waiters.push({ destination, resolve, reject }));
  }

  /** Return a lease; pass the session if it may be reused, null if it is gone or broken. */
  release(lease: Lease<S>, session: S | null): void {
    const d = this.#dest(lease.destination);
    if (session && session.usable && !this.#closed && this.#now() - session.openedAt < this.#maxAgeMs) {
      const i = this.#waiters.findIndex((w) => w.destination === lease.destination);
      const waiter = i >= 0 ? this.#waiters.splice(i, 1)[0] : undefined;
      if (waiter) {
        waiter.resolve({ destination: lease.destination, session });
        return;
      }
      d.idle.push({ session, since: this.#now() });
      this.#armSweeper();
      this.#pump();
      return;
    }
    session?.close();
    this.#freeSlot(d);
    this.#forgetIfEmpty(lease.destination, d);
    this.#pump();
  }

  stats(): PoolStats {
    let idle = 0;
    for (const d of this.#dests.values()) idle += d.idle.length;
    return { open: this.#open, idle, waiting: this.#waiters.length };
  }

  /** Close idle sessions and refuse new leases; sessions in use are closed when released. */
  close(): void {
    this.#closed = true;
    for (const d of this.#dests.values()) {
      for (const p of d.idle.splice(0)) {
        p.session.close();
        this.#freeSlot(d);
      }
    }
    for (const w of this.#waiters.splice(0)) w.reject(new PoolClosedError());
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }

  #tryAcquire(destination: string): Lease<S> | null {
    const d = this.#dest(destination);
    for (let p = d.idle.pop(); p; p = d.idle.pop()) {
      if (this.#fresh(p)) return { destination, session: p.session };
      p.session.close();
      this.#freeSlot(d);
    }
    if (d.open >= this.#limits.perDestination) return null;
    if (this.#open >= this.#limits.max && !this.#evictOtherIdle(destination)) return null;
    d.open++;
    this.#open++;
    return { destination, session: null };
  }

  #fresh(p: Parked<S>): boolean {
    const now = this.#now();
    return p.session.usable && now - p.since < this.#idleMs && now - p.session.openedAt < this.#maxAgeMs;
  }

  /** Close the least recently used idle session of another destination; false if there is none. */
  #evictOtherIdle(except: string): boolean {
    let oldest: { name: string; d: Dest<S>; since: number } | null = null;
    for (const [name, d] of this.#dests) {
      const first = d.idle[0];
      if (name !== except && first && (!oldest || first.since < oldest.since)) oldest = { name, d, since: first.since };
    }
    if (!oldest) return false;
    oldest.d.idle.shift()?.session.close();
    this.#freeSlot(oldest.d);
    this.#forgetIfEmpty(oldest.name, oldest.d);
    return true;
  }

  #pump(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter<S>[] = [];
    for (const w of this.#waiters) {
      const lease = this.#tryAcquire(w.destination);
      if (lease) w.resolve(lease);
      else still.push(w);
    }
    this.#waiters = still;
  }

  #dest(name: string): Dest<S> {
    let d = this.#dests.get(name);
    if (!d) {
      d = { open: 0, idle: [] };
      this.#dests.set(name, d);
    }
    return d;
  }

  #freeSlot(d: Dest<S>): void {
    d.open--;
    this.#open--;
  }

  /** Forget a destination with nothing open, so the map does not grow with every domain seen. */
  #forgetIfEmpty(name: string, d: Dest<S>): void {
    if (d.open <= 0 && d.idle.length === 0 && this.#dests.get(name) === d) this.#dests.delete(name);
  }

  #armSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(250, Math.floor(this.#idleMs / 2)));
    this.#sweeper.unref();
  }

  #sweep(): void {
    let left = 0;
    for (const [name, d] of [...this.#dests]) {
      const keep = d.idle.filter((p) => this.#fresh(p));
      for (const p of d.idle) {
        if (!keep.includes(p)) {
          p.session.close();
          this.#freeSlot(d);
        }
      }
      d.idle.splice(0, d.idle.length, ...keep);
      this.#forgetIfEmpty(name, d);
      left += keep.length;
    }
    if (left === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
    this.#pump();
  }
}
