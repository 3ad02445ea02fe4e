/*
 * content/checks/authentication.ts — SPF, DKIM, DMARC and ARC verification of inbound mail.
 *
 * Input: the spooled message, the client ip, HELO and envelope sender (never the Received
 * headers: trustReceived is off at the edge). Output: one hit per outcome (scores from
 * rules/scores/authentication.yaml), header edits (our Received-SPF and Authentication-Results
 * prepended; incoming Authentication-Results that claim our authserv-id removed, RFC 8601 §5)
 * and an AuthenticationOutcome whose dmarcPolicy is what the verdict should enforce after pct
 * (RFC 7489 §6.6.4) and the local overrides (trusted forwarders, trusted ARC sealers).
 * SPF or DMARC temperror → tempfail AUTH_TEMPFAIL (451 4.7.0): never pass or reject on a DNS
 * failure. Does not: verify outbound mail (it is ours), check BIMI, seal ARC, pick the action.
 * Every lookup goes through the process's one dns/ resolver, whose own deadline bounds each
 * query; timeoutMs bounds the whole check. Runs in receiver workers. Trusts nothing in the message.
 */
import { isIP } from 'node:net';
import type { AuthenticateResult } from 'mailauth';
import type { Config } from '../../config/index.js';
import type { AuthenticationOutcome, HeaderEdit, Hit } from '../../core/index.js';
import { inNetworks, networkList } from '../../core/index.js';
import type { CheckOutcome, ContentCheck, ContentContext } from '../index.js';

import { authenticateMessage } from './authenticate.js';
import { spfFor } from './spf-memo.js';

/** Every symbol this check emits; rules/scores/authentication.yaml must score exactly these. */
export const AUTHENTICATION_SYMBOLS = [
  'SPF_ALLOW', 'SPF_FAIL', 'SPF_SOFTFAIL', 'SPF_NEUTRAL', 'SPF_NONE', 'SPF_TEMPFAIL', 'SPF_PERMFAIL',
  'DKIM_ALLOW', 'DKIM_REJECT', 'DKIM_PERMFAIL', 'DKIM_NONE', 'DKIM_TEMPFAIL', 'DKIM_WEAK_ALGORITHM',
  'DMARC_ALLOW', 'DMARC_REJECT_POLICY', 'DMARC_QUARANTINE_POLICY', 'DMARC_NONE_POLICY', 'DMARC_NA',
  'DMARC_TEMPFAIL', 'DMARC_PERMFAIL', 'DMARC_POLICY_OVERRIDDEN', 'DMARC_PCT_SKIPPED',
  'ARC_ALLOW', 'ARC_REJECT', 'ARC_NA',
  // scanContent's name for this check missing its deadline or throwing.
  'AUTHENTICATION_TEMPFAIL',
] as const;

export type AuthenticationSymbol = (typeof AUTHENTICATION_SYMBOLS)[number];

const SPF_SYMBOL: Record<string, AuthenticationSymbol> = {
  pass: 'SPF_ALLOW', fail: 'SPF_FAIL', softfail: 'SPF_SOFTFAIL', neutral: 'SPF_NEUTRAL', none: 'SPF_NONE',
  temperror: 'SPF_TEMPFAIL', permerror: 'SPF_PERMFAIL',
};

const DKIM_SYMBOL: Record<string, AuthenticationSymbol> = {
  pass: 'DKIM_ALLOW', fail: 'DKIM_REJECT', temperror: 'DKIM_TEMPFAIL', none: 'DKIM_NONE',
  // neutral (no key, expired, bad syntax), policy (weak key), permerror: unusable, not proof of forgery.
  neutral: 'DKIM_PERMFAIL', policy: 'DKIM_PERMFAIL', permerror: 'DKIM_PERMFAIL',
};

/** SPF can chain 10 lookups (RFC 7208 §4.6.4), DKIM and DMARC follow; each lookup has its own dns deadline. */
const TIMEOUT_MS = 20_000;

