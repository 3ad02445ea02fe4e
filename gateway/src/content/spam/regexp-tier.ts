/*
 * content/spam/regexp-tier.ts — run SpamAssassin's regexes as native code from their first use.
 *
 * V8 starts every regular expression in its bytecode interpreter and compiles it to native code
 * only after it "tiers up" (--regexp-tier-up, on by default). With ~1,900 rule regexes run on
 * every message, many of them large (the __FILL_THIS_FORM_* family is a 3.5 KB alternation
 * repeated five times), most executions measured on TRAIN still ran in the interpreter:
 * __FILL_THIS_FORM_LONG2 alone cost 0.4–0.7 ms a message there against ~0.06 ms as native code,
 * and the rules as a whole ~25 % more CPU. Turning tier-up off makes V8 compile a regex to native
 * code at its first execution: the same regex engine and the same answers (native code and
 * bytecode come from one compiler), only faster for regexes that run more than once — which is
 * every rule regex, on every message. The flag is process-wide; the rest of the gateway's
 * regexes are compiled once per process too, so nothing gets slower in measurable terms
 * (docs/benchmarks.md, "Where the time goes").
 *
 * v8.setFlagsFromString after start-up is allowed for this flag: V8 reads it at each regex
 * execution (Node keeps V8's flags writable).
 */
import { setFlagsFromString } from 'node:v8';

let done = false;

/** Compile regexes to native code at first use (once per process; later calls do nothing). */
export function nativeRegexpsFromFirstUse(): void {
  if (done) return;
  done = true;
  setFlagsFromString('--no-regexp-tier-up');
}

const compiled = new Map<string, RegExp>();

/**
 * One RegExp per (source, flags) for the fixed patterns built at run time (a rule's argument, a
 * MIME parameter name, the relay formats): compiled once per process instead of at every call.
 * Only for sources from a fixed set (not message text: the map would grow), and never with the
 * g or y flags (a shared lastIndex).
 */
export function fixedRegExp(source: string, flags = ''): RegExp {
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (re === undefined) {
    if (/[gy]/.test(flags)) throw new Error('fixedRegExp: no g or y flag (shared lastIndex)');
    re = new RegExp(source, flags);
    compiled.set(key, re);
  }
  return re;
}
