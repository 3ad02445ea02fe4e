/*
 * log/ — pino, one JSON line per event (ARCHITECTURE "Logging").
 *
 * Lines go to stdout: under systemd that is the journal, from which rsyslog exports RFC 5424
 * (appliance/). Every line about a message carries `qid`; lines before a queue id exists carry
 * `qid: null` (Postfix's NOQUEUE). Secrets are redacted by path; bodies are never logged.
 */
import { hostname } from 'node:os';
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogEvent } from '../core/index.js';

export type Logger = PinoLogger;

export function createLogger(opts: { level: string; role: string; destination?: number | string }): Logger {
  return pino({
    level: opts.level,
    base: { pid: process.pid, hostname: hostname(), role: opts.role },
    // Numeric epoch time: pino-syslog (syslog export) requires it (libraries.md §0 item 8).
    timestamp: pino.stdTimeFunctions.epochTime,
    redact: { paths: ['password', '*.password', 'auth.password', 'token', '*.token'], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  }, destination(opts.destination ?? 1));
}

/**
 * Buffer up to 8 KiB of log lines per write, flushed at least every 250 ms and at exit: one
 * write per line was the receiver's second largest CPU cost (a syscall per connect, queued and
 * disconnect line). The durable record of a message is its trace in LMDB, not the log.
 */
function destination(dest: number | string) {
  const stream = pino.destination({ dest, sync: false, minLength: 8 * 1024 });
  const timer = setInterval(() => stream.flush(), 250);
  timer.unref();
  return stream;
}

/** Log one mail-flow event; `event` is from the fixed list in core/phases.ts. */
export function logEvent(log: Logger, event: LogEvent, fields: Record<string, unknown>, msg?: string): void {
  log.info({ event, ...fields }, msg ?? event);
}
