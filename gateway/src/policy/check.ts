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

export interface PolicyContext {
  readonly config: Config;
  readonly session: Session;
  readonly envelope: Envelope;
  /** The recipient being checked (rcpt phase only). */
  readonly recipient?: string;
  /** The process's one dns/ resolver (shared cache and deadlines). */
  readonly resolve: ResolveFn;
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
  if (checks.length === 0) return { action: 'accept' };
  const results = await Promise.all(checks.map((c) => runOne(c, ctx)));
  const hits: Hit[] = [];
  let worst: Decision = { action: 'accept' };
  for (const r of results) {
    if (Array.isArray(r)) {
      hits.push(...r);
      continue;
    }
    if (r.hits) hits.push(...r.hits);
    if (SEVERITY[r.action] > SEVERITY[worst.action]) worst = r;
  }
  return { ...worst, hits };
}

async function runOne(check: Check, ctx: PolicyContext): Promise<Decision | Hit[]> {
  let timer: NodeJS.Timeout | undefined;
  const tempfail = (detail: string): Decision => ({
    action: 'defer', reply: 'POLICY_TEMPFAIL',
    hits: [{ name: `${check.name.toUpperCase()}_TEMPFAIL`, score: 0, detail }],
  });
  try {
    return await Promise.race([
      Promise.resolve().then(() => check.run(ctx)),
      new Promise<Decision>((resolve) => {
        timer = setTimeout(() => resolve(tempfail(`no answer within ${check.timeoutMs} ms`)), check.timeoutMs);
      }),
    ]);
  } catch (err) {
    return tempfail((err as Error).message);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
