/*
 * process/systemd.ts — readiness, status and watchdog for systemd (Type=notify, NotifyAccess=all).
 *
 * Uses the systemd-notify package (it spawns the systemd-notify CLI) for READY/STATUS, and the
 * CLI directly for WATCHDOG=1, which the package cannot send (libraries.md §0 item 9). Outside
 * systemd (no NOTIFY_SOCKET) every call is a no-op. A failure is logged, never fatal.
 * Runs in the primary process.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from '../log/index.js';

type NotifyFn = (opts: { ready?: boolean; status?: string; pid?: number }) => Promise<unknown>;
const require = createRequire(import.meta.url);

export function systemdNotifier(log: Logger) {
  const enabled = Boolean(process.env.NOTIFY_SOCKET);
  const notify: NotifyFn | null = enabled ? (require('systemd-notify') as NotifyFn) : null;
  let watchdog: NodeJS.Timeout | null = null;
  const send = (opts: { ready?: boolean; status?: string }) => {
    if (!notify) return;
    notify(opts).catch((err: unknown) => log.warn({ event: 'warning', err: String(err) }, 'systemd notify failed'));
  };
  return {
    ready(status: string) {
      send({ ready: true, status });
      const usec = Number(process.env.WATCHDOG_USEC ?? 0);
      if (enabled && usec > 0 && !watchdog) {
        // Ping at half the interval, as sd_watchdog_enabled(3) recommends.
        watchdog = setInterval(() => {
          const child = spawn('systemd-notify', [`--pid=${process.pid}`, 'WATCHDOG=1'], { stdio: 'ignore' });
          child.on('error', (err) => log.warn({ event: 'warning', err: err.message }, 'watchdog ping failed'));
        }, Math.max(1000, usec / 2000));
        watchdog.unref();
      }
    },
    status(status: string) {
      send({ status });
    },
    stopping() {
      if (watchdog) clearInterval(watchdog);
      if (!enabled) return;
      spawn('systemd-notify', [`--pid=${process.pid}`, 'STOPPING=1'], { stdio: 'ignore' }).on('error', () => undefined);
    },
  };
}
