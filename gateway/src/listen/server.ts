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
import { inNetworks, networkList } from '../core/index.js';
import type { TLSSocket } from 'node:tls';
import type { Config, ListenerConfig } from '../config/index.js';
import { GatewayError, REPLIES, isGatewayError, newQid, replyText, type BodyLocation, type Decision, type Direction, type Envelope, type Hit, type QueueEntry, type ReplyKey, type Session, type SmtpPhase } from '../core/index.js';
import { HeaderCapture, headerValue, parseHeaders, scanContent, type ContentScores } from '../content/index.js';
import type { DnsResolver } from '../dns/index.js';
import type { Logger } from '../log/index.js';
import { BareNewlineDetector, checkPhase, policyHits, policyScores } from '../policy/index.js';
import { afterVerdict, learnFromReject, learnFromVerdict, queueHoldNotice, reputationHits, reputationScores } from '../policy/checks/policy-state.js';
import { policyStores } from '../state/index.js';
import { applyHeaderEdits, enqueue, storageError, type Spool } from '../queue/index.js';
import type { StateEnvs } from '../state/index.js';
import { dkimHeaderEdits, signingDomainOf, type KeyCheck, type KeyRing } from '../sign/index.js';
import { arcSealEdits, ourAuthResults, type ArcSealer } from '../sign/arc-seal.js';
import { decide, selectClass } from '../verdict/index.js';
import type { SpamRuntime } from '../content/spam/index.js';
import { avLogValue, avPolicy } from '../content/checks/antivirus.js';
import type { QuarantineStore } from '../quarantine/index.js';
import { alertPostmaster } from './virus-alert.js';
import { archiveRecipients, isArchiveAddress } from '../rules/archive.js';
import { notificationEntry, rewriteSpooledBody, runRules, type RulesRuntime } from '../rules/pipeline.js';
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
  /** Where a `quarantine` verdict stores the message instead of queueing it. */
  readonly quarantine?: QuarantineStore;
  /** The rules engine (rules/): its compiled rule set and clock; absent: no rules. */
  readonly rules?: RulesRuntime;
  /** The spam check's runtime (Bayes store, feature threads); absent: no spam scoring. */
  readonly spam?: SpamRuntime | null;
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
  policyScores(); // rules/scores/policy.yaml is checked at start-up, not at the first session
  const sessions = new Map<string, Session>();
  const perIp = new Map<string, number>();
  let draining = false;
  const trustList = networkList(lc.trustedNetworks);
  const trusted = (ip: string) => inNetworks(trustList, ip);

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
    const d = await checkPhase(phase, { config, session, envelope, resolve: deps.resolver.resolve, state: deps.state, ...(recipient !== undefined ? { recipient } : {}) });
    const err = decisionError(d);
    if (err) rejectLog(session, phase, err, { from: envelope.mailFrom, ...(recipient ? { to: recipient } : {}), ...(d.hits && d.hits.length > 0 ? { symbols: d.hits.map((h) => `${h.name}(${h.score})`) } : {}) });
    // A 5xx teaches the reputation store (issue 5); a 4xx (greylist, rate limit) does not.
    if (err && err.responseCode >= 500) learn(() => learnFromReject(policyStores(deps.state).reputation, config, session));
    return err;
  };

  const learn = (fn: () => Promise<void>) => {
    fn().catch((err: unknown) => log.warn({ event: 'warning', err: (err as Error).message }, 'reputation update failed'));
  };
  // rules/scores/reputation.yaml: a broken file stops the worker at start, not mid-session.
  reputationScores();

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
      // Session policy at connect (DNSBL, reverse DNS): a refusal here is sent instead of the 220.
      phaseCheck('connect', s).then((err) => cb(err ?? undefined), (err: unknown) => cb(toSmtpError(err)));
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
      // HELO checks run here, when the greeting is final (smtp-server has no HELO hook).
      phaseCheck('helo', proposed).then((err) => err ?? phaseCheck('mail', proposed)).then((err) => cb(err), (err: unknown) => cb(toSmtpError(err)));
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
  // Read by the error-limit shim: 421 after this many 4xx/5xx replies or unknown commands.
  Object.assign(server.options, { maxErrors: config.policy.hygiene.maxErrors, maxUnknownCommands: config.policy.hygiene.maxUnknownCommands });

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
    const bareNewline = new BareNewlineDetector();
    let body: BodyLocation;
    try {
      body = await deps.spool.write(qid, Buffer.from(received), stream, (chunk) => { capture.observe(chunk); bareNewline.observe(chunk); }, () => stream.sizeExceeded);
    } catch (err) {
      const e = storageError(err);
      log.error({ event: 'reject', qid: null, sid: session.id, client: session.clientIp, phase: 'data', err: (err as Error).message, response: replyText(e.code) }, 'spool write failed');
      throw e;
    }
    if (stream.sizeExceeded) {
      deps.spool.remove(qid, body);
      throw new GatewayError('MESSAGE_TOO_BIG');
    }
    const smuggling = config.policy.hygiene.rejectBareLf ? bareNewline.end() : null;
    if (smuggling) {
      deps.spool.remove(qid, body);
      log.info({ event: 'reject', qid: null, rejectedQid: qid, sid: session.id, client: session.clientIp, helo: session.helo, phase: 'data', from: envelope.mailFrom, to: envelope.recipients, detail: smuggling, response: `${REPLIES.SMUGGLING_REJECT.code} ${replyText('SMUGGLING_REJECT')}` }, 'reject');
      throw new GatewayError('SMUGGLING_REJECT');
    }
    const headers = parseHeaders(capture.headerBlock());
    const size = capture.size;
    // What is spooled (Received included); a body transform replaces both.
    let spooledSize = size + received.length;
    const message = { qid, size, headers, messageId: headerValue(headers, 'message-id'), addedHeaders: [], openBody: () => deps.spool.open(qid, body, spooledSize) };
    const content = await scanContent({ config, session, envelope: { ...envelope, size }, message, resolve: deps.resolver.resolve, scores: deps.scores, spam: deps.spam ?? null });
    let rules = null;
    if (deps.rules && !content.tempfail) {
      if (session.direction === 'inbound' && envelope.recipients.some((r) => isArchiveAddress(config, r))) {
        deps.spool.remove(qid, body);
        const detail = 'archive addresses take no mail from outside';
        log.info({ event: 'reject', qid: null, rejectedQid: qid, sid: session.id, client: session.clientIp, from: envelope.mailFrom, to: envelope.recipients, response: `${REPLIES.RULE_REJECT.code} ${replyText('RULE_REJECT', detail)}` }, 'reject');
        throw new GatewayError('RULE_REJECT', detail);
      }
      try {
        rules = await runRules(deps.rules, config, session, { ...envelope, size }, message, content);
      } catch (err) {
        deps.spool.remove(qid, body);
        log.error({ event: 'reject', qid: null, sid: session.id, err: (err as Error).message }, 'rules evaluation failed');
        throw new GatewayError('LOCAL_ERROR');
      }
    }
    const stage = { config, state: deps.state, session, mailFrom: envelope.mailFrom, recipients: envelope.recipients, size };
    // A rule's setClass names the class of service; otherwise the recipients' (sender's) class.
    const classOfService = (named: string | undefined) => {
      const chosen = named !== undefined ? config.classes[named] : undefined;
      if (named !== undefined && !chosen) log.warn({ event: 'warning', qid, class: named }, 'a rule set an unknown class of service; the selected class applies');
      return chosen && named !== undefined ? { name: named, thresholds: chosen[session.direction], ...(chosen.dmarc ? { dmarc: chosen.dmarc } : {}) }
        : selectClass(config.classes, session.direction, { recipients: envelope.recipients, sender: envelope.mailFrom, authUser: session.authUser });
    };
    const cos = classOfService(rules?.classOfService);
    const verdict = decide({
      direction: session.direction, hits: withReputation(policyHits(session), content.hits, reputationHits(stage, content.hits, content.authentication)), tempfail: content.tempfail, tempfailReply: content.tempfailReply,
      headerEdits: content.headerEdits, authentication: content.authentication, dmarcReject: cos.dmarc?.reject ?? config.authentication.dmarcReject,
      dmarcQuarantine: cos.dmarc?.quarantine ?? config.authentication.dmarcQuarantine,
      onVirus: avPolicy(config.antivirus, session.direction, config.classes[cos.name]?.antivirus).onVirus,
      rules, archive: deps.rules ? archiveRecipients(config, session.direction, envelope.mailFrom, envelope.recipients) : [],
      spam: config.spam.enabled ? { classOfService: cos, subject: headerValue(headers, 'subject') } : null,
    });
    const auth = content.authentication;
    const logFields = {
      qid, sid: session.id, client: session.clientIp, helo: session.helo, tls: session.tls?.protocol ?? null, user: session.authUser, from: envelope.mailFrom, to: envelope.recipients, size, msgid: message.messageId,
      ...(auth ? { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc, arc: auth.arc } : {}),
      av: avLogValue(verdict.hits, config),
      score: verdict.score, action: verdict.action, symbols: verdict.hits.map((h) => `${h.name}(${h.score})`),
      ...(verdict.rules && verdict.rules.length > 0 ? { rules: verdict.rules.map((r) => `${r.rule}: ${r.actions.join(', ')}`) } : {}),
      ...(verdict.classOfService ? { class: verdict.classOfService } : {}),
      ...(verdict.detail && verdict.action === 'quarantine' ? { reason: verdict.detail } : {}),
    };
    const virus = verdict.hits.find((h) => h.name === 'AV_VIRUS');
    const alert = (outcome: 'rejected' | 'quarantined') => (virus && session.direction === 'outbound'
      ? alertPostmaster(deps, { qid, session, mailFrom: envelope.mailFrom, recipients: envelope.recipients, virus: virus.detail ?? 'unknown', outcome })
      : Promise.resolve());
    // Greylisting of the doubtful and rate limits (issue 5); a message deferred here teaches nothing yet.
    const after = await afterVerdict(stage, verdict, content.authentication);
    if (after.kind === 'defer') {
      deps.spool.remove(qid, body);
      const symbols = [...logFields.symbols, ...after.hits.map((h) => `${h.name}(${h.score})`)];
      log.info({ event: 'reject', ...logFields, symbols, qid: null, rejectedQid: qid, response: `${REPLIES[after.reply].code} ${replyText(after.reply, after.detail)}` }, 'reject');
      throw new GatewayError(after.reply, after.detail);
    }
    learn(() => learnFromVerdict(policyStores(deps.state).reputation, config, session, envelope.mailFrom, verdict, content.authentication));
    if (verdict.action === 'reject' || verdict.action === 'defer') {
      deps.spool.remove(qid, body);
      await alert('rejected');
      const key = verdict.reply ?? (verdict.action === 'reject' ? 'RELAY_DENIED' : 'LOCAL_ERROR');
      log.info({ event: 'reject', ...logFields, qid: null, rejectedQid: qid, response: `${REPLIES[key].code} ${replyText(key, verdict.detail)}` }, 'reject');
      throw new GatewayError(key, verdict.detail);
    }
    if (verdict.action === 'discard') {
      deps.spool.remove(qid, body);
      log.info({ event: 'verdict', ...logFields }, 'discarded');
      return qid;
    }
    if (verdict.action === 'quarantine') {
      // Stored instead of queued; the 250 waits for the store to be durable (contract 1).
      try {
        if (!deps.quarantine) throw new Error('no quarantine store in this process');
        await deps.quarantine.put({
          qid, direction: session.direction, envelope, recipients: envelope.recipients, reason: verdict.detail ?? 'quarantine', verdict: receiptOf({ ...logFields, direction: session.direction, listener: name }),
          body: message.openBody(), headerEdits: verdict.headerEdits, messageId: message.messageId, subject: headerValue(headers, 'subject'),
        });
      } catch (err) {
        deps.spool.remove(qid, body);
        log.error({ event: 'reject', qid: null, sid: session.id, err: (err as Error).message }, 'quarantine store failed');
        throw storageError(err);
      }
      deps.spool.remove(qid, body);
      log.info({ event: 'quarantined', ...logFields, reason: verdict.detail }, 'quarantined');
      await alert('quarantined');
      return qid;
    }
    let original: Buffer | null = null;
    if (verdict.bodyTransforms && verdict.bodyTransforms.length > 0) {
      // Before DKIM signing, which signs the body as it will go out; spooled before the 250.
      try {
        const rw = await rewriteSpooledBody(deps.spool, qid, body, spooledSize, headerValue(headers, 'content-type'), verdict.bodyTransforms, Boolean(verdict.quarantineOriginal));
        body = rw.body;
        spooledSize = rw.size;
        original = rw.original;
        Object.assign(logFields, rw.applied.length > 0 ? { transforms: rw.applied } : {}, rw.skipped ? { transformsSkipped: rw.skipped } : {});
      } catch (err) {
        deps.spool.remove(qid, body);
        log.error({ event: 'reject', qid: null, sid: session.id, err: (err as Error).message }, 'body transform failed');
        throw storageError(err);
      }
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
    // The original a body transform replaced is kept in quarantine under its own qid.
    const originalQid = original && verdict.quarantineOriginal ? newQid() : null;
    if (originalQid && verdict.quarantineOriginal) Object.assign(logFields, { quarantineOriginal: verdict.quarantineOriginal.reason, quarantinedOriginal: originalQid });
    const held = after.kind === 'hold' ? after : null;
    const receiptFields = held ? { ...logFields, held: held.reason, symbols: [...logFields.symbols, ...held.hits.map((h) => `${h.name}(${h.score})`)] } : logFields;
    const now = Date.now();
    const entry: QueueEntry = {
      qid, state: held ? 'hold' : 'incoming', direction: session.direction, listener: name, client: session.clientIp, helo: session.helo,
      authUser: session.authUser, mailFrom: envelope.mailFrom,
      recipients: [...new Set([...(verdict.redirectTo ?? envelope.recipients), ...verdict.extraRecipients])].map((address) => ({ address, state: 'pending' as const, attempts: 0 })),
      size: spooledSize, body, messageId: message.messageId, bodyType: envelope.bodyType, smtpUtf8: envelope.smtpUtf8,
      receivedAt: now, nextAttemptAt: now, attempts: 0, headerEdits, isBounce: false, delayWarned: false,
      // direction and listener let `tuxhat rules replay` judge who-conditions on the record.
      receipt: receiptOf({ ...receiptFields, direction: session.direction, listener: name }),
    };
    // Extra entries of the rules (notifications) and the original a body transform replaced
    // (kept in quarantine under its own qid): durable before the 250, like the entry.
    const extras: QueueEntry[] = [];
    try {
      if (original && originalQid && verdict.quarantineOriginal) {
        if (!deps.quarantine) throw new Error('no quarantine store in this process');
        await deps.quarantine.put({
          qid: originalQid, direction: session.direction, envelope, recipients: envelope.recipients,
          reason: verdict.quarantineOriginal.reason, verdict: receiptOf({ ...logFields, originalOf: qid }),
          body: original, messageId: message.messageId, subject: headerValue(headers, 'subject'),
        });
      }
      for (const n of verdict.notifications ?? []) extras.push(await notificationEntry(deps.spool, config, entry, n));
      await Promise.all([entry, ...extras].map((e) => enqueue(deps.state, e)));
    } catch (err) {
      deps.spool.remove(qid, body);
      for (const e of extras) deps.spool.remove(e.qid, e.body);
      log.error({ event: 'reject', qid: null, sid: session.id, err: (err as Error).message }, 'queue commit failed');
      throw err;
    }
    log.info({ event: 'queued', ...receiptFields }, 'queued');
    if (held) {
      // Compromised-account auto-hold (issue 5): kept, not lost; the postmaster decides.
      log.warn({ event: 'ratelimit_hold', qid, sid: session.id, client: session.clientIp, user: session.authUser, from: envelope.mailFrom, reason: held.reason, alert: held.alert }, 'outbound mail put on hold: rate limit exceeded');
      if (held.alert) {
        try {
          const nqid = await queueHoldNotice(config, deps.state, deps.spool, { heldQid: qid, user: session.authUser, client: session.clientIp, mailFrom: envelope.mailFrom, reason: held.reason });
          log.info({ event: 'queued', qid: nqid, from: '', to: [config.postmaster], noticeFor: qid }, 'postmaster notice queued');
        } catch (err) {
          log.error({ event: 'warning', qid, err: (err as Error).message }, 'postmaster notice could not be queued');
        }
      }
    }
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

/**
 * The session's policy hits, the content hits and the reputation symbols of the data stage. The
 * MAIL-phase reputation check already put the client's and the sender's symbols among the
 * session's hits: the data stage adds only what is new (the DKIM domain), so no symbol counts twice.
 */
export function withReputation(session: readonly Hit[], content: readonly Hit[], reputation: readonly Hit[]): Hit[] {
  return [...session, ...content, ...reputation.filter((r) => !session.some((h) => h.name === r.name))];
}
