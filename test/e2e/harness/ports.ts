/*
 * test/e2e/harness/ports.ts — free loopback ports.
 *
 * Ports are picked at random from 20000–32767, below Linux's ephemeral range (32768–60999), so
 * a port we hand out cannot be taken meanwhile by the source port of some outgoing connection
 * (which a listen(0) port could). Each candidate is checked by binding TCP and UDP on 127.0.0.1
 * (UDP too, so the same helper serves DNS), and no port is handed out twice in one process.
 * There is still a window between the check and the real server binding; it is small and the
 * random choice makes clashes between parallel test processes unlikely.
 */
import { createServer, Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { sleep } from './util.js';

export const LOOPBACK = '127.0.0.1';
const LOW = 20_000;
const HIGH = 32_767;
const given = new Set<number>();

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: LOOPBACK, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, LOOPBACK, () => sock.close(() => resolve(true)));
  });
}

/** One free loopback port (free for both TCP and UDP). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (given.has(port)) continue;
    if ((await tcpFree(port)) && (await udpFree(port))) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port found in ${LOW}-${HIGH}`);
}

/** `n` distinct free loopback ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return ports;
}

/** Whether something accepts TCP connections on 127.0.0.1:port right now. */
export function isListening(port: number, host = LOOPBACK, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

/** Waits until a TCP connect to the port succeeds. */
export async function waitForPort(port: number, opts: { host?: string; timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (!(await isListening(port, opts.host))) {
    if (Date.now() > deadline) throw new Error(`nothing listening on ${opts.host ?? LOOPBACK}:${port} after ${opts.timeoutMs ?? 10_000} ms`);
    await sleep(50);
  }
}

/** Waits until nothing listens on the port any more (after a stop). */
export async function waitForPortClosed(port: number, opts: { host?: string; timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (await isListening(port, opts.host)) {
    if (Date.now() > deadline) throw new Error(`${opts.host ?? LOOPBACK}:${port} still listening after ${opts.timeoutMs ?? 10_000} ms`);
    await sleep(50);
  }
}
