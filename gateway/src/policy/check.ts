/*
 * policy/check.ts — what a session-time check is, and how a phase's checks are run.
 *
 * A check is one file that declares itself with defineCheck({ name, phase, timeoutMs, run }).
 * Every check of a phase runs (none wins by answering first); the most severe decision is
 * returned (reject > defer > accept) with all hits collected. A check that throws or misses its
 * deadline cannot decide: the phase answers 4xx POLICY_TEMPFAIL with a <NAME>_TEMPFAIL hit,
 * never accepts (ARCHITECTURE contract 3). Runs in receiver workers.
 */
import type { Config } from '../config/index.js';
import type { ResolveFn } from '../dns/index.js';
import { SMTP_PHASES, type Decision, type Envelope, type Hit, type Session, type SmtpPhase } from '../core/index.js';
import type { StateEnvs } from '../state/index.js';
import { isPromise } from './maybe.js';

export interface PolicyContext {
  readonly config: Config;
  readonly session: Session;
  readonly envelope: Envelope;
  /** The recipient being checked (rcpt phase only). */
  readonly recipient?: string;
  /** The process's one dns/ resolver (shared cache); every check's DNS goes through it. */
  readonly resolve: ResolveFn;
  /** The shared LMDB environments (reputation, greylist and rate counters live in the cache one); absent in some unit tests. */
  readonly state?: StateEnvs;
}

export interface Check {
  readonly name: string;
  readonly phase: SmtpPhase;
  readonly timeoutMs: number;
  run(ctx: PolicyContext): Decision | Hit[] | Promise<Decision | Hit[]>;
}

export function defineCheck(check: Check): Check {
  if (!SMTP_PHASES.includes(check.phase)) throw new Error(`check ${check.name}: unknown phase ${String(check.phase)}`);
  if (!/^[a-z][a-z0-9_]*$/.test(check.name)) throw new Error(`check name ${check.name} must be lower_snake`);
  return Object.freeze(check);
}

const SEVERITY = { accept: 0, defer: 1, reject: 2 } as const;

export async function runChecks(checks: readonly Check[], ctx: PolicyContext): Promise<Decision> {
  if (checks.length === 0) return ACCEPT;
  const results: Array<Decision | Hit[] | Promise<Decision | Hit[]>> = new Array(checks.length);
  let waits = false;
  for (let i = 0; i < checks.length; i++) {
    const r = runOne(checks[i]!, ctx);
    results[i] = r;
    waits ||= isPromise(r);
  }
  const settled = waits ? await Promise.all(results) : results as Array<Decision | Hit[]>;
  const hits: Hit[] = [];
  let worst: Decision = ACCEPT;
  for (const r of settled) {
    if (Array.isArray(r)) {
      for (const h of r) hits.push(h);
      continue;
    }
    if (r.hits) for (const h of r.hits) hits.push(h);
    if (SEVERITY[r.action] > SEVERITY[worst.action]) worst = r;
  }
  return { ...worst, hits };
}

const ACCEPT: Decision = Object.freeze({ action: 'accept' });

function tempfail(check: Check, detail: string): Decision {
  return { action: 'defer', reply: 'POLICY_TEMPFAIL', hits: [{ name: `${check.name.toUpperCase()}_TEMPFAIL`, score: 0, detail }] };
}

/**
 * One check with its deadline. Most checks answer synchronously (memory, LMDB, a memoised
 * look-up: policy/maybe.ts): they need no timer, and arming and clearing one per check per
 * command was a measurable share of the receivers' CPU. An asynchronous answer races the
 * check's deadline.
 */
function runOne(check: Check, ctx: PolicyContext): Decision | Hit[] | Promise<Decision | Hit[]> {
  let out: Decision | Hit[] | Promise<Decision | Hit[]>;
  try {
    out = check.run(ctx);
  } catch (err) {
    return tempfail(check, (err as Error).message);
  }
  if (!isPromise(out)) return out;
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    out,
    new Promise<Decision>((resolve) => {
      timer = setTimeout(() => resolve(tempfail(check, `no answer within ${check.timeoutMs} ms`)), check.timeoutMs);
    }),
  ]).catch((err: unknown) => tempfail(check, (err as Error).message)).finally(() => clearTimeout(timer));
}
