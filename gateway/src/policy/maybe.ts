/*
 * policy/maybe.ts — values that are usually already known: a check whose inputs are memoised
 * answers synchronously, and only a real look-up makes it asynchronous. A promise per check per
 * command (and the deadline timer runChecks arms for it) was a visible share of a receiver's
 * CPU in the daemon, while nearly every answer came from a memo.
 */
export type Maybe<T> = T | Promise<T>;

export function isPromise<T>(v: Maybe<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** f(v) now when v is known, else once it is. */
export function then<T, R>(v: Maybe<T>, f: (value: T) => Maybe<R>): Maybe<R> {
  return isPromise(v) ? v.then(f) : f(v);
}

/** A memo slot: the promise until it settles, then (when it resolved) its value. */
class Settling<T> {
  #value: { v: T } | null = null;
  readonly #promise: Promise<T>;

  constructor(promise: Promise<T>) {
    this.#promise = promise;
    promise.then((v) => { this.#value = { v }; }, () => undefined);
  }

  get(): Maybe<T> {
    return this.#value ? this.#value.v : this.#promise;
  }
}

/** A memo slot for what `fn` gives: kept as is when known, as a Settling when a promise. */
export function memoSlot<T>(v: Maybe<T>): { get(): Maybe<T> } {
  return isPromise(v) ? new Settling(v) : { get: () => v };
}