export const authentication: ContentCheck = {
  name: 'authentication',
  timeoutMs: TIMEOUT_MS,
  tempfailReply: 'AUTH_TEMPFAIL',
  async run(ctx): Promise<Hit[] | CheckOutcome> {
    if (ctx.session.direction !== 'inbound' || !ctx.config.authentication.enabled) return [];
    const resolver = (name: string, rrtype: string) => ctx.resolve(name, rrtype) as Promise<string[][] | string[]>;
    // The SPF result of the early check at MAIL FROM when it ran for this transaction.
    const spf = await spfFor({ session: ctx.session, sender: ctx.envelope.mailFrom, mta: ctx.config.hostname, resolver });
    // mailauth's authenticate() steps, with rsa-sha1 and key h= corrections before DMARC.
    const res = await authenticateMessage(ctx.message.openBody(), {
      ip: ctx.session.clientIp,
      helo: ctx.session.helo,
      sender: ctx.envelope.mailFrom,
      mta: ctx.config.hostname,
      resolver,
      spf,
    });
    return evaluate(res, ctx, Math.random);
  },
};

/**
 * mailauth's result → hits, header edits and what DMARC asks for. Separate from run() so tests
 * can feed a fixed random source for pct.
 */
export function evaluate(res: AuthenticateResult, ctx: Pick<ContentContext, 'config' | 'session' | 'scores'>, random: () => number): CheckOutcome {
  const scores = ctx.scores.authentication;
  const hits: Hit[] = [];

  const spfResult = res.spf ? res.spf.status.result : 'none';
  hits.push(scores.hit(SPF_SYMBOL[spfResult] ?? 'SPF_PERMFAIL', res.spf ? `${res.spf.domain}: ${spfResult}` : 'not checked'));

  const sigs = res.dkim?.results ?? [];
  const dkimWords = sigs.map((r) => r.status.result);
  if (sigs.length === 0 || sigs.every((r) => r.status.result === 'none')) hits.push(scores.hit('DKIM_NONE'));
  else {
    // One hit per outcome, naming every signature that had it (as Rspamd's R_DKIM_*).
    const byOutcome = new Map<AuthenticationSymbol, string[]>();
    for (const r of sigs) {
      // mailauth says neutral for a body hash mismatch; that is a changed or forged message
      // (RFC 6376 §6.1.3), so it counts as a reject like a bad signature, not as "unusable".
      const sym = r.status.result === 'neutral' && r.status.comment === 'body hash did not verify'
        ? 'DKIM_REJECT'
        // rsa-sha1 (RFC 8301), demoted by authenticateMessage: its own symbol, so it shows in traces.
        : r.status.result === 'policy' && r.status.policy?.['dkim-rules'] === 'weak-algorithm'
          ? 'DKIM_WEAK_ALGORITHM' : DKIM_SYMBOL[r.status.result] ?? 'DKIM_PERMFAIL';
      byOutcome.set(sym, [...(byOutcome.get(sym) ?? []), `${r.signingDomain}${r.selector ? `:s=${r.selector}` : ''}`]);
    }
    for (const [sym, who] of byOutcome) hits.push(scores.hit(sym, who.join(' ')));
  }

  const arcResult = res.arc ? res.arc.status.result : 'none';
  const sealer = res.arc && res.arc.signature ? res.arc.signature.signingDomain.toLowerCase() : null;
  hits.push(scores.hit(arcResult === 'pass' ? 'ARC_ALLOW' : arcResult === 'fail' ? 'ARC_REJECT' : 'ARC_NA', sealer ?? undefined));

  const dmarc = res.dmarc || null;
  const dmarcResult = dmarc ? dmarc.status.result : 'none';
  const fromDomain = dmarc ? dmarc.domain : null;
  let dmarcPolicy: 'reject' | 'quarantine' | null = null;
  if (!dmarc || dmarcResult === 'none') hits.push(scores.hit('DMARC_NA'));
  else if (dmarcResult === 'pass') hits.push(scores.hit('DMARC_ALLOW', dmarc.domain));
  else if (dmarcResult === 'temperror') hits.push(scores.hit('DMARC_TEMPFAIL', dmarc.domain));
  else if (dmarcResult !== 'fail') hits.push(scores.hit('DMARC_PERMFAIL', dmarc.domain));
  else {
    const policy = dmarc.policy === 'reject' || dmarc.policy === 'quarantine' ? dmarc.policy : 'none';
    hits.push(scores.hit(policy === 'reject' ? 'DMARC_REJECT_POLICY' : policy === 'quarantine' ? 'DMARC_QUARANTINE_POLICY' : 'DMARC_NONE_POLICY', `${dmarc.domain} p=${policy}`));
    let applied: 'reject' | 'quarantine' | null = policy === 'none' ? null : policy;
    // RFC 7489 §6.6.4: a message not selected by pct gets the next policy down.
    const pct = dmarc.pct === undefined ? 100 : Number(dmarc.pct);
    if (applied && Number.isFinite(pct) && pct < 100 && random() * 100 >= pct) {
      hits.push(scores.hit('DMARC_PCT_SKIPPED', `pct=${pct}`));
      applied = applied === 'reject' ? 'quarantine' : null;
    }
    const override = applied ? overriddenBy(ctx.config, ctx.session.clientIp, res, arcResult, sealer) : null;
    if (override) {
      hits.push(scores.hit('DMARC_POLICY_OVERRIDDEN', override));
      applied = null;
    }
    dmarcPolicy = applied;
  }

  const outcome: AuthenticationOutcome = {
    spf: spfResult, dkim: dkimWords.length > 0 ? dkimWords.join(',') : 'none', dmarc: dmarcResult, arc: arcResult,
    fromDomain, dmarcPolicy,
  };
  const headerEdits: HeaderEdit[] = [
    // RFC 8601 §5: an incoming result claiming to be ours is a forgery; drop it before adding ours.
    { op: 'remove', name: 'Authentication-Results', match: { authservId: ctx.config.hostname } },
    ...splitHeaders(res.headers),
  ];
  const tempfail = spfResult === 'temperror' || dmarcResult === 'temperror';
  return { hits, headerEdits, authentication: outcome, ...(tempfail ? { tempfail: 'AUTH_TEMPFAIL' as const } : {}) };
}

