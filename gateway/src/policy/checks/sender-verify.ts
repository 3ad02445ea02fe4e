/*
 * policy/checks/sender-verify.ts — mail phase (`policy.senderVerification.enabled`, mx only):
 * the envelope sender's domain must be able to receive replies: an MX (not a null MX, RFC 7505)
 * or else an A/AAAA record (RFC 5321 §5.1 implicit MX). NXDOMAIN or nothing → 550 5.1.8; a DNS
 * failure (timeout, SERVFAIL) → 450 4.1.8 so a real sender retries (fail safe, never a guess).
 * The null sender <> and address literals are not checked. A global allow entry skips it.
 * Optional callout (`callout: true`): the first two mail hosts (by MX preference, first address
 * each) are asked with MAIL FROM:<> / RCPT TO:<sender>: 5xx → 550 5.1.7, no answer → 450 4.1.7;
 * answers are cached like recipient callouts (policy.recipientVerification TTLs).
 */
import type { Config } from '../../config/index.js';
import type { Decision } from '../../core/index.js';
import type { ResolveFn } from '../../dns/index.js';
import { accessVerdict } from '../access.js';
import { CalloutCache, probeHosts } from '../callout.js';
import { splitAddress } from '../address.js';
import { defineCheck, type PolicyContext } from '../check.js';
import { then, type Maybe } from '../maybe.js';
import { recentResults } from '../recent-results.js';

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

export type DomainMailability = 'ok' | 'nxdomain' | 'no-mail' | 'null-mx' | 'temperror';

export interface Mailability { readonly status: DomainMailability; readonly detail?: string; readonly hosts?: string[] }

export async function domainMailability(domain: string, resolve: ResolveFn): Promise<Mailability> {
  const negative = (err: unknown) => NEGATIVE.has((err as { code?: string }).code ?? '');
  try {
    const mx = await resolve(domain, 'MX');
    if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) return { status: 'null-mx' };
    if (mx.length > 0) return { status: 'ok', hosts: [...mx].sort((a, b) => a.priority - b.priority).map((m) => m.exchange.replace(/\.$/, '')) };
  } catch (err) {
    if (!negative(err)) return { status: 'temperror', detail: (err as { code?: string }).code ?? 'error' };
    if ((err as { code?: string }).code === 'ENOTFOUND') return { status: 'nxdomain' };
  }
  for (const rr of ['A', 'AAAA'] as const) {
    try {
      if ((await resolve(domain, rr)).length > 0) return { status: 'ok', hosts: [domain] };
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
  run(ctx): Maybe<Decision> {
    const { config, session, envelope, resolve } = ctx;
    if (!config.policy.senderVerification.enabled || session.kind !== 'mx' || envelope.mailFrom === '') return { action: 'accept' };
    const domain = splitAddress(envelope.mailFrom)?.domain;
    if (!domain || domain.startsWith('[')) return { action: 'accept' };
    return then(recentMailability.get(domain, () => domainMailability(domain, resolve)), (r) => {
      if (r.status === 'ok' && !config.policy.senderVerification.callout) return { action: 'accept' };
      return then(accessVerdict({ ...ctx, recipient: '' }), (v) => v.action === 'allow' ? { action: 'accept' } : refuseOrProbe(ctx, domain, r));
    });
  },
});

/** A sender domain's answer is reused for 30 s by this process (the resolver's cache still honours TTLs); a temperror is not kept. */
const recentMailability = recentResults<Mailability>({ ttlMs: 30_000, max: 20_000, keep: (r) => r.status !== 'temperror' });

async function refuseOrProbe({ config, envelope, resolve }: PolicyContext, domain: string, r: Mailability): Promise<Decision> {
  if (r.status === 'ok') {
    const addresses = await hostAddresses(r.hosts ?? [], resolve, config.policy.senderVerification.calloutPort);
    const cfg = config.policy.recipientVerification;
    const p = await senderCache(config).lookup(envelope.mailFrom.toLowerCase(), () => probeHosts(addresses, envelope.mailFrom, { helo: config.hostname, timeoutMs: cfg.timeoutMs }));
    if (p.status === 'accept') return { action: 'accept' };
    if (p.status === 'reject') return { action: 'reject', reply: 'SENDER_UNDELIVERABLE', detail: `<${envelope.mailFrom}>: ${p.reply}` };
    return { action: 'defer', reply: 'SENDER_CALLOUT_TEMPFAIL', detail: `<${envelope.mailFrom}>` };
  }
  if (r.status === 'temperror') return { action: 'defer', reply: 'SENDER_VERIFY_TEMPFAIL', detail: `<${envelope.mailFrom}>: ${domain}: ${r.detail ?? ''}` };
  const why = { nxdomain: 'no such domain', 'no-mail': 'no MX or A/AAAA record', 'null-mx': 'the domain accepts no mail (null MX)' }[r.status];
  return { action: 'reject', reply: 'SENDER_DOMAIN_UNKNOWN', detail: `<${envelope.mailFrom}>: ${domain}: ${why}` };
}

async function hostAddresses(hosts: readonly string[], resolve: ResolveFn, port: number): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts.slice(0, 2)) {
    for (const rr of ['A', 'AAAA'] as const) {
      try {
        const [ip] = await resolve(h, rr);
        if (ip) {
          out.push(`[${ip}]:${port}`);
          break;
        }
      } catch {
        // no address of this family: try the next
      }
    }
  }
  return out;
}

let cache: { cfg: Config['policy']['recipientVerification']; cache: CalloutCache } | null = null;

function senderCache(config: Config): CalloutCache {
  const cfg = config.policy.recipientVerification;
  if (!cache || cache.cfg !== cfg) {
    cache = { cfg, cache: new CalloutCache({ positiveTtlMs: cfg.positiveTtlMs, negativeTtlMs: cfg.negativeTtlMs, maxEntries: cfg.cacheMaxEntries }) };
  }
  return cache.cache;
}
