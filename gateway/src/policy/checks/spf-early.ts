/*
 * policy/checks/spf-early.ts — optional SPF reject at MAIL FROM (as Postfix's policyd-spf),
 * off by default (authentication.earlySpfReject).
 *
 * Only an SPF `fail` (the domain publishes `-all` and this host is not listed) is refused, with
 * 550 5.7.23 (RFC 7372) before any recipient or data is taken; `temperror` answers 451 4.7.0
 * (never pass or reject on a DNS failure); everything else is accepted and judged after DATA.
 * Trade-off: a rejected SPF fail is never seen by DMARC, so trusted forwarders and ARC cannot
 * rescue it (those are decided on the message). Inbound (mx) sessions only; the null sender is
 * checked against postmaster@HELO, as after DATA. The result is kept for the authentication
 * content check (content/checks/spf-memo.ts), so SPF is evaluated once per transaction.
 */
import type { Decision } from '../../core/index.js';
import { spfFor } from '../../content/checks/spf-memo.js';
import { defineCheck } from '../check.js';
import type { Maybe } from '../maybe.js';

export const spfEarly = defineCheck({
  name: 'spf_early',
  phase: 'mail',
  // SPF can chain 10 lookups, each with the dns deadline; a deadline here is 451 POLICY_TEMPFAIL.
  timeoutMs: 20_000,
  run({ config, session, envelope, resolve }): Maybe<Decision> {
    if (session.direction !== 'inbound' || !config.authentication.enabled || !config.authentication.earlySpfReject) return { action: 'accept' };
    return spfFor({ session, sender: envelope.mailFrom, mta: config.hostname, resolver: resolve as never }).then((spf): Decision => {
      const result = spf.status.result;
      const detail = `${spf.domain}: ${result}`;
      if (result === 'fail') return { action: 'reject', reply: 'SPF_REJECT', detail: spf.domain, hits: [{ name: 'SPF_FAIL', score: 0, detail }] };
      if (result === 'temperror') return { action: 'defer', reply: 'AUTH_TEMPFAIL', hits: [{ name: 'SPF_TEMPFAIL', score: 0, detail }] };
      return { action: 'accept' };
    });
  },
});
