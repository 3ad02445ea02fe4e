/*
 * policy/checks/sender-access.ts — mail phase: a trusted-only listener refuses untrusted
 * clients before any recipient (530 AUTH_REQUIRED), a requireTls listener refuses cleartext,
 * and the envelope sender must be <> or an address with a domain.
 */
import type { Decision } from '../../core/index.js';
import { defineCheck } from '../check.js';
import { splitAddress } from '../address.js';

export const senderAccess = defineCheck({
  name: 'sender_access',
  phase: 'mail',
  timeoutMs: 1000,
  run({ config, session, envelope }): Decision {
    const listener = config.listeners[session.listener];
    if (listener?.requireTls && session.tls === null) return { action: 'reject', reply: 'ENCRYPTION_REQUIRED' };
    if (session.kind !== 'mx' && session.trustedBy === null) return { action: 'reject', reply: 'AUTH_REQUIRED' };
    if (envelope.mailFrom !== '' && !splitAddress(envelope.mailFrom)) return { action: 'reject', reply: 'BAD_SENDER_SYNTAX' };
    return { action: 'accept' };
  },
});
