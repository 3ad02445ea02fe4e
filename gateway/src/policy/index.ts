/* policy/ — session-time checks at connect / helo / mail / rcpt → Decision + Hit[]. */
import type { Decision, SmtpPhase } from '../core/index.js';
import { runChecks, type Check, type PolicyContext } from './check.js';
import { CHECKS } from './checks/index.js';

export { defineCheck, runChecks, type Check, type PolicyContext } from './check.js';
export { splitAddress, hasSenderRouting } from './address.js';

const byPhase = new Map<SmtpPhase, Check[]>();
for (const c of CHECKS) byPhase.set(c.phase, [...(byPhase.get(c.phase) ?? []), c]);

export function checkPhase(phase: SmtpPhase, ctx: PolicyContext): Promise<Decision> {
  return runChecks(byPhase.get(phase) ?? [], ctx);
}
