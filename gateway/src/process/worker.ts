/*
 * process/worker.ts — a receiver worker: listen → policy → content → verdict → enqueue.
 *
 * Started by the primary with node:cluster; gets its validated config over IPC (so primary and
 * workers never disagree about the file), opens the shared LMDB environments and the spool,
 * and listens on the shared sockets. On 'drain' it stops taking sessions (421; on a reload
 * handover, when the new generation already listens, it stops accepting at once), lets running
 * ones finish, and exits. Any uncaught error ends the process (the primary starts a new one):
 * nothing is lost, because nothing was answered 250 before its commit.
 */
import { loadContentScores } from '../content/index.js';
import { loadRuleSet } from '../rules/load.js';
import { rulesClock } from '../rules/pipeline.js';
import { createSpamRuntime, type SpamRuntime } from '../content/spam/index.js';
import { createResolver, type DnsResolver } from '../dns/index.js';
import { installSmtpServerShims, createListener, loadTlsMaterial, loadUsers, type Listener } from '../listen/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { Spool } from '../queue/index.js';
import { dkimKeysDir, loadKeyRing } from '../sign/index.js';
import { startDkimKeyCheck } from '../sign/key-check-start.js';
import { loadArcSealer } from '../sign/arc-seal.js';
import { openState } from '../state/index.js';
import { QuarantineStore } from '../quarantine/index.js';
import { antivirusStartupMessage } from '../content/checks/antivirus.js';
import type { ToPrimary, ToWorker } from './messages.js';

function send(m: ToPrimary): void {
  process.send?.(m);
}

/** One IPC message per event turn, however many messages were queued in it. */
let queuedPending = false;
function notifyQueued(): void {
  if (queuedPending) return;
  queuedPending = true;
  setImmediate(() => {
    queuedPending = false;
    send({ type: 'queued' });
  });
}

export function runWorker(): void {
  let listeners: Listener[] = [];
  let log: Logger | null = null;
  let state: ReturnType<typeof openState> | null = null;
  let spool: Spool | null = null;
  let resolver: DnsResolver | null = null;
  let spam: SpamRuntime | null = null;

  process.on('uncaughtException', (err) => {
    (log ?? console).error?.({ event: 'warning', err: { message: err.message, stack: err.stack } }, 'worker crashed');
    process.exit(1);
  });

  process.on('message', (m: ToWorker) => {
    if (m?.type === 'start') {
      const { config } = m;
      log = createLogger({ level: config.log.level, role: 'receiver' });
      try {
        installSmtpServerShims((msg) => log!.warn({ event: 'warning' }, msg));
        state = openState(config.paths.state);
        spool = new Spool(config.paths.spool, { onSealed: (segment) => send({ type: 'sealed', segment }) });
        const users = loadUsers(config.usersFile);
        const tls = loadTlsMaterial(config);
        // One resolver and one score table per process: the DNS cache is shared by every
        // message (mailauth keeps none), and a broken rules file stops the worker at start.
        resolver = createResolver(config.dns);
        const scores = loadContentScores();
        // DKIM keys once per receiver: a broken or missing configured key stops the worker at start.
        const dkimKeys = config.dkim.enabled ? loadKeyRing(dkimKeysDir(config), config.dkim.domains) : new Map();
        // ARC sealing key (arc:), read once; a missing or non-RSA key stops the worker at start.
        const arcSealer = loadArcSealer(config, dkimKeysDir(config));
        const quarantine = new QuarantineStore(state, config);
        // Decides antivirus 'auto' for this process now, so a clamd stopping later means 451, not off.
        const av = antivirusStartupMessage(config.antivirus);
        log.debug({ event: 'startup', antivirus: av.active }, av.message);
        // Rules once per receiver (the primary validated them before starting this generation).
        const rules = { set: loadRuleSet(config.rules.dirs), now: rulesClock() };
        // The spam runtime: Bayes counts in the durable environment; spamscanner's threads load in
        // the background (seconds), messages meanwhile are scored without its features.
        spam = createSpamRuntime(config, state.durable, scores.spam);
        spam.features?.warm().then(
          () => log!.info({ event: 'spamscanner', threads: config.spam.features.threads }, 'spamscanner feature extractor ready'),
          (err: Error) => log!.warn({ event: 'warning', err: err.message }, 'spamscanner feature extractor did not start; scoring without it'),
        );
        // Each key's DNS record checked at start and every dkim.dnsCheck.intervalMs (sign/key-check.ts).
        // Started after the synchronous start-up work (reading the SpamAssassin rules, keys, TLS
        // material): its look-ups' deadlines must not run out while the event loop is busy.
        const dkimKeyCheck = startDkimKeyCheck(config, dkimKeys, resolver, log);
        const deps = { config, state, spool, log, users, tls, resolver, scores, dkimKeys, notifyQueued, quarantine, rules, spam, ...(dkimKeyCheck ? { dkimKeyCheck } : {}), ...(arcSealer ? { arcSealer } : {}) };
        listeners = Object.entries(config.listeners).map(([name, lc]) => createListener(name, lc, deps));
        let pending = listeners.length;
        for (const l of listeners) {
          const lc = config.listeners[l.name]!;
          l.server.listen(lc.port, lc.address, () => {
            if (--pending === 0) send({ type: 'listening' });
          });
        }
      } catch (err) {
        send({ type: 'fatal', error: (err as Error).message });
        log.fatal({ event: 'warning', err: (err as Error).message }, 'worker cannot start');
        setTimeout(() => process.exit(1), 50);
      }
    } else if (m?.type === 'drain') {
      const handover = m.handover === true;
      void Promise.all(listeners.map((l) => l.drain({ handover }))).then(async () => {
        spool?.close();
        resolver?.close();
        await spam?.features?.close();
        await state?.close();
        log?.flush();
        process.exit(0);
      });
    }
  });
  send({ type: 'hello' });
}
