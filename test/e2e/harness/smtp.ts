/*
 * test/e2e/harness/smtp.ts — a minimal, exact SMTP client on a raw socket.
 *
 * For tests that must control every byte (open-relay tricks such as `RCPT TO:<user%foreign@relay>`,
 * bare LF, pipelining, odd syntax) and for the benchmark load generator, where a full client
 * library would cost CPU the system under test needs. It sends what it is told, reads one reply
 * per command (multi-line replies joined), and never retries or interprets anything.
 */
import { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { LOOPBACK } from './ports.js';

export interface SmtpReply {
  code: number;
  /** Each reply line without the code and separator, e.g. ['mx.test Hello', 'PIPELINING', 'SIZE 1000']. */
  lines: string[];
  /** The raw reply lines as received, e.g. ['250-mx.test Hello', '250 SIZE 1000']. */
  raw: string[];
  /** `lines` joined by '\n'. */
  text: string;
}

export interface SmtpConnectOptions {
  host?: string;
  /** Per reply (and for the connect itself). Default 10 s. */
  timeoutMs?: number;
  /** Implicit TLS from the first byte (port 465 style); certificates are not verified. */
  tls?: boolean | ConnectionOptions;
}

type Waiter = { resolve: (r: SmtpReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class SmtpError extends Error {
  constructor(
    message: string,
    readonly reply?: SmtpReply,
  ) {
    super(message);
  }
}

export class SmtpClient {
  #socket: Socket | TLSSocket;
  #buf = '';
  #pending: string[] = [];
  #replies: SmtpReply[] = [];
  #waiters: Waiter[] = [];
  #closedErr: Error | undefined;
  readonly timeoutMs: number;
  /** The server's greeting (220 …, or a 421/554 refusal). */
  greeting!: SmtpReply;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  private constructor(socket: Socket | TLSSocket, timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#socket = socket;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#attach(socket);
  }

  /** Connects and reads the greeting (which may be a refusal: check `greeting.code`). */
  static async connect(port: number, opts: SmtpConnectOptions = {}): Promise<SmtpClient> {
    const host = opts.host ?? LOOPBACK;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s: Socket | TLSSocket = opts.tls
        ? tlsConnect({ host, port, rejectUnauthorized: false, ...(typeof opts.tls === 'object' ? opts.tls : {}) })
        : new Socket().connect(port, host);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    socket.setNoDelay(true);
    const c = new SmtpClient(socket, timeoutMs);
    c.greeting = await c.read();
    return c;
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => {
      this.#fail(new Error('connection closed by server'));
      this.#resolveClosed();
    });
  }

  #onData(chunk: string): void {
    this.#buf += chunk;
    let i: number;
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, i).replace(/\r$/, '');
      this.#buf = this.#buf.slice(i + 1);
      this.#pending.push(line);
      // "250-…" continues, "250 …" or a bare "250" ends a reply.
      if (!/^\d{3}-/.test(line)) {
        const raw = this.#pending;
        this.#pending = [];
        const code = Number.parseInt(raw[raw.length - 1]!.slice(0, 3), 10);
        const lines = raw.map((l) => l.slice(4));
        const reply: SmtpReply = { code: Number.isNaN(code) ? 0 : code, lines, raw, text: lines.join('\n') };
        const w = this.#waiters.shift();
        if (w) {
          clearTimeout(w.timer);
          w.resolve(reply);
        } else this.#replies.push(reply);
      }
    }
  }

  #fail(err: Error): void {
    this.#closedErr ??= err;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  get isClosed(): boolean {
    return this.#closedErr !== undefined;
  }

  /** The next reply from the server. */
  read(timeoutMs = this.timeoutMs): Promise<SmtpReply> {
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closedErr) return Promise.reject(this.#closedErr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no SMTP reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push({ resolve, reject, timer });
    });
  }

  /** Writes raw bytes (nothing added). */
  write(data: string | Buffer): void {
    this.#socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends one command line (CRLF added) and returns its reply. */
  async command(line: string, timeoutMs?: number): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** Sends several command lines in one write (PIPELINING) and returns their replies in order. */
  async pipeline(lines: string[], timeoutMs?: number): Promise<SmtpReply[]> {
    this.write(lines.map((l) => `${l}\r\n`).join(''));
    const out: SmtpReply[] = [];
    for (let i = 0; i < lines.length; i++) out.push(await this.read(timeoutMs));
    return out;
  }

  ehlo(name = 'client.test'): Promise<SmtpReply> {
    return this.command(`EHLO ${name}`);
  }

  /**
   * Sends DATA and, if the server answers 354, the message (line ends normalised to CRLF, lines
   * starting with '.' dot-stuffed) and the terminating '.'; returns the final reply (or the DATA
   * reply when it was not 354).
   */
  async data(message: string | Buffer, timeoutMs?: number): Promise<SmtpReply> {
    const go = await this.command('DATA');
    if (go.code !== 354) return go;
    this.write(dotStuff(message));
    return this.read(timeoutMs);
  }

  /** STARTTLS and switch the connection to TLS (certificates are not verified). */
  async startTls(opts: ConnectionOptions = {}): Promise<SmtpReply> {
    const r = await this.command('STARTTLS');
    if (r.code !== 220) return r;
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain as Socket, rejectUnauthorized: false, ...opts });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    this.#socket = secure;
    this.#attach(secure);
    return r;
  }

  get tls(): boolean {
    return 'encrypted' in this.#socket && this.#socket.encrypted === true;
  }

  /** AUTH PLAIN with the given credentials. */
  auth(user: string, pass: string): Promise<SmtpReply> {
    return this.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`, 'utf8').toString('base64')}`);
  }

  /**
   * One whole transaction: MAIL, each RCPT, DATA. Stops at the first failure of MAIL or DATA; a
   * refused RCPT is recorded and the others still tried (DATA is skipped when none was accepted).
   */
  async send(env: { from: string; to: string[]; message: string | Buffer; mailParams?: string }): Promise<TransactionResult> {
    const mail = await this.command(`MAIL FROM:<${env.from}>${env.mailParams ? ` ${env.mailParams}` : ''}`);
    const result: TransactionResult = { mail, rcpt: [], ok: false };
    if (mail.code !== 250) return result;
    for (const r of env.to) result.rcpt.push(await this.command(`RCPT TO:<${r}>`));
    if (!result.rcpt.some((r) => r.code === 250 || r.code === 251)) {
      await this.command('RSET').catch(() => undefined);
      return result;
    }
    result.data = await this.data(env.message);
    result.ok = result.data.code === 250;
    return result;
  }

  /** QUIT (ignoring a missing reply) and close. */
  async quit(): Promise<void> {
    if (!this.isClosed) await this.command('QUIT', 2000).catch(() => undefined);
    this.close();
  }

  /** Closes the socket without QUIT. */
  close(): void {
    this.#socket.destroy();
  }
}

