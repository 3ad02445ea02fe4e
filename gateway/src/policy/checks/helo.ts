/*
 * policy/checks/helo.ts — helo phase (run at MAIL FROM, when the HELO is final, as Postfix does
 * with smtpd_delay_reject), mx listeners only. HELO_INVALID: the argument is neither a hostname
 * with a dot nor a valid address literal (a bare IP included); HELO_OURS: our own hostname, one
 * of our relay domains or a listener's address. Each is `reject`, `score` or `off`
 * (policy.hygiene.heloInvalid / heloOurs). A global access-list allow entry skips the check.
 */
import { isIP } from 'node:net';
import type { Config } from '../../config/index.js';
import type { Decision, Hit } from '../../core/index.js';
import { accessVerdict } from '../access.js';
import { defineCheck } from '../check.js';
import { then, type Maybe } from '../maybe.js';
import { policyScores } from '../scores.js';

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

/** null: fine; else what is wrong. */
export function heloProblem(helo: string): string | null {
  if (helo === '') return 'empty';
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(helo);
  if (literal) return isIP(literal[1]!) ? null : 'bad address literal';
  if (isIP(helo)) return 'bare IP address';
  if (!HOSTNAME.test(helo)) return 'not a fully-qualified hostname';
  if (/^\d+$/.test(helo.split('.').pop() ?? '')) return 'numeric top-level label';
  return null;
}

export function heloIsOurs(helo: string, ours: { hostname: string; domains: readonly string[]; addresses: readonly string[] }): boolean {
  const h = helo.toLowerCase().replace(/\.$/, '');
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(h)?.[1] ?? (isIP(h) ? h : null);
  if (literal) return ours.addresses.includes(literal);
  return h === ours.hostname.toLowerCase() || ours.domains.includes(h);
}

/** Most clients greet with the same name every time: its judgement is kept (bounded). */
const problems = new Map<string, string | null>();
function recentProblem(name: string): string | null {
  let p = problems.get(name);
  if (p === undefined) {
    p = heloProblem(name);
    if (problems.size >= 10_000) problems.clear();
    problems.set(name, p);
  }
  return p;
}

const ours = new WeakMap<Config, { hostname: string; domains: readonly string[]; addresses: readonly string[] }>();
function oursOf(config: Config): { hostname: string; domains: readonly string[]; addresses: readonly string[] } {
  let o = ours.get(config);
  if (!o) {
    o = { hostname: config.hostname, domains: Object.keys(config.domains), addresses: Object.values(config.listeners).map((l) => l.address).filter((a) => a !== '0.0.0.0' && a !== '::') };
    ours.set(config, o);
  }
  return o;
}

export const helo = defineCheck({
  name: 'helo',
  phase: 'helo',
  timeoutMs: 15_000,
  run(ctx): Maybe<Decision> {
    const { config, session } = ctx;
    const cfg = config.policy.hygiene;
    if (session.kind !== 'mx' || (cfg.heloInvalid === 'off' && cfg.heloOurs === 'off')) return { action: 'accept' };
    const hits: Hit[] = [];
    let reject: Decision | null = null;
    const problem = cfg.heloInvalid === 'off' ? null : recentProblem(session.helo);
    if (problem) {
      hits.push(policyScores().hit('HELO_INVALID', `${session.helo || '(none)'}: ${problem}`));
      if (cfg.heloInvalid === 'reject') reject = { action: 'reject', reply: 'HELO_INVALID', detail: `<${session.helo}>: ${problem}` };
    }
    if (cfg.heloOurs !== 'off' && heloIsOurs(session.helo, oursOf(config))) {
      hits.push(policyScores().hit('HELO_OURS', session.helo));
      if (cfg.heloOurs === 'reject') reject ??= { action: 'reject', reply: 'HELO_OURS', detail: `<${session.helo}>` };
    }
    if (!reject) return { action: 'accept', hits };
    const refusal = reject;
    return then(accessVerdict({ ...ctx, recipient: '' }), (v): Decision => v.action === 'allow' ? { action: 'accept', hits } : { ...refusal, hits });
  },
});
