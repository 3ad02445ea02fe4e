/*
 * dns/cache.ts — a bounded in-memory answer cache with per-entry expiry and LRU eviction.
 *
 * key → cached answer (a value or a negative result) until its expiry time. Generic: knows nothing
 * about DNS record types; the resolver decides what is cached and for how long. It does not sweep
 * expired entries on a timer: they are dropped when read or pushed out by newer ones, which keeps
 * it free of timers and cheap (a Map keeps insertion order, so the first key is the least recently
 * used one once every hit re-inserts its key). Runs in every process that resolves names; each
 * process has its own cache (the shared LMDB cache environment is a later, separate layer).
 */

export type CachedAnswer =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly syscall: string; readonly hostname: string };

interface Slot {
  readonly answer: CachedAnswer;
  readonly expiresAt: number;
}

export class AnswerCache {
  readonly #max: number;
  readonly #now: () => number;
  readonly #slots = new Map<string, Slot>();

  constructor(maxEntries: number, now: () => number) {
    this.#max = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(key: string): CachedAnswer | undefined {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= this.#now()) {
      this.#slots.delete(key);
      return undefined;
    }
    // Re-insert so the Map's order stays least-recently-used first.
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return slot.answer;
  }

  set(key: string, answer: CachedAnswer, ttlMs: number): void {
    if (this.#max <= 0 || ttlMs <= 0) return;
    this.#slots.delete(key);
    this.#slots.set(key, { answer, expiresAt: this.#now() + ttlMs });
    while (this.#slots.size > this.#max) {
      const oldest = this.#slots.keys().next();
      if (oldest.done) break;
      this.#slots.delete(oldest.value);
    }
  }

  clear(): void {
    this.#slots.clear();
  }
}