/** Why a DMARC fail is not enforced, or null. Forwarders match by address or by a verified domain. */
function overriddenBy(config: Config, ip: string, res: AuthenticateResult, arcResult: string, sealer: string | null): string | null {
  const o = config.authentication.overrides;
  if (arcResult === 'pass' && sealer && o.trustedArcSealers.some((d) => inDomain(sealer, d))) return `trusted ARC sealer ${sealer}`;
  if (o.trustedForwarders.length === 0) return null;
  if (inNetworks(networkList(o.trustedForwarders), ip)) return `trusted forwarder ${ip}`;
  const verified = [
    ...(res.spf && res.spf.status.result === 'pass' && res.spf.domain ? [res.spf.domain.toLowerCase()] : []),
    ...(res.dkim?.results ?? []).filter((r) => r.status.result === 'pass').map((r) => r.signingDomain.toLowerCase()),
  ];
  for (const entry of o.trustedForwarders) {
    if (isIP(entry.split('/')[0]!)) continue;
    const who = verified.find((d) => inDomain(d, entry));
    if (who) return `trusted forwarder ${who}`;
  }
  return null;
}

function inDomain(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

/** mailauth's ready "Name: value\r\n" block → prepend edits, folding kept, CRLF line ends. */
export function splitHeaders(block: string): HeaderEdit[] {
  return block.replace(/\r?\n/g, '\r\n').split(/\r\n(?![ \t])/).filter((f) => f.trim() !== '').map((f) => {
    const colon = f.indexOf(':');
    return { op: 'prepend' as const, name: f.slice(0, colon).trim(), value: f.slice(colon + 1).replace(/^[ \t]+/, '') };
  });
}