export interface TransactionResult {
  mail: SmtpReply;
  rcpt: SmtpReply[];
  data?: SmtpReply;
  /** DATA was answered 250. */
  ok: boolean;
}

/** CRLF-normalises and dot-stuffs a message and appends the terminating ".". */
export function dotStuff(message: string | Buffer): Buffer {
  const s = (typeof message === 'string' ? message : message.toString('latin1')).replace(/\r?\n/g, '\r\n');
  const body = s.replace(/^\./gm, '..');
  return Buffer.from(`${body}${body.endsWith('\r\n') || body === '' ? '' : '\r\n'}.\r\n`, 'latin1');
}

/** One element of an `smtpTalk` script: a command line, or a message to send after a 354. */
export type TalkStep = string | { data: string | Buffer };

/**
 * Connects, then sends each step and collects the replies: `[greeting, reply to step 1, …]`.
 * `{ data }` sends a message body (dot-stuffed, with the final '.') — put it right after 'DATA'.
 * Stops early when the server closes the connection (the result is then shorter); never throws
 * for SMTP-level refusals. Always closes the connection.
 */
export async function smtpTalk(port: number, steps: TalkStep[], opts: SmtpConnectOptions = {}): Promise<SmtpReply[]> {
  const c = await SmtpClient.connect(port, opts);
  const out: SmtpReply[] = [c.greeting];
  try {
    for (const step of steps) {
      if (c.isClosed) break;
      if (typeof step === 'string') {
        out.push(await c.command(step));
      } else {
        c.write(dotStuff(step.data));
        out.push(await c.read());
      }
    }
  } catch (err) {
    if (!c.isClosed) throw err;
  } finally {
    c.close();
  }
  return out;
}

/** A small RFC 5322 message for tests: headers plus a body, CRLF line ends. */
export function makeMessage(opts: { from?: string; to?: string | string[]; subject?: string; messageId?: string; body?: string; headers?: Record<string, string> } = {}): string {
  const to = Array.isArray(opts.to) ? opts.to.join(', ') : (opts.to ?? 'user@corp.test');
  const id = opts.messageId ?? `<${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}@client.test>`;
  const headers: Record<string, string> = {
    From: opts.from ?? 'sender@client.test',
    To: to,
    Subject: opts.subject ?? 'test message',
    Date: new Date().toUTCString().replace('GMT', '+0000'),
    'Message-ID': id,
    ...opts.headers,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  return `${head}\r\n\r\n${(opts.body ?? 'Hello from the TuxHat e2e harness.\r\n').replace(/\r?\n/g, '\r\n')}`;
}
