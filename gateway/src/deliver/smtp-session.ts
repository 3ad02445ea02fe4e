/*
 * deliver/smtp-session.ts — one outgoing SMTP client session (nodemailer's SMTPConnection) to one
 * address: connect, STARTTLS per TLS policy, optional AUTH, transfer messages, RSET for reuse.
 *
 * hop + settings → an open session or a Postfix-style failure (4.4.1 connect, 4.4.2 conversation,
 * 4.7.x TLS/AUTH); a transfer → one DeliveryOutcome per recipient. Never throws for a delivery
 * problem. It does not pick hosts, retry or pool: smtp-client.ts does. Both the smtp and the mx
 * transport use it. Runs in the primary (delivery).
 *
 * Deadlines: nodemailer's connectionTimeout covers connect + greeting + STARTTLS, so it gets
 * connectTimeoutMs + greetingTimeoutMs, and greetingTimeout bounds the greeting itself;
 * socketTimeout bounds every later stall (a reply, or a body stream that stops). Callbacks that
 * nodemailer can drop when the socket closes (login, reset) also settle on 'end' and a timer.
 *
 * TLS policy: none → ignoreTLS; may → STARTTLS when offered, no verification, plaintext when the
 * server refuses the STARTTLS command; encrypt → STARTTLS required, no verification; verify →
 * STARTTLS required, certificate chain and host name (the MX or configured name) verified.
 * Credentials are never sent over plaintext unless the policy is 'none' (Postfix's default
 * smtp_sasl_security_options = noplaintext).
 *
 * Trusts nothing the peer says beyond its reply codes. Two nodemailer internals are used, behind
 * guards, because it has no option for them: the EHLO extension list (to learn SMTPUTF8 support)
 * and the MAIL FROM command line (to add SMTPUTF8 when the message needs it though the addresses
 * are ASCII, RFC 6531 §3.4); test/unit/deliver/smtp-transport.test.ts covers both.
 */
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPConnectionEnvelope, SMTPConnectionSendInfo, SMTPEnvelope } from 'nodemailer/lib/smtp-connection';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { TlsPolicy } from '../config/index.js';
import type { DeliveryOutcome } from '../core/index.js';
import type { Logger } from '../log/index.js';
import { hostAndIp, relayName, type Hop } from './next-hop.js';
import { enhancedCode, oneLine, outcomeFromReply, remoteSaid, soften } from './smtp-reply.js';

export interface SessionSettings {
  readonly hop: Hop;
  readonly tls: TlsPolicy;
  /** Our EHLO name. */
  readonly heloName: string;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly socketTimeoutMs: number;
  readonly auth?: { readonly user: string; readonly pass: string };
}

/** Why a hop could not be used; the last one becomes the recipients' deferral reason. */
export interface HopFailure {
  readonly dsn: string;
  readonly text: string;
  readonly relay: string;
}

export type OpenResult =
  | { readonly ok: true; readonly session: SmtpSession }
  | { readonly ok: false; readonly failure: HopFailure };

export interface TransferRequest {
  /** Envelope sender; '' is sent as MAIL FROM:<>. */
  readonly from: string;
  readonly recipients: readonly string[];
  readonly size: number;
  readonly eightBit: boolean;
  readonly smtpUtf8: boolean;
  readonly body: () => Readable;
}

export interface TransferResult {
  readonly outcomes: DeliveryOutcome[];
  /** The session is in a known state and may carry another message (after RSET). */
  readonly reusable: boolean;
}

/** The parts of nodemailer's SMTPConnection that are not in its types (see header). */
interface ConnectionInternals {
  _supportedExtensions?: unknown;
  _sendCommand?: (str: string, logStr?: string) => void;
}

/** After QUIT, how long the peer gets to answer before the socket is dropped. */
const QUIT_GRACE_MS = 2_000;

