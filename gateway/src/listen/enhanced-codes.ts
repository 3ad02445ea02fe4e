/*
 * listen/enhanced-codes.ts — let our reply table choose the RFC 3463 enhanced code.
 *
 * smtp-server adds an enhanced code it guesses from the basic code (every 550 at RCPT becomes
 * 5.1.1), and it has no per-error option. Our replies carry their own code at the start of the
 * text (core/replies.ts), so for those lines we tell send() to add none. Every other reply keeps
 * smtp-server's behaviour. Installed once per process, before any server starts.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

export function useOwnEnhancedCodes(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as { send(code: number, data: unknown, context?: unknown): void };
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data: unknown, context?: unknown) {
    if (typeof data === 'string' && ENHANCED.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
}
