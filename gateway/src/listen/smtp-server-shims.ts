/*
 * listen/smtp-server-shims.ts — three behaviours smtp-server has no option for. Installed once
 * per receiver process, before any server starts; each checks the code it replaces and leaves
 * smtp-server alone (with a warning) if an upgrade changed it.
 *
 * 1. Our reply table chooses the RFC 3463 enhanced code. smtp-server adds one it guesses from
 *    the basic code (every 550 at RCPT becomes 5.1.1). Our replies carry their own code at the
 *    start of the text (core/replies.ts), so for those lines send() adds none.
 * 2. The greeting delay. smtp-server waits a fixed 100 ms before every 220 to catch early
 *    talkers. With one connection per message (how MX traffic arrives) that caps 20 sessions at
 *    200 msg/s (bench/: 186 msg/s, p50 105 ms). The delay is now the listener's
 *    `greetDelayMs` (default 0); early-talker detection belongs to policy (issue 5), where it
 *    can apply only to clients without a good reputation, as postscreen does.
 * 3. AUTH is not advertised on a cleartext connection where AUTH is refused until STARTTLS
 *    (Postfix's smtpd_tls_auth_only). smtp-server lists it anyway and answers 538 to the AUTH
 *    command, so a client using an initial response (AUTH PLAIN <credentials>) had already
 *    sent the password in the clear. Same condition as smtp-server's handler_AUTH refusal.
 * 4. Error limits (issue 5, policy.hygiene): after `maxErrors` replies of 4xx/5xx in one session
 *    (Postfix's smtpd_hard_error_limit), or `maxUnknownCommands` unknown commands (smtp-server's
 *    own limit is a fixed 10), the session gets 421 and is closed.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { REPLIES, replyText } from '../core/index.js';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

interface ConnectionInternals {
  send(code: number, data: unknown, context?: unknown): void;
  init(): void;
  connectionReady(): void;
  _setListeners(cb: () => void): void;
  _server: { options: { maxClients?: number; greetDelayMs?: number; hideSTARTTLS?: boolean; allowInsecureAuth?: boolean; maxErrors?: number; maxUnknownCommands?: number }; connections: Set<unknown> };
  _tuxhatErrors?: number;
  _tuxhatUnknown?: number;
  _isSupported(command: string): boolean;
  secure: boolean;
  name: string;
}

export function installSmtpServerShims(warn: (msg: string) => void): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as ConnectionInternals;

  const send = proto.send;
  proto.send = function (this: ConnectionInternals, code: number, data: unknown, context?: unknown) {
    if (code >= 400 && code !== 421) {
      const o = this._server.options;
      if (code === 500 && data === 'Error: command not recognized' && o.maxUnknownCommands) {
        this._tuxhatUnknown = (this._tuxhatUnknown ?? 0) + 1;
        if (this._tuxhatUnknown >= o.maxUnknownCommands) return send.call(this, REPLIES.TOO_MANY_UNKNOWN_COMMANDS.code, replyText('TOO_MANY_UNKNOWN_COMMANDS'), false);
      }
      this._tuxhatErrors = (this._tuxhatErrors ?? 0) + 1;
      if (o.maxErrors && this._tuxhatErrors >= o.maxErrors) {
        if (typeof data === 'string' && ENHANCED.test(data)) send.call(this, code, data, false);
        else send.call(this, code, data, context);
        return send.call(this, REPLIES.TOO_MANY_ERRORS.code, replyText('TOO_MANY_ERRORS'), false);
      }
    }
    if (typeof data === 'string' && ENHANCED.test(data)) return send.call(this, code, data, false);
    if (code === 250 && Array.isArray(data) && authNeedsTls(this)) {
      // The EHLO reply (the only multi-line 250): drop "AUTH …" until the session is encrypted.
      return send.call(this, code, data.filter((l) => !(typeof l === 'string' && /^AUTH /.test(l))), context);
    }
    return send.call(this, code, data, context);
  };

  if (!/!this\.secure && this\._isSupported\('STARTTLS'\) && !this\._server\.options\.hideSTARTTLS && !this\._server\.options\.allowInsecureAuth/.test(String((proto as unknown as { handler_AUTH?: unknown }).handler_AUTH))) {
    warn('smtp-server changed its AUTH-before-STARTTLS rule; AUTH may be advertised in cleartext');
  }

  if (!/setTimeout\(\(\) => this\.connectionReady\(\), 100\)/.test(proto.init.toString())) {
    warn('smtp-server changed its greeting code; greetDelayMs is not applied (its own 100 ms delay stays)');
    return;
  }
  // Same steps as smtp-server 3.21's init(), with the delay taken from the listener's options.
  proto.init = function (this: ConnectionInternals) {
    this._setListeners(() => {
      const opts = this._server.options;
      if (opts.maxClients && this._server.connections.size > opts.maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      const delay = opts.greetDelayMs ?? 0;
      if (delay <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  };
}

/** smtp-server's own condition for refusing AUTH with 538 (handler_AUTH). */
function authNeedsTls(c: ConnectionInternals): boolean {
  const o = c._server.options;
  return !c.secure && c._isSupported('STARTTLS') && !o.hideSTARTTLS && !o.allowInsecureAuth;
}
