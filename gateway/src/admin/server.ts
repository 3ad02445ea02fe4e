/*
 * admin/server.ts — the daemon's admin API: HTTP/1.1 on a unix socket (node:http).
 *
 * Input: requests from `tuxhat` and the console menu. Output: JSON answers from AdminBackend.
 * The socket is created 0660 in the run directory (0750), so only root and the daemon's group can
 * talk to it; that file mode is the whole access control. Does not: listen on TCP, read request
 * bodies, or log anything but method, path, status and timing (no bodies, no passwords exist here).
 * Runs in the primary process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { mkdir, chmod, lstat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/index.js';
import type { AdminBackend } from './backend.js';
import { handleAdminRequest, type AdminResponse } from './routes.js';

export interface AdminServerOptions {
  readonly socketPath: string;
  readonly log: Logger;
}

export interface AdminServer {
  /** Bind the socket; rejects if another live process owns it or the path is not a socket. */
  listen(): Promise<void>;
  /** Stop accepting, end open connections, remove the socket file. */
  close(): Promise<void>;
}

const SOCKET_MODE = 0o660;
// sockaddr_un.sun_path is 108 bytes on Linux, NUL included. Node does not refuse a longer path:
// it binds a silently truncated name, which then fails later as ENOENT or EADDRINUSE.
const MAX_SOCKET_PATH_BYTES = 107;
const PROBE_TIMEOUT_MS = 1000;

/** Is a live process accepting on this socket? ECONNREFUSED means a dead daemon left it behind. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      // A listener that accepts but never completes is still a listener; do not steal its path.
      sock.destroy();
      resolve(true);
    }, PROBE_TIMEOUT_MS);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(err);
    });
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!st) return;
  if (!st.isSocket()) throw new Error(`admin socket path ${path} exists and is not a socket; refusing to replace it`);
  if (await socketInUse(path)) throw new Error(`admin socket ${path} is in use: is another gateway running?`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

function send(res: ServerResponse, r: AdminResponse): void {
  if ('text' in r) {
    res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store' });
    res.end(r.text);
    return;
  }
  const body = `${JSON.stringify(r.json)}\n`; // before writeHead: it may throw, and a 500 must still be possible
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  if (r.allow) headers['allow'] = r.allow;
  res.writeHead(r.status, headers);
  res.end(body);
}

export function createAdminServer(backend: AdminBackend, opts: AdminServerOptions): AdminServer {
  const { socketPath, log } = opts;
  // A stuck backend call must not pin a connection forever; the CLI gives up sooner anyway.
  const server = createServer({ requestTimeout: 60_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 });
  let listening = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    req.resume(); // no route takes a body; drain whatever was sent so keep-alive works
    let r: AdminResponse;
    try {
      r = await handleAdminRequest(backend, method, url);
      send(res, r);
    } catch (err) {
      // Also covers an answer JSON cannot encode: the daemon must outlive any admin request.
      const message = err instanceof Error ? err.message : String(err);
      log.error({ admin: `${method} ${url.pathname}`, err: message }, 'admin request failed');
      r = { status: 500, json: { error: `internal error: ${message}` } };
      if (!res.headersSent) send(res, r);
      else res.destroy();
    }
    const fields = { admin: `${method} ${url.pathname}`, status: r.status, ms: Math.round(performance.now() - started) };
    // Changes made by a postmaster are worth an audit line; read-only polling is not.
    if (method === 'GET') log.debug(fields, 'admin request');
    else log.info(fields, 'admin request');
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'admin request failed');
      res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  return {
    async listen() {
      const bytes = Buffer.byteLength(socketPath);
      if (bytes > MAX_SOCKET_PATH_BYTES) {
        throw new Error(`admin socket path is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a unix socket allows: ${socketPath}`);
      }
      await mkdir(dirname(socketPath), { recursive: true, mode: 0o750 });
      await removeStaleSocket(socketPath);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(socketPath, () => {
          server.off('error', onError);
          resolve();
        });
      });
      listening = true;
      server.on('error', (err) => log.error({ err: err.message }, 'admin server error'));
      await chmod(socketPath, SOCKET_MODE);
      log.info({ socket: socketPath }, 'admin API listening');
    },
    async close() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      // libuv unlinks the socket file it bound when the server closes; unlinking again here could
      // remove the socket of a gateway that started meanwhile.
      await closed;
    },
  };
}
