/* policy/checks/index.ts — the ordered list of session-time checks. A new check: one file, one line. */
import type { Check } from '../check.js';
import { relayAccess } from './relay-access.js';
import { senderAccess } from './sender-access.js';
import { spfEarly } from './spf-early.js';

export const CHECKS: readonly Check[] = [senderAccess, relayAccess, spfEarly];
