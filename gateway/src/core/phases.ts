/*
 * core/phases.ts — the one list of SMTP phases and of queue/log events (house style §9).
 * A check or listener registering under a name outside these lists fails at start-up.
 */
export const SMTP_PHASES = ['connect', 'helo', 'auth', 'mail', 'rcpt', 'data', 'eod'] as const;
export type SmtpPhase = (typeof SMTP_PHASES)[number];

export const LOG_EVENTS = [
  'connect', 'reject', 'queued', 'verdict', 'delivered', 'deferred', 'bounced', 'expired',
  'removed', 'held', 'released', 'corrupt', 'disconnect', 'warning',
  // quarantine (gateway/src/quarantine/) and postmaster alerts (a virus from an internal sender)
  'quarantined', 'alert', 'learned',
  // daemon lifecycle
  'startup', 'listening', 'reload', 'shutdown',
] as const;
export type LogEvent = (typeof LOG_EVENTS)[number];
