/* policy/ — session-time checks at connect / helo / mail / rcpt → Decision + Hit[]. */
import type { Decision, SmtpPhase } from '../core/index.js';
import { runChecks, type Check, type PolicyContext } from './check.js';
import { CHECKS } from './checks/index.js';
import { recordPhase } from './session-state.js';

export { defineCheck, runChecks, type Check, type PolicyContext } from './check.js';
export { splitAddress, hasSenderRouting } from './address.js';
export { policyHits, isAllowListed } from './session-state.js';
export { accessVerdict, type AccessVerdict } from './access.js';
export { BareNewlineDetector } from './smuggling.js';
export { policyScores, POLICY_SYMBOLS } from './scores.js';

const byPhase = new Map<SmtpPhase, Check[]>();
for (const c of CHECKS) byPhase.set(c.phase, [...(byPhase.get(c.phase) ?? []), c]);

export async function checkPhase(phase: SmtpPhase, ctx: PolicyContext): Promise<Decision> {
  const d = await runChecks(byPhase.get(phase) ?? [], ctx);
  recordPhase(ctx.session, phase, d);
  return d;
}
