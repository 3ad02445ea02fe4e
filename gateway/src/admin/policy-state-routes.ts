/*
 * admin/policy-state-routes.ts — admin API for reputation and greylisting (issue 5):
 *
 *   GET    /reputation/:subject          → { subject, entries: ReputationView[] }
 *   DELETE /reputation/:subject          → { subject, removed: n }
 *   GET    /greylist                     → { entries: GreylistView[] }
 *   POST   /greylist/release/:match      → { match, released: n }
 *
 * :subject is an IP, a network (URL-encoded "/") or a domain; :match an IP, network, address or
 * domain (state/policy-admin.ts). 400 when it names nothing; 404 when nothing is known.
 * Returns null for any other path, so routes.ts goes on with its own table. Runs in the primary.
 */
import type { GreylistView, ReputationView } from '../state/index.js';
import type { AdminResponse } from './routes.js';

export interface PolicyStateAdmin {
  /** null: not an IP, network or domain. */
  reputationShow(subject: string): Promise<ReputationView[] | null>;
  reputationReset(subject: string): Promise<number | null>;
  greylistList(): Promise<GreylistView[]>;
  /** null: not an IP, network, address or domain. */
  greylistRelease(match: string): Promise<number | null>;
}

const ok = (json: unknown): AdminResponse => ({ status: 200, json });
const fail = (status: number, error: string): AdminResponse => ({ status, json: { error } });
const notAllowed = (method: string, path: string, allow: string): AdminResponse => ({ status: 405, json: { error: `${method} is not allowed on ${path}; use ${allow}` }, allow });

export async function handlePolicyStateRequest(admin: PolicyStateAdmin, method: string, path: string, segments: readonly string[]): Promise<AdminResponse | null> {
  const [first, second, third] = segments;
  if (first === 'reputation' && segments.length === 2) {
    const subject = second!;
    if (method === 'GET') {
      const entries = await admin.reputationShow(subject);
      if (entries === null) return fail(400, `not an IP address, network or domain: ${subject}`);
      return entries.length > 0 ? ok({ subject, entries }) : fail(404, `no reputation known for ${subject}`);
    }
    if (method === 'DELETE') {
      const removed = await admin.reputationReset(subject);
      if (removed === null) return fail(400, `not an IP address, network or domain: ${subject}`);
      return ok({ subject, removed });
    }
    return notAllowed(method, path, 'GET, DELETE');
  }
  if (first === 'greylist' && segments.length === 1) {
    return method === 'GET' ? ok({ entries: await admin.greylistList() }) : notAllowed(method, path, 'GET');
  }
  if (first === 'greylist' && second === 'release' && segments.length === 3) {
    if (method !== 'POST') return notAllowed(method, path, 'POST');
    const released = await admin.greylistRelease(third!);
    if (released === null) return fail(400, `not an IP address, network, address or domain: ${third}`);
    return ok({ match: third, released });
  }
  return null;
}
