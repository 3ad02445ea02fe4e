/*
 * queue/schedule.ts — when to try again. Pure functions of the config and the attempt count.
 * Attempt n (1-based, already made) waits scheduleMs[n-1]; the last step repeats. A random
 * ±10 % spreads retries so a recovering next hop is not hit by every deferred message at once.
 */
import type { Config } from '../config/index.js';

export function nextAttemptDelay(q: Config['queue'], attemptsMade: number, random: () => number = Math.random): number {
  const steps = q.scheduleMs;
  const base = steps[Math.min(Math.max(attemptsMade, 1), steps.length) - 1] ?? steps[steps.length - 1] ?? 60_000;
  return Math.round(base * (0.9 + 0.2 * random()));
}

export function isExpired(q: Config['queue'], receivedAt: number, now: number): boolean {
  return now - receivedAt >= q.maxLifetimeMs;
}
