/*
 * admin/routes.ts — map one admin HTTP request to one AdminBackend call and back.
 *
 * Input: method and URL. Output: status code and a JSON body (or Prometheus text for /metrics).
 * Does not: touch sockets, read request bodies (no route takes one), or log; server.ts does.
 * Runs in the primary process. Trusts the caller: whoever can open the unix socket is a postmaster
 * (the socket is 0660, root:tuxhat), so there is no authentication here.
 *
 *   GET    /status                 → StatusInfo
 *   GET    /queue?state=S          → { entries: QueueSummary[] }
 *   GET    /queue/:qid             → QueueEntry
 *   POST   /queue/flush            → { flushed: n }
 *   POST   /queue/:qid/flush       → { qid, flushed: n }
 *   POST   /queue/:qid/hold        → { qid, held: true }
 *   POST   /queue/:qid/release     → { qid, released: true }
 *   DELETE /queue/:qid             → { qid, deleted: true }
 *   GET    /trace/:qid             → { qid, events: TraceEvent[] }
 *   POST   /reload                 → { ok: true } | 422 { ok: false, error }
 *   GET    /metrics                → text/plain (Prometheus 0.0.4)
 *   GET    /quarantine?recipient=R&all=1 → { entries: QuarantineSummary[] } (held ones; all=1 also settled)
 *   GET    /quarantine/:qid        → { record, headers }
 *   POST   /quarantine/:qid/release?to=R&by=WHO → { qid, released: [..], queuedAs } (no `to`: every held recipient)
 *   DELETE /quarantine/:qid?to=R&by=WHO         → { qid, deleted: [..] }
 *   POST   /quarantine/:qid/learn?as=spam|ham&by=WHO → { qid, learned, result } (trains Bayes)
 *   /reputation/…, /greylist…         → admin/policy-state-routes.ts
 * Errors are { error: "one clear sentence" }: 400 bad input, 404 unknown route or queue id,
 * 405 wrong method (with Allow), 409 a move the entry's state does not allow.
 */
import { QID_PATTERN, QUEUE_STATES, type QueueState } from '../core/index.js';
import type { AdminBackend } from './backend.js';
import { handlePolicyStateRequest } from './policy-state-routes.js';

export type AdminResponse =
  | { readonly status: number; readonly json: unknown; readonly allow?: string }
  | { readonly status: number; readonly text: string; readonly contentType: string };

const ok = (json: unknown): AdminResponse => ({ status: 200, json });
const fail = (status: number, error: string): AdminResponse => ({ status, json: { error } });

type Handler = (backend: AdminBackend, params: { qid: string; query: URLSearchParams }) => Promise<AdminResponse>;

interface Route {
  /** Path segments; ':qid' matches one queue id. */
  readonly pattern: readonly string[];
  readonly methods: Readonly<Record<string, Handler>>;
}

const noSuchQid = (qid: string): AdminResponse => fail(404, `no message with queue id ${qid}`);

/** When a move answered false: 404 if the entry is gone, else 409 naming its state. */
async function refused(backend: AdminBackend, qid: string, what: string): Promise<AdminResponse> {
  const entry = await backend.queueShow(qid);
  if (!entry) return noSuchQid(qid);
  return fail(409, `cannot ${what} ${qid}: it is in state ${entry.state}`);
}

/** The quarantine routes: 404 without a store; QuarantineError carries its own 404/409. */
function quarantineRoute(fn: (q: NonNullable<AdminBackend['quarantine']>, params: { qid: string; query: URLSearchParams }) => Promise<AdminResponse>): Handler {
  return async (b, params) => {
    if (!b.quarantine) return fail(404, 'this gateway has no quarantine');
    try {
      return await fn(b.quarantine, params);
    } catch (err) {
      const e = err as { name?: string; status?: number; message?: string };
      if (e.name === 'QuarantineError' && (e.status === 404 || e.status === 409)) return fail(e.status, e.message ?? 'quarantine error');
      throw err;
    }
  };
}

/** `by` is who asked (the CLI sends the login name); recorded with the release or deletion. */
const actor = (query: URLSearchParams): string => (query.get('by') ?? '').slice(0, 100) || 'admin-api';

const QUARANTINE_ROUTES: readonly Route[] = [
  {
    pattern: ['quarantine'],
    methods: { GET: quarantineRoute(async (q, { query }) => ok({ entries: await q.list({ ...(query.get('recipient') ? { recipient: query.get('recipient')! } : {}), all: query.get('all') === '1' }) })) },
  },
  {
    pattern: ['quarantine', ':qid'],
    methods: {
      GET: quarantineRoute(async (q, { qid }) => {
        const shown = await q.show(qid);
        return shown ? ok(shown) : fail(404, `no quarantined message with queue id ${qid}`);
      }),
      DELETE: quarantineRoute(async (q, { qid, query }) => ok(await q.delete(qid, query.getAll('to'), actor(query)))),
    },
  },
  { pattern: ['quarantine', ':qid', 'release'], methods: { POST: quarantineRoute(async (q, { qid, query }) => ok(await q.release(qid, query.getAll('to'), actor(query)))) } },
  {
    pattern: ['quarantine', ':qid', 'learn'],
    methods: {
      POST: quarantineRoute(async (q, { qid, query }) => {
        const as = query.get('as');
        if (as !== 'spam' && as !== 'ham') return fail(400, 'as=spam or as=ham');
        return ok(await q.learn(qid, as, actor(query)));
      }),
    },
  },
];

