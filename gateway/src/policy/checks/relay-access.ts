/*
 * policy/checks/relay-access.ts — no open relay, by construction (ARCHITECTURE contract 4).
 * rcpt phase. mx (untrusted): only our relay domains, and no sender-specified routing.
 * submission/relay: only a session that earned trust (AUTH, client certificate or trusted
 * network) may send anywhere; smtp-server already refuses MAIL on submission without AUTH.
 */
import type { Decision } from '../../core/index.js';
import { defineCheck } from '../check.js';
import { hasSenderRouting, splitAddress } from '../address.js';

export const relayAccess = defineCheck({
  name: 'relay_access',
  phase: 'rcpt',
  timeoutMs: 1000,
  run({ config, session, recipient }): Decision {
    // RFC 5321 §4.5.1: "postmaster" without a domain must be accepted (listen/ maps it).
    if (recipient?.toLowerCase() === 'postmaster') return { action: 'accept' };
    const parsed = splitAddress(recipient ?? '');
    if (!parsed) return { action: 'reject', reply: 'BAD_RECIPIENT_SYNTAX' };
    const ours = Object.hasOwn(config.domains, parsed.domain);
    if (session.kind === 'mx') {
      if (!ours) return { action: 'reject', reply: 'RELAY_DENIED', detail: `<${recipient}>` };
      if (hasSenderRouting(parsed.local)) return { action: 'reject', reply: 'RELAY_DENIED', detail: `<${recipient}>: sender-specified routing` };
      return { action: 'accept' };
    }
    if (session.trustedBy === null) return { action: 'reject', reply: 'RELAY_DENIED', detail: `<${recipient}>` };
    if (ours && hasSenderRouting(parsed.local)) return { action: 'reject', reply: 'BAD_RECIPIENT_SYNTAX', detail: `<${recipient}>` };
    return { action: 'accept' };
  },
});
