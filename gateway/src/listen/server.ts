/*
 * listen/server.ts — one smtp-server instance per configured listener.
 *
 * Maps SMTP hooks to policy phases, streams DATA to the spool, runs content and verdict, DKIM-signs
 * outbound mail (sign/) and
 * answers 250 only after queue/enqueue resolved (ARCHITECTURE contract 1). Every reply we choose
 * is a key of core/replies.ts. Deny by default: mx has no AUTH and accepts only relay domains;
 * submission requires AUTH; relay trusts networks, certificates or AUTH. Runs in receiver workers.
 * Trusts nothing the client sends; the DATA stream is bounded by the listener's size limit.
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { readFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Config, ListenerConfig } from '../config/index.js';
import { GatewayError, REPLIES, isGatewayError, newQid, replyText, type BodyLocation, type Decision, type Direction, type Envelope, type QueueEntry, type ReplyKey, type Session, type SmtpPhase } from '../core/index.js';
import { HeaderCapture, headerValue, parseHeaders, scanContent, type ContentScores } from '../content/index.js';
import type { DnsResolver } from '../dns/index.js';
import type { Logger } from '../log/index.js';
import { checkPhase } from '../policy/index.js';
import { applyHeaderEdits, enqueue, storageError, type Spool } from '../queue/index.js';
import type { StateEnvs } from '../state/index.js';
import { dkimHeaderEdits, signingDomainOf, type KeyCheck, type KeyRing } from '../sign/index.js';
import { arcSealEdits, ourAuthResults, type ArcSealer } from '../sign/arc-seal.js';
import { decide } from '../verdict/index.js';
import { receivedHeader } from './received.js';
import type { TlsMaterial } from './tls.js';
import { verifyPassword, type UserDb } from './users.js';

export interface ListenerDeps {
  readonly config: Config;
  readonly state: StateEnvs;
  readonly spool: Spool;
  readonly log: Logger;
  readonly users: UserDb;
  readonly tls: TlsMaterial;
  /** The process's one resolver (shared cache), for the content checks. */
  readonly resolver: DnsResolver;
  /** Symbol scores from rules/scores, loaded once at start-up. */
  readonly scores: ContentScores;
  /** DKIM signing keys by domain (sign/keys.ts), loaded once per receiver; empty: sign nothing. */
  readonly dkimKeys?: KeyRing;
  /** DNS record check of the signing keys (sign/key-check.ts); absent: sign without checking. */
  readonly dkimKeyCheck?: KeyCheck;
  /** ARC sealer for inbound mail we modified (sign/arc-seal.ts); absent: no sealing. */
  readonly arcSealer?: ArcSealer;
  /** Tell the queue manager that a message is ready. */
  readonly notifyQueued: () => void;
}

export interface Listener {
  readonly name: string;
  readonly server: SMTPServer;
  /**
   * Stop taking new sessions (they get 421), let running ones finish within closeTimeoutMs.
   * `handover`: another process listens on the same socket (reload): stop accepting at once
   * instead, so no new connection lands here only to be told 421.
   */
  drain(opts?: { handover?: boolean }): Promise<void>;
}

type SmtpError = Error & { responseCode: number };

function smtpError(key: ReplyKey, detail?: string): SmtpError {
  return Object.assign(new Error(replyText(key, detail)), { responseCode: REPLIES[key].code });
}

function decisionError(d: Decision): SmtpError | null {
  if (d.action === 'accept') return null;
  return smtpError(d.reply, d.detail);
}

const DIRECTION: Record<ListenerConfig['kind'], Direction> = { mx: 'inbound', submission: 'outbound', relay: 'outbound' };