const ROUTES: readonly Route[] = [
  ...QUARANTINE_ROUTES,
  { pattern: ['status'], methods: { GET: async (b) => ok(await b.status()) } },
  {
    pattern: ['queue'],
    methods: {
      GET: async (b, { query }) => {
        const state = query.get('state');
        if (state === null || state === '') return ok({ entries: await b.queueList({}) });
        if (!(QUEUE_STATES as readonly string[]).includes(state)) {
          return fail(400, `unknown queue state "${state}"; expected one of ${QUEUE_STATES.join(', ')}`);
        }
        return ok({ entries: await b.queueList({ state: state as QueueState }) });
      },
    },
  },
  { pattern: ['queue', 'flush'], methods: { POST: async (b) => ok({ flushed: await b.queueFlush() }) } },
  {
    pattern: ['queue', ':qid'],
    methods: {
      GET: async (b, { qid }) => {
        const entry = await b.queueShow(qid);
        return entry ? ok(entry) : noSuchQid(qid);
      },
      DELETE: async (b, { qid }) => ((await b.queueDelete(qid)) ? ok({ qid, deleted: true }) : refused(b, qid, 'delete')),
    },
  },
  {
    pattern: ['queue', ':qid', 'flush'],
    methods: {
      POST: async (b, { qid }) => {
        const flushed = await b.queueFlush(qid);
        // 0 is an answer (e.g. the entry is on hold) only when the entry exists.
        if (flushed === 0 && !(await b.queueShow(qid))) return noSuchQid(qid);
        return ok({ qid, flushed });
      },
    },
  },
  { pattern: ['queue', ':qid', 'hold'], methods: { POST: async (b, { qid }) => ((await b.queueHold(qid)) ? ok({ qid, held: true }) : refused(b, qid, 'hold')) } },
  { pattern: ['queue', ':qid', 'release'], methods: { POST: async (b, { qid }) => ((await b.queueRelease(qid)) ? ok({ qid, released: true }) : refused(b, qid, 'release')) } },
  {
    pattern: ['trace', ':qid'],
    methods: {
      GET: async (b, { qid }) => {
        const events = await b.trace(qid);
        return events.length > 0 ? ok({ qid, events }) : fail(404, `no trace for queue id ${qid}`);
      },
    },
  },
  {
    pattern: ['reload'],
    methods: {
      POST: async (b) => {
        const result = await b.reload();
        // 422: the request was fine, the new config was not; the old one keeps running.
        return result.ok ? ok(result) : { status: 422, json: result };
      },
    },
  },
  {
    pattern: ['metrics'],
    methods: { GET: async (b) => ({ status: 200, text: await b.metrics(), contentType: 'text/plain; version=0.0.4; charset=utf-8' }) },
  },
];

function match(pattern: readonly string[], segments: readonly string[]): { qid: string } | string | null {
  if (pattern.length !== segments.length) return null;
  let qid = '';
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const s = segments[i] as string;
    if (p === ':qid') {
      // Crockford base32 is case-insensitive; people type what they read in a log.
      const upper = s.toUpperCase();
      if (!QID_PATTERN.test(upper)) return `not a queue id: ${s}`;
      qid = upper;
    } else if (p !== s) {
      return null;
    }
  }
  return { qid };
}

export async function handleAdminRequest(backend: AdminBackend, method: string, url: URL): Promise<AdminResponse> {
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    return fail(400, 'malformed path');
  }
  if (backend.policyState) {
    const r = await handlePolicyStateRequest(backend.policyState, method, url.pathname, segments);
    if (r) return r;
  }
  let badQid: string | null = null;
  for (const route of ROUTES) {
    const m = match(route.pattern, segments);
    if (m === null) continue;
    if (typeof m === 'string') {
      // Keep looking: /queue/flush is a literal route, not a malformed queue id.
      badQid ??= m;
      continue;
    }
    const handler = route.methods[method];
    if (!handler) {
      const allow = Object.keys(route.methods).join(', ');
      return { status: 405, json: { error: `${method} is not allowed on ${url.pathname}; use ${allow}` }, allow };
    }
    return handler(backend, { qid: m.qid, query: url.searchParams });
  }
  if (badQid !== null) return fail(400, badQid);
  return fail(404, `no such admin endpoint: ${method} ${url.pathname}`);
}
