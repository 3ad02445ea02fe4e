/*
 * policy/checks/sender-verify.ts — mail phase (`policy.senderVerification.enabled`, mx only):
 * the envelope sender's domain must be able to receive replies: an MX (not a null MX, RFC 7505)
 * or else an A/AAAA record (RFC 5321 §5.1 implicit MX). NXDOMAIN or nothing → 550 5.1.8; a DNS
 * failure (timeout, SERVFAIL) → 450 4.1.8 so a real sender retries (fail safe, never a guess).
 * The null sender <> and address literals are not checked. A global allow entry skips it.
 */
import type { Decision } from '../../core/index.js';
import type { ResolveFn } from '../../dns/index.js';
import { accessVerdict } from '../access.js';
import { splitAddress } from '../address.js';
import { defineCheck } from '../check.js';

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

export type DomainMailability = 'ok' | 'nxdomain' | 'no-mail' | 'null-mx' | 'temperror';

export async function domainMailability(domain: string, resolve: ResolveFn): Promise<{ status: DomainMailability; detail?: string }> {
  const negative = (err: unknown) => NEGATIVE.has((err as { code?: string }).code ?? '');
  try {
    const mx = await resolve(domain, 'MX');
    if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) return { status: 'null-mx' };
    if (mx.length > 0) return { status: 'ok' };
  } catch (err) {
    if (!negative(err)) return { status: 'temperror', detail: (err as { code?: string }).code ?? 'error' };
    if ((err as { code?: string }).code === 'ENOTFOUND') return { status: 'nxdomain' };
  }
  for (const rr of ['A', 'AAAA'] as const) {
    try {
      if ((await resolve(domain, rr)).length > 0) return { status: 'ok' };
    } catch (err) {
      if (!negative(err)) return { status: 'temperror', detail: (err as { code?: string }).code ?? 'error' };
    }
  }
  return { status: 'no-mail' };
}

export const senderVerify = defineCheck({
  name: 'sender_verify',
  phase: 'mail',
  // Above the resolver's own deadline (timeoutMs × tries × servers), so a DNS timeout is
  // answered 450 4.1.8 by this check rather than the generic policy tempfail.
  timeoutMs: 60_000,
  async run(ctx): Promise<Decision> {
    const { config, session, envelope, resolve } = ctx;
    if (!config.policy.senderVerification.enabled || session.kind !== 'mx' || envelope.mailFrom === '') return { action: 'accept' };
    const domain = splitAddress(envelope.mailFrom)?.domain;
    if (!domain || domain.startsWith('[')) return { action: 'accept' };
    const r = await domainMailability(domain, resolve);
    if (r.status === 'ok') return { action: 'accept' };
    if ((await accessVerdict({ ...ctx, recipient: '' })).action === 'allow') return { action: 'accept' };
    if (r.status === 'temperror') return { action: 'defer', reply: 'SENDER_VERIFY_TEMPFAIL', detail: `<${envelope.mailFrom}>: ${domain}: ${r.detail ?? ''}` };
    const why = { nxdomain: 'no such domain', 'no-mail': 'no MX or A/AAAA record', 'null-mx': 'the domain accepts no mail (null MX)' }[r.status];
    return { action: 'reject', reply: 'SENDER_DOMAIN_UNKNOWN', detail: `<${envelope.mailFrom}>: ${domain}: ${why}` };
  },
});