export function createListener(name: string, lc: ListenerConfig, deps: ListenerDeps): Listener {
  const { config, log } = deps;
  const sessions = new Map<string, Session>();
  const perIp = new Map<string, number>();
  let draining = false;
  // node:net BlockList matches CIDRs of both families without hand-written bit maths.
  const trustList = new BlockList();
  for (const cidr of lc.trustedNetworks) {
    const [ip, bits] = cidr.split('/');
    const family = ip!.includes(':') ? 'ipv6' : 'ipv4';
    if (bits === undefined) trustList.addAddress(ip!, family);
    else trustList.addSubnet(ip!, Number(bits), family);
  }
  const trusted = (ip: string) => trustList.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');

  const sessionOf = (s: SMTPServerSession): Session => {
    const found = sessions.get(s.id);
    if (!found) throw new GatewayError('LOCAL_ERROR', 'unknown session');
    return found;
  };
  const envelopeOf = (s: SMTPServerSession, extraRcpt?: string): Envelope => ({
    mailFrom: s.envelope.mailFrom ? s.envelope.mailFrom.address : '',
    recipients: [...s.envelope.rcptTo.map((r) => r.address), ...(extraRcpt ? [extraRcpt] : [])],
    size: 0,
    bodyType: s.envelope.bodyType === '8bitmime' ? '8bitmime' : '7bit',
    smtpUtf8: Boolean(s.envelope.smtpUtf8),
  });
  const rejectLog = (session: Session, phase: SmtpPhase, err: SmtpError, extra: Record<string, unknown> = {}) => {
    log.info({ event: 'reject', qid: null, sid: session.id, client: session.clientIp, helo: session.helo, phase, response: `${err.responseCode} ${err.message}`, ...extra }, 'reject');
  };
  const phaseCheck = async (phase: SmtpPhase, s: SMTPServerSession, recipient?: string): Promise<SmtpError | null> => {
    const session = sessionOf(s);
    const envelope = envelopeOf(s);
    const d = await checkPhase(phase, { config, session, envelope, resolve: deps.resolver.resolve, ...(recipient !== undefined ? { recipient } : {}) });
    const err = decisionError(d);
    if (err) rejectLog(session, phase, err, { from: envelope.mailFrom, ...(recipient ? { to: recipient } : {}) });
    return err;
  };

  // A listener may carry its own certificate (e.g. mx.example.com on 25, smtp.example.com on 587).
  const own = lc.keyFile && lc.certFile ? { key: readFileSync(lc.keyFile), cert: readFileSync(lc.certFile) } : null;

  const server = new SMTPServer({
    name: config.hostname,
    banner: lc.banner,
    secure: lc.tls === 'implicit',
    key: own?.key ?? deps.tls.key,
    cert: own?.cert ?? deps.tls.cert,
    ...(deps.tls.sni.size > 0 ? { sniOptions: deps.tls.sni } : {}),
    minVersion: config.tls.minVersion,
    ...(lc.trustClientCert ? { requestCert: true, rejectUnauthorized: false, ...(deps.tls.ca ? { ca: deps.tls.ca } : {}) } : {}),
    hideSTARTTLS: lc.tls !== 'starttls',
    // RFC 2034/3463: our replies carry enhanced codes (core/replies.ts); announce it, and let
    // smtp-server add them to its own built-in refusals too (552 5.3.4 for SIZE, 452 4.5.3…).
    hideENHANCEDSTATUSCODES: false,
    disabledCommands: lc.kind === 'mx' ? ['AUTH'] : lc.tls === 'none' && !lc.allowInsecureAuth ? ['AUTH', 'STARTTLS'] : lc.tls === 'none' ? ['STARTTLS'] : [],
    authOptional: lc.kind !== 'submission',
    allowInsecureAuth: lc.allowInsecureAuth,
    authMethods: ['PLAIN', 'LOGIN'],
    size: lc.maxMessageBytes,
    rejectOversized: true,
    maxClients: lc.maxConnections,
    maxRecipients: lc.maxRecipients,
    socketTimeout: lc.idleTimeoutMs,
    closeTimeout: lc.closeTimeoutMs,
    disableReverseLookup: true,
    logger: false,
    onConnect(s, cb) {
      const ip = s.remoteAddress;
      const session: Session = {
        id: s.id, listener: name, kind: lc.kind, direction: DIRECTION[lc.kind], clientIp: ip, clientPort: s.remotePort,
        ptr: null, helo: '', tls: null, authUser: null,
        trustedBy: lc.kind === 'relay' && lc.trustedNetworks.length > 0 && trusted(ip) ? 'network' : null,
      };
      if (draining) {
        log.info({ event: 'reject', qid: null, sid: s.id, client: ip, phase: 'connect', response: '421 shutting down' }, 'reject');
        return cb(smtpError('SHUTTING_DOWN'));
      }
      const n = (perIp.get(ip) ?? 0) + 1;
      if (n > lc.maxConnectionsPerIp) {
        log.info({ event: 'reject', qid: null, sid: s.id, client: ip, phase: 'connect', response: '421 too many connections' }, 'reject');
        return cb(smtpError('TOO_MANY_CONNECTIONS'));
      }
      perIp.set(ip, n);
      sessions.set(s.id, session);
      log.info({ event: 'connect', sid: s.id, client: ip, listener: name }, 'connect');
      cb();
    },
    onSecure(socket, s, cb) {
      const session = sessions.get(s.id);
      if (session) {
        const tlsSocket = socket as TLSSocket;
        const cipher = tlsSocket.getCipher?.();
        session.tls = { protocol: tlsSocket.getProtocol?.() ?? 'TLS', cipher: cipher?.name ?? 'unknown' };
        if (lc.kind === 'relay' && lc.trustClientCert && tlsSocket.authorized) session.trustedBy = 'cert';
      }
      cb();
    },
    onAuth(auth: SMTPServerAuthentication, s, cb) {
      const session = sessions.get(s.id);
      const user = auth.username ?? '';
      verifyPassword(deps.users, user, auth.password ?? '').then((ok) => {
        if (!ok) {
          log.info({ event: 'reject', qid: null, sid: s.id, client: s.remoteAddress, phase: 'auth', user, response: '535 authentication failed' }, 'reject');
          return cb(smtpError('AUTH_FAILED'));
        }
        if (session) {
          session.authUser = user.toLowerCase();
          session.trustedBy ??= 'auth';
        }
        cb(null, { user: user.toLowerCase() });
      }, (err: unknown) => cb(err as Error));
    },
    onMailFrom(_addr: SMTPServerAddress, s, cb) {
      const session = sessions.get(s.id);
      if (session) session.helo = s.hostNameAppearsAs || '';
      // smtp-server fills s.envelope.mailFrom only after we accept; check the proposed one.
      const proposed = { ...s, envelope: { ...s.envelope, mailFrom: _addr } } as SMTPServerSession;
      phaseCheck('mail', proposed).then((err) => cb(err), (err: unknown) => cb(toSmtpError(err)));
    },
    onRcptTo(addr: SMTPServerAddress, s, cb) {
      phaseCheck('rcpt', s, addr.address).then((err) => {
        // Bare "postmaster" (RFC 5321 §4.5.1) becomes the configured postmaster address; the
        // envelope keeps the object we were given.
        if (!err && addr.address.toLowerCase() === 'postmaster') addr.address = config.postmaster;
        cb(err);
      }, (err: unknown) => cb(toSmtpError(err)));
    },
    onData(stream: SMTPServerDataStream, s, cb) {
      receive(stream, s).then((qid) => cb(null, replyText('QUEUED').replace(/as$/, `as ${qid}`)), (err: unknown) => {
        stream.resume();
        cb(toSmtpError(err));
      });
    },
    onClose(s) {
      const session = sessions.get(s.id);
      if (!session) return;
      sessions.delete(s.id);
      const n = (perIp.get(session.clientIp) ?? 1) - 1;
      if (n <= 0) perIp.delete(session.clientIp);
      else perIp.set(session.clientIp, n);
      log.info({ event: 'disconnect', sid: s.id, client: session.clientIp }, 'disconnect');
    },
  });

  // Read by the greeting shim (smtp-server-shims.ts); smtp-server keeps unknown options as given.
  (server.options as { greetDelayMs?: number }).greetDelayMs = lc.greetDelayMs;

  server.on('error', (err: Error & { code?: string; remote?: string }) => {
    // TLS handshake errors and resets from clients must never take the process down.
    log.warn({ event: 'warning', listener: name, err: { message: err.message, code: err.code }, client: err.remote }, 'smtp server error');
  });

  async function receive(stream: SMTPServerDataStream, s: SMTPServerSession): Promise<string> {
    const session = sessionOf(s);
    const envelope = envelopeOf(s);
    const qid = newQid();
    const received = receivedHeader({ session, hostname: config.hostname, qid, recipients: envelope.recipients });
    const capture = new HeaderCapture();
    let body: BodyLocation;
    try {
      body = await deps.spool.write(qid, Buffer.from(received), stream, (chunk) => capture.observe(chunk), () => stream.sizeExceeded);
    } catch (err) {
      const e = storageError(err);
      log.error({ event: 'reject', qid: null, sid: session.id, client: session.clientIp, phase: 'data', err: (err as Error).message, response: replyText(e.code) }, 'spool write failed');
      throw e;
    }
    if (stream.sizeExceeded) {
      deps.spool.remove(qid, body);
      throw new GatewayError('MESSAGE_TOO_BIG');
    }
    const headers = parseHeaders(capture.headerBlock());
    const size = capture.size;
    const message = { qid, size, headers, messageId: headerValue(headers, 'message-id'), addedHeaders: [], openBody: () => deps.spool.open(qid, body, size + received.length) };
    const content = await scanContent({ config, session, envelope: { ...envelope, size }, message, resolve: deps.resolver.resolve, scores: deps.scores });
    const verdict = decide({
      direction: session.direction, hits: content.hits, tempfail: content.tempfail, tempfailReply: content.tempfailReply,
      headerEdits: content.headerEdits, authentication: content.authentication, dmarcReject: config.authentication.dmarcReject,
    });
    const auth = content.authentication;
    const logFields = {
      qid, sid: session.id, client: session.clientIp, helo: session.helo, tls: session.tls?.protocol ?? null, user: session.authUser, from: envelope.mailFrom, to: envelope.recipients, size, msgid: message.messageId,
      ...(auth ? { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc, arc: auth.arc } : {}),
      score: verdict.score, action: verdict.action, symbols: verdict.hits.map((h) => `${h.name}(${h.score})`),
    };
    if (verdict.action === 'reject' || verdict.action === 'defer') {
      deps.spool.remove(qid, body);
      const key = verdict.reply ?? (verdict.action === 'reject' ? 'RELAY_DENIED' : 'LOCAL_ERROR');
      log.info({ event: 'reject', ...logFields, qid: null, rejectedQid: qid, response: `${REPLIES[key].code} ${replyText(key, verdict.detail)}` }, 'reject');
      throw new GatewayError(key, verdict.detail);
    }
    if (verdict.action === 'discard') {
      deps.spool.remove(qid, body);
      log.info({ event: 'verdict', ...logFields }, 'discarded');
      return qid;
    }
    let headerEdits = verdict.headerEdits;
    if (session.direction === 'outbound' && (verdict.action === 'deliver' || verdict.action === 'tag') && config.dkim.enabled && deps.dkimKeys && deps.dkimKeys.size > 0) {
      // Sign the bytes as they will go out (the verdict's edits applied); the signatures are
      // prepended before those edits, so they end up on top.
      const domain = signingDomainOf(config.dkim.signBy, envelope.mailFrom, headerValue(headers, 'from'));
      try {
        const signatures = await dkimHeaderEdits(deps.dkimKeys, domain, () => applyHeaderEdits(message.openBody(), verdict.headerEdits), deps.dkimKeyCheck);
        if (signatures) headerEdits = [...signatures, ...verdict.headerEdits];
        else log.debug({ event: 'dkim', qid, domain }, 'no DKIM key for the domain, not signed');
      } catch (err) {
        log.error({ event: 'dkim', qid, domain, err: (err as Error).message }, 'DKIM signing failed');
        if (!config.dkim.unsignedOnError) {
          deps.spool.remove(qid, body);
          log.info({ event: 'reject', ...logFields, qid: null, rejectedQid: qid, response: `${REPLIES.LOCAL_ERROR.code} ${replyText('LOCAL_ERROR')}` }, 'reject');
          throw new GatewayError('LOCAL_ERROR');
        }
      }
    }
    if (session.direction === 'inbound' && (verdict.action === 'deliver' || verdict.action === 'tag') && deps.arcSealer) {
      // Seal last, over the bytes as they will go out (every edit applied); the ARC set goes on top.
      const finalEdits = headerEdits;
      try {
        const seal = await arcSealEdits(deps.arcSealer, () => applyHeaderEdits(message.openBody(), finalEdits), ourAuthResults(finalEdits, config.hostname), auth?.arc ?? 'none');
        if (seal) headerEdits = [...seal, ...finalEdits];
      } catch (err) {
        // An unsealed message is still a correct message: log, do not refuse.
        log.error({ event: 'arc', qid, err: (err as Error).message }, 'ARC sealing failed');
      }
    }
    const now = Date.now();
    const entry: QueueEntry = {
      qid, state: 'incoming', direction: session.direction, listener: name, client: session.clientIp, helo: session.helo,
      authUser: session.authUser, mailFrom: envelope.mailFrom,
      recipients: [...envelope.recipients, ...verdict.extraRecipients].map((address) => ({ address, state: 'pending' as const, attempts: 0 })),
      size: size + received.length, body, messageId: message.messageId, bodyType: envelope.bodyType, smtpUtf8: envelope.smtpUtf8,
      receivedAt: now, nextAttemptAt: now, attempts: 0, headerEdits, isBounce: false, delayWarned: false,
      receipt: receiptOf(logFields),
    };
    try {
      await enqueue(deps.state, entry);
    } catch (err) {
      deps.spool.remove(qid, body);
      log.error({ event: 'reject', qid: null, sid: session.id, err: (err as Error).message }, 'queue commit failed');
      throw err;
    }
    log.info({ event: 'queued', ...logFields }, 'queued');
    deps.notifyQueued();
    return qid;
  }

  return {
    name,
    server,
    drain(opts = {}) {
      draining = true;
      if (opts.handover && server.server.listening) server.server.close();
      return new Promise<void>((resolve) => {
        const deadline = Date.now() + lc.closeTimeoutMs;
        const tick = () => {
          if (sessions.size === 0 || Date.now() >= deadline) {
            // closeTimeoutMs is the whole grace period: whoever is still connected is told 421
            // now (smtp-server's close() alone would wait another closeTimeout first).
            for (const c of server.connections) {
              c.send(REPLIES.SHUTTING_DOWN.code, replyText('SHUTTING_DOWN'));
              c.close();
            }
            server.close(() => resolve());
            return;
          }
          setTimeout(tick, 100).unref();
        };
        tick();
      });
    },
  };
}

/** The verdict record kept with the entry: the log fields without the qid (the key already). */
function receiptOf(fields: Record<string, unknown>): Record<string, unknown> {
  const { qid: _qid, ...rest } = fields;
  return rest;
}

function toSmtpError(err: unknown): SmtpError {
  if (isGatewayError(err)) return smtpError(err.code, err.detail);
  return smtpError('LOCAL_ERROR');
}