export async function openSession(s: SessionSettings, log: Logger): Promise<OpenResult> {
  const conn = new SMTPConnection({
    host: s.hop.ip,
    port: s.hop.port,
    name: s.heloName,
    connectionTimeout: s.connectTimeoutMs + s.greetingTimeoutMs,
    greetingTimeout: s.greetingTimeoutMs,
    socketTimeout: s.socketTimeoutMs,
    logger: false,
    ...tlsOptions(s.tls, s.hop.servername),
  });
  const session = new SmtpSession(conn, s, log);
  const connectErr = await settle(conn, s.connectTimeoutMs + 2 * s.greetingTimeoutMs, (done) => {
    conn.connect((err) => done(err ?? null));
  });
  if (connectErr) {
    session.abort();
    return { ok: false, failure: connectFailure(connectErr, s, conn.stage === 'connected') };
  }
  if (s.auth) {
    if (!conn.secure && s.tls !== 'none') {
      session.close();
      return { ok: false, failure: { dsn: '4.7.0', relay: relayName(s.hop), text: `refusing to send credentials to ${hostAndIp(s.hop)} without TLS (STARTTLS not available)` } };
    }
    // A server that does not offer AUTH gets the mail without it, like Postfix; it can still refuse it.
    if (conn.allowsAuth) {
      const auth = s.auth;
      const failed = await settle(conn, s.socketTimeoutMs, (done) => {
        conn.login({ user: auth.user, pass: auth.pass }, (err) => done(err ?? null));
      });
      if (failed) {
        session.close();
        const reply = failed.response ? oneLine(failed.response) : null;
        return {
          ok: false,
          failure: {
            dsn: reply ? soften(enhancedCode(reply)) : '4.7.0',
            relay: relayName(s.hop),
            text: `SASL authentication failed; server ${hostAndIp(s.hop)} said: ${reply ?? failed.message}`,
          },
        };
      }
    }
  }
  log.debug({ relay: relayName(s.hop), tls: conn.secure }, 'smtp session open');
  return { ok: true, session };
}

export class SmtpSession {
  readonly openedAt = Date.now();
  readonly relay: string;
  readonly #conn: SMTPConnection;
  readonly #s: SessionSettings;
  readonly #log: Logger;
  #ended = false;
  #forceSmtpUtf8 = false;

  constructor(conn: SMTPConnection, s: SessionSettings, log: Logger) {
    this.#conn = conn;
    this.#s = s;
    this.#log = log;
    this.relay = relayName(s.hop);
    // nodemailer emits 'error' for every failure; without a listener the process would crash.
    conn.on('error', (err: NodemailerError) => log.debug({ relay: this.relay, err: err.message, code: err.code }, 'smtp session error'));
    conn.on('end', () => {
      this.#ended = true;
    });
    this.#patchMailFrom();
  }

  get usable(): boolean {
    return !this.#ended && !this.#conn.destroyed;
  }

  get secure(): boolean {
    return this.#conn.secure;
  }

  /** Whether the server announced SMTPUTF8 in its (last) EHLO reply. */
  get smtpUtf8(): boolean {
    const ext = (this.#conn as unknown as ConnectionInternals)._supportedExtensions;
    return Array.isArray(ext) && ext.includes('SMTPUTF8');
  }

  /** RSET before reusing an idle session; false means it is dead and must be closed. */
  async reset(): Promise<boolean> {
    if (!this.usable) return false;
    const err = await settle(this.#conn, this.#s.socketTimeoutMs, (done) => {
      this.#conn.reset((e) => done(e ?? null));
    });
    return err === null && this.usable;
  }

