/*
 * deliver/smtp-reply.ts — reading remote SMTP replies into delivery outcomes (status, RFC 3463 code,
 * Postfix-style explanation).
 *
 * reply text → 'delivered' | 'deferred' | 'bounced' and an X.Y.Z code. Pure functions; no I/O.
 * The remote's enhanced code is kept when it agrees with the basic code's class (a "550 4.1.1" is
 * read as 5.1.1: the basic code decides, RFC 3463 §2), otherwise X.0.0 is used. Texts follow
 * Postfix ("host X said: ... (in reply to RCPT TO command)") so operators can read our log
 * like theirs. Runs in the primary (delivery).
 */
import type { DeliveryOutcome } from '../core/index.js';

export type OutcomeStatus = DeliveryOutcome['status'];

/** Status for a basic reply code: 2xx delivered, 5xx bounced, anything else deferred. */
export function statusOfCode(code: number): OutcomeStatus {
  if (code >= 200 && code < 300) return 'delivered';
  if (code >= 500 && code < 600) return 'bounced';
  return 'deferred';
}

/** Basic code at the start of a reply, or 0. */
export function basicCode(reply: string): number {
  const m = /^([2-5]\d\d)(?:[ -]|$)/.exec(reply);
  return m?.[1] ? Number(m[1]) : 0;
}

/** The reply's enhanced code if it matches the basic code's class, else "<class>.0.0". */
export function enhancedCode(reply: string, code = basicCode(reply)): string {
  const cls = code >= 200 && code < 600 ? String(code).charAt(0) : '4';
  const m = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reply);
  if (m && m[1] === cls) return `${m[1]}.${m[2]}.${m[3]}`;
  return `${cls}.0.0`;
}

/** A permanent code made temporary, for failures we retry anyway (e.g. a 5xx greeting, Postfix smtp_skip_5xx_greeting). */
export function soften(dsn: string): string {
  return dsn.startsWith('5.') ? `4.${dsn.slice(2)}` : dsn;
}

/** Multi-line replies as one log-safe line; each line keeps its code, as Postfix logs them. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** "host mx.example[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)". */
export function remoteSaid(hostAndIp: string, reply: string, command?: string): string {
  const tail = command ? ` (in reply to ${command} command)` : '';
  return `host ${hostAndIp} said: ${oneLine(reply)}${tail}`;
}

/** The outcome a remote reply gives one recipient. */
export function outcomeFromReply(recipient: string, relay: string, hostAndIp: string, reply: string, command: string | undefined): DeliveryOutcome {
  const code = basicCode(reply);
  // 503 is "bad sequence of commands": our session's state, not a verdict on the recipient.
  if (code === 0 || code === 503) {
    return { recipient, status: 'deferred', dsn: soften(enhancedCode(reply, code)), response: remoteSaid(hostAndIp, reply, command), relay };
  }
  return { recipient, status: statusOfCode(code), dsn: enhancedCode(reply, code), response: remoteSaid(hostAndIp, reply, command), relay };
}
