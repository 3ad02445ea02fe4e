/*
 * content/spam/regexp-tier.ts — SpamAssassin's rule regexes as native code from the start.
 *
 * V8 (Node 20) first runs a regular expression in its bytecode interpreter and is meant to
 * compile it to native code once it runs again ("tier-up"). Measured on TRAIN, most rule regexes
 * never got there: a regex whose first runs are on short strings (a header, a paragraph, a
 * short body) kept running in the interpreter on every later message — __FILL_THIS_FORM_LONG2
 * cost 0.4–0.7 ms a message against ~0.06 ms as native code, and the rules as a whole ~25 % more
 * CPU. V8 compiles a regex to native code at once when its first run is on a string of at least
 * 1,000 characters; compileNow gives a regex that first run, on a string no rule depends on:
 * a rule regex just before its own first run (sa-rules.ts nativeCode — at load it cost ~1 s of
 * CPU and ~40 MB per process, also for the 45 % of them that never got past their prefilter on
 * the training mail), the fixed ones when their module loads. The answers are the same
 * (native code and bytecode come from one regex compiler; a unit test checks every rule regex
 * against the interpreter); only the time differs.
 *
 * (Turning V8's --regexp-tier-up off does the same for every regex of the process, but V8 flags
 * changed at run time are not safe — a test process that switched one crashed — and setting it
 * at start-up would mean a node option on every entry point.)
 */

/** 1,000 characters: V8 compiles a regex to native code at once on a subject this long. */
const FIRST_RUN = '\u0000'.repeat(1000);

/** Run re once on a long subject so V8 compiles it to native code now; returns re. */
export function compileNow(re: RegExp): RegExp {
  re.test(FIRST_RUN);
  re.lastIndex = 0;
  return re;
}

const compiled = new Map<string, RegExp>();

/**
 * One RegExp per (source, flags) for the fixed patterns built at run time (a rule's argument, a
 * MIME parameter name): compiled once per process (to native code, compileNow) instead of at
 * every call. Only for sources from a fixed set (not message text: the map would grow), and
 * never with the g or y flags (a shared lastIndex).
 */
export function fixedRegExp(source: string, flags = ''): RegExp {
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (re === undefined) {
    if (/[gy]/.test(flags)) throw new Error('fixedRegExp: no g or y flag (shared lastIndex)');
    re = compileNow(new RegExp(source, flags));
    compiled.set(key, re);
  }
  return re;
}