  async transfer(req: TransferRequest): Promise<TransferResult> {
    const hostIp = hostAndIp(this.#s.hop);
    const needsUtf8 = req.smtpUtf8 && [req.from, ...req.recipients].some((a) => /[^\x00-\x7f]/.test(a));
    if (needsUtf8 && !this.smtpUtf8) {
      // RFC 6531 §3.2: without the extension the server cannot take a UTF-8 address; no downgrade.
      return {
        reusable: true,
        outcomes: req.recipients.map((recipient) => ({
          recipient, status: 'bounced', dsn: '5.6.7', relay: this.relay,
          response: `SMTPUTF8 is required, but was not offered by host ${hostIp}`,
        })),
      };
    }
    let body: Readable;
    try {
      body = req.body();
    } catch (err) {
      return { reusable: true, outcomes: this.#all(req.recipients, 'deferred', '4.3.0', `error reading the queued message: ${(err as Error).message}`) };
    }
    // nodemailer fills in accepted/rejectedErrors on the envelope object it is given.
    const envelope: SMTPEnvelope & Partial<Pick<SMTPConnectionEnvelope, 'accepted' | 'rejectedErrors'>> = {
      from: req.from,
      to: [...req.recipients],
      size: req.size,
      use8BitMime: req.eightBit,
    };
    this.#forceSmtpUtf8 = req.smtpUtf8;
    let info: SMTPConnectionSendInfo | undefined;
    const err = await settle(this.#conn, 0, (done) => {
      sendOnce(this.#conn, envelope, body).then((r) => {
        info = r;
        done(null);
      }, (e: NodemailerError) => done(e));
    });
    this.#forceSmtpUtf8 = false;
    const outcomes = new Map<string, DeliveryOutcome>();
    // After a refused MAIL FROM, pipelined RCPTs only got "503 need MAIL": the MAIL reply decides.
    const perRcpt = err?.command === 'MAIL FROM' ? [] : info?.rejectedErrors ?? envelope.rejectedErrors ?? [];
    for (const rej of perRcpt) {
      if (rej.recipient && rej.response) outcomes.set(rej.recipient, outcomeFromReply(rej.recipient, this.relay, hostIp, rej.response, 'RCPT TO'));
    }
    if (info) {
      const reply = oneLine(info.response);
      const dsn = reply.startsWith('2') ? enhancedCode(reply) : '2.0.0';
      for (const a of info.accepted) if (!outcomes.has(a)) outcomes.set(a, { recipient: a, status: 'delivered', dsn, response: reply, relay: this.relay });
    }
    let reusable = this.usable;
    if (err) {
      const rest = req.recipients.filter((r) => !outcomes.has(r));
      const fail = this.#transferFailure(err, req);
      for (const r of rest) outcomes.set(r, fail.reply ? outcomeFromReply(r, this.relay, hostIp, fail.reply, fail.command) : { recipient: r, relay: this.relay, ...fail.outcome });
      reusable = reusable && fail.reusable;
    }
    const result = req.recipients.map((r) => outcomes.get(r) ?? {
      recipient: r, status: 'deferred' as const, dsn: '4.3.0', relay: this.relay,
      response: `no reply from ${hostIp} for this recipient`,
    });
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug({ relay: this.relay, outcomes: result.map((o) => `${o.recipient}:${o.status}:${o.dsn}`) }, 'smtp transfer done');
    }
    return { outcomes: result, reusable };
  }

  /** End an idle session politely (QUIT), dropping the socket if the peer does not answer. */
  close(): void {
    if (!this.usable) {
      this.abort();
      return;
    }
    this.#ended = true;
    this.#conn.quit();
    setTimeout(() => this.#conn.close(), QUIT_GRACE_MS).unref();
  }

  /** Drop the connection now, whatever state the SMTP dialogue is in. */
  abort(): void {
    this.#ended = true;
    this.#conn.close();
  }

  #all(recipients: readonly string[], status: DeliveryOutcome['status'], dsn: string, response: string): DeliveryOutcome[] {
    return recipients.map((recipient) => ({ recipient, status, dsn, response, relay: this.relay }));
  }

  #transferFailure(err: NodemailerError, req: TransferRequest):
    { reply?: string; command?: string; outcome: Omit<DeliveryOutcome, 'recipient' | 'relay'>; reusable: boolean } {
    const hostIp = hostAndIp(this.#s.hop);
    if (err.response && err.responseCode) {
      const command = err.code === 'EMESSAGE' ? 'end of DATA' : err.command;
      const reply = oneLine(err.response);
      return { reply, command, outcome: { status: 'deferred', dsn: '4.0.0', response: remoteSaid(hostIp, reply, command) }, reusable: err.responseCode !== 421 };
    }
    const msg = err.message;
    switch (err.code) {
      case 'EMESSAGE': {
        // nodemailer checks SIZE itself before MAIL FROM; the server would refuse it anyway (RFC 1870).
        const limit = /allowed (\d+)/.exec(msg)?.[1] ?? 'unknown';
        return { outcome: { status: 'bounced', dsn: '5.3.4', response: `message size ${req.size} exceeds size limit ${limit} of server ${hostIp}` }, reusable: true };
      }
      case 'EENVELOPE':
        return {
          outcome: { status: 'bounced', dsn: /sender/i.test(msg) ? '5.1.7' : '5.1.3', response: `bad address syntax: ${msg}` },
          reusable: true,
        };
      case 'ESTREAM':
        return { outcome: { status: 'deferred', dsn: '4.3.0', response: `error reading the queued message: ${msg}` }, reusable: false };
      case 'ETIMEDOUT':
        return { outcome: { status: 'deferred', dsn: '4.4.2', response: `conversation with ${hostIp} timed out while sending message` }, reusable: false };
      default:
        return { outcome: { status: 'deferred', dsn: '4.4.2', response: `lost connection with ${hostIp} while sending message${err.code === 'ECONNECTION' ? '' : `: ${msg}`}` }, reusable: false };
    }
  }

  /** Adds SMTPUTF8 to MAIL FROM when the message asks for it and the server offers it (see header). */
  #patchMailFrom(): void {
    const internals = this.#conn as unknown as ConnectionInternals;
    const original = internals._sendCommand;
    if (typeof original !== 'function') return;
    internals._sendCommand = (str: string, logStr?: string) => {
      if (this.#forceSmtpUtf8 && this.smtpUtf8 && str.startsWith('MAIL FROM:') && !/ SMTPUTF8\b/i.test(str)) {
        str += ' SMTPUTF8';
      }
      original.call(this.#conn, str, logStr);
    };
  }
}

function sendOnce(conn: SMTPConnection, envelope: SMTPEnvelope, body: Readable): Promise<SMTPConnectionSendInfo> {
  return new Promise((resolve, reject) => {
    conn.send(envelope, body, (err, info) => (err ? reject(err) : resolve(info)));
  });
}

/**
 * Run one callback-style nodemailer call; resolve with its error or null. Also settles when the
 * connection ends first (nodemailer drops pending response handlers on close) and, if timeoutMs
 * is set, on a timer — so no await here can hang.
 */
function settle(conn: SMTPConnection, timeoutMs: number, run: (done: (err: NodemailerError | null) => void) => void): Promise<NodemailerError | null> {
  return new Promise((resolve) => {
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    // nodemailer emits 'error' and 'end' before it calls the pending callback with the real
    // error; deferring these two lets that callback (and its promise chain) win when it comes.
    const onEnd = () => setImmediate(() => finish(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' })));
    const onError = (e: NodemailerError) => setImmediate(() => finish(e));
    const finish = (err: NodemailerError | null) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      conn.removeListener('end', onEnd);
      conn.removeListener('error', onError);
      resolve(err);
    };
    conn.once('end', onEnd);
    conn.once('error', onError);
    if (timeoutMs > 0) {
      timer = setTimeout(() => finish(Object.assign(new Error('Timeout'), { code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT' as const })), timeoutMs);
      timer.unref();
    }
    run(finish);
  });
}

function tlsOptions(policy: TlsPolicy, servername: string | undefined): Partial<SMTPConnection.Options> {
  const sni = servername ? { servername } : {};
  switch (policy) {
    case 'none':
      return { ignoreTLS: true };
    case 'may':
      return { opportunisticTLS: true, ...sni, tls: { rejectUnauthorized: false, ...sni } };
    case 'encrypt':
      return { requireTLS: true, ...sni, tls: { rejectUnauthorized: false, ...sni } };
    case 'verify':
      return { requireTLS: true, ...sni, tls: { rejectUnauthorized: true, ...sni } };
  }
}

/** `connected`: the TCP connection was up, so a socket error is a lost session, not a failed connect. */
function connectFailure(err: NodemailerError, s: SessionSettings, connected: boolean): HopFailure {
  const relay = relayName(s.hop);
  const hostIp = hostAndIp(s.hop);
  const reply = err.response ? oneLine(err.response) : null;
  const cause = err.originalCode ?? err.code ?? '';
  // Certificate verification failures arrive as socket errors with OpenSSL's codes.
  const tlsCause = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|ALTNAME/.test(cause);
  if (err.code === 'ETLS' || tlsCause) {
    if (reply) return { relay, dsn: '4.7.4', text: `TLS is required, but host ${hostIp} refused to start TLS: ${reply}` };
    return { relay, dsn: '4.7.5', text: `TLS handshake with ${hostIp} failed: ${err.message.replace(/^Error initiating TLS - /, '')}` };
  }
  if (reply) {
    // 4xx or 5xx greeting/EHLO: try the next host, and never bounce for it (smtp_skip_5xx_greeting).
    return { relay, dsn: soften(enhancedCode(reply)), text: `host ${hostIp} refused to talk to me: ${reply}` };
  }
  if (err.code === 'ETIMEDOUT') {
    if (err.timeoutType === 'CONNECT_TIMEOUT' && !connected) return { relay, dsn: '4.4.1', text: `connect to ${relay}: Connection timed out` };
    const during = err.timeoutType === 'GREETING_TIMEOUT' ? 'while receiving the initial server greeting'
      : err.timeoutType === 'UPGRADE_TIMEOUT' ? 'during the TLS handshake' : 'while setting up the session';
    return { relay, dsn: '4.4.2', text: `conversation with ${hostIp} timed out ${during}` };
  }
  if (err.code === 'ESOCKET' && !connected) {
    const why = cause === 'ECONNREFUSED' ? 'Connection refused'
      : cause === 'EHOSTUNREACH' ? 'No route to host'
      : cause === 'ENETUNREACH' ? 'Network is unreachable'
      : cause === 'ECONNRESET' ? 'Connection reset by peer'
      : err.message;
    return { relay, dsn: '4.4.1', text: `connect to ${relay}: ${why}` };
  }
  if (err.code === 'ECONNECTION' || err.code === 'ESOCKET') {
    const detail = err.code === 'ESOCKET' ? `: ${err.message}` : '';
    return { relay, dsn: '4.4.2', text: `lost connection with ${hostIp} while setting up the session${detail}` };
  }
  return { relay, dsn: '4.4.2', text: `conversation with ${hostIp} failed: ${err.message}` };
}
