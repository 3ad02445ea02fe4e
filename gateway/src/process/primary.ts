/*
 * process/primary.ts — the primary process: config, queue manager, delivery, admin API,
 * systemd, and the receiver workers (ARCHITECTURE "Process model").
 *
 * Start order matters for "no loss": open state, sweep orphan spool files (no receiver is
 * running yet, so every file without a record is a crash leftover), start delivery, then fork
 * receivers. Reload (SIGHUP or the admin API) validates the file first; a bad file is refused
 * and everything keeps running on the old config. A good one starts a new generation of
 * receivers with it and drains the old one, so no session sees a half-applied config.
 * SIGTERM drains receivers (new sessions get 421), finishes delivery attempts, then exits.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { createAdminServer, summarize, type AdminBackend } from '../admin/index.js';
import { loadConfigFile, type Config } from '../config/index.js';
import { loadRuleSet } from '../rules/load.js';
import type { QueueState } from '../core/index.js';
import { createRouter, createTransports } from '../deliver/index.js';
import { createResolver } from '../dns/index.js';
import { ensureTlsMaterial } from '../listen/tls.js';
import { createLogger, type Logger } from '../log/index.js';
import { QueueManager, Spool, type DeliveryServices } from '../queue/index.js';
import { openState } from '../state/index.js';
import { antivirusStartupMessage } from '../content/checks/antivirus.js';
import { BayesStore } from '../state/bayes-store.js';
import { QuarantineStore, quarantineAdmin } from '../quarantine/index.js';
import { greylistMatcher, listGreylist, releaseGreylist, reputationKeys, resetReputation, showReputation, sweepPolicyStores } from '../state/index.js';
import type { PolicyStateAdmin } from '../admin/policy-state-routes.js';
import { isToPrimary, type ToWorker } from './messages.js';
import { claimStateDir } from './pidfile.js';
import { systemdNotifier } from './systemd.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface Generation {
  readonly id: number;
  readonly config: Config;
  readonly workers: Set<Worker>;
  listening: number;
  /**
   * Older generations to drain once this one listens (reload). Draining them first would close
   * the shared listening sockets while the new receivers are still starting: connections refused
   * for as long as a fork takes.
   */
  readonly retire: Generation[];
}

function buildServices(config: Config, log: Logger) {
  const resolver = createResolver(config.dns);
  const router = createRouter(config);
  const transports = createTransports(config, resolver, log);
  const services: DeliveryServices = { routeFor: (r) => router.routeFor(r), transportFor: (route) => transports.forRoute(route) };
  return { services, transports, resolver };
}

export async function runPrimary(configFile: string | null, initial: Config): Promise<void> {
  let config = initial;
  const log = createLogger({ level: config.log.level, role: 'primary' });
  const systemd = systemdNotifier(log);
  const startedAt = Date.now();
  log.info({ event: 'startup', configFile: configFile ?? '(embedded defaults)', version: VERSION }, configFile ? `starting with ${configFile}` : 'starting with the embedded development defaults');

  for (const dir of [config.paths.state, config.paths.spool, config.paths.run, dirname(config.admin.socket)]) mkdirSync(dir, { recursive: true, mode: 0o750 });
  let claim: { release(): void };
  try {
    claim = claimStateDir(config.paths.state);
  } catch (err) {
    log.fatal({ event: 'shutdown', err: (err as Error).message }, 'cannot start');
    log.flush();
    process.stderr.write(`tuxhat: ${(err as Error).message}\n`);
    process.exit(75); // EX_TEMPFAIL: try again once the other instance has stopped
  }
  const tlsGen = await ensureTlsMaterial(config);
  if (!(config.tls.keyFile && config.tls.certFile)) {
    log.warn({ event: 'warning', generated: tlsGen.generated }, 'TLS uses a self-signed certificate: senders can encrypt but cannot verify this host; configure tls.keyFile and tls.certFile');
  }
  const state = openState(config.paths.state);
  const spool = new Spool(config.paths.spool, { onSealed: (segment) => manager.noteSealed(segment) });
  let built = buildServices(config, log);
  const receiverPids = new Set<number>();
  const manager = new QueueManager(config, built.services, state, spool, log, {
    isLiveWriter: (pid) => pid === process.pid || receiverPids.has(pid),
  });
  const swept = manager.collectGarbage(true);
  if (swept.files + swept.segments > 0) log.warn({ event: 'warning', ...swept }, 'removed spool data without a queue record (left by a crash before its commit; none of it was answered 250)');
  manager.start();
  const av = antivirusStartupMessage(config.antivirus);
  if (av.active) log.info({ event: 'startup', antivirus: true }, av.message);
  else log.warn({ event: 'warning', antivirus: false }, av.message);
  const quarantine = new QuarantineStore(state, config);
  for (const f of quarantine.orphanFiles()) rmSync(join(quarantine.dir, f), { force: true });
  const sweepQuarantine = () => void quarantine.sweep().then((n) => {
    if (n > 0) log.info({ event: 'expired', from: 'quarantine', count: n }, 'quarantine retention: removed expired messages');
  }, (err: unknown) => log.warn({ event: 'warning', err: (err as Error).message }, 'quarantine sweep failed'));
  sweepQuarantine();
  const quarantineTimer = setInterval(sweepQuarantine, config.quarantine.sweepIntervalMs);
  quarantineTimer.unref();

  let generation: Generation | null = null;
  let generationSeq = 0;
  let shuttingDown = false;
  let readyNotified = false;
  const retired = new Set<Worker>();
  let wakePending = false;

  // Workers accept on the shared socket themselves: the primary also delivers mail and must not
  // be the bottleneck for every accepted connection (Haraka's tuning advice, same reason).
  // Before setupPrimary: it freezes the policy, a later assignment is silently ignored.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ silent: false });

  function startGeneration(cfg: Config, retire: Generation[] = []): Generation {
    const gen: Generation = { id: ++generationSeq, config: cfg, workers: new Set(), listening: 0, retire };
    const n = cfg.workers > 0 ? cfg.workers : availableParallelism();
    for (let i = 0; i < n; i++) forkWorker(gen);
    return gen;
  }

  function forkWorker(gen: Generation): void {
    const w = cluster.fork({ TUXHAT_ROLE: 'receiver' });
    gen.workers.add(w);
    const pid = w.process.pid;
    if (pid) receiverPids.add(pid);
    w.on('message', (m: unknown) => {
      if (!isToPrimary(m)) return;
      if (m.type === 'hello') {
        w.send({ type: 'start', config: gen.config, generation: gen.id } satisfies ToWorker);
      } else if (m.type === 'queued') {
        // Coalesce wake-ups: one scan serves every message queued in this turn.
        if (!wakePending) {
          wakePending = true;
          setImmediate(() => { wakePending = false; manager.wake(); });
        }
      } else if (m.type === 'sealed') {
        manager.noteSealed(m.segment);
      } else if (m.type === 'listening') {
        gen.listening++;
        if (gen.listening === gen.workers.size) onGenerationListening(gen);
      } else if (m.type === 'fatal') {
        log.error({ event: 'warning', worker: w.process.pid, error: m.error }, 'receiver could not start');
      }
    });
    w.on('exit', (code, signal) => {
      gen.workers.delete(w);
      if (pid) receiverPids.delete(pid);
      if (retired.delete(w) || shuttingDown) return;
      log.error({ event: 'warning', worker: w.process.pid, code, signal }, 'receiver exited unexpectedly; starting a new one');
      if (generation === gen) setTimeout(() => { if (!shuttingDown && generation === gen) forkWorker(gen); }, 500).unref();
    });
  }

  function onGenerationListening(gen: Generation): void {
    if (gen !== generation) return;
    const listeners = Object.entries(gen.config.listeners).map(([name, l]) => `${name}=${l.address}:${l.port}`).join(' ');
    log.info({ event: 'listening', generation: gen.id, workers: gen.workers.size, listeners }, 'receivers listening');
    if (!readyNotified) {
      readyNotified = true;
      systemd.ready(`accepting mail: ${listeners}`);
    } else {
      systemd.status(`reloaded; accepting mail: ${listeners}`);
    }
    // The new receivers hold the listening sockets now: the old ones may let go.
    for (const old of gen.retire.splice(0)) void drainGeneration(old, true);
  }

  /** `handover`: a newer generation listens already (reload), so the old one stops accepting at once. */
  function drainGeneration(gen: Generation, handover = false): Promise<void> {
    const exits = [...gen.workers].map((w) => new Promise<void>((resolve) => {
      retired.add(w);
      if (w.isDead()) return resolve();
      w.once('exit', () => resolve());
      w.send({ type: 'drain', handover } satisfies ToWorker);
      const limit = Math.max(...Object.values(gen.config.listeners).map((l) => l.closeTimeoutMs)) + 10_000;
      setTimeout(() => { if (!w.isDead()) w.process.kill('SIGKILL'); }, limit).unref();
    }));
    return Promise.all(exits).then(() => undefined);
  }

  async function reload(): Promise<{ ok: true } | { ok: false; error: string }> {
    if (!configFile) return { ok: false, error: 'running on the embedded defaults: there is no file to reload' };
    let next: Config;
    try {
      next = loadConfigFile(configFile);
      // A broken rule file refuses the reload like a broken config: the running rules stay.
      loadRuleSet(next.rules.dirs);
    } catch (err) {
      log.error({ event: 'reload', ok: false, err: (err as Error).message }, 'reload refused: the running configuration stays');
      return { ok: false, error: (err as Error).message };
    }
    const old = generation;
    const oldTransports = built.transports;
    config = next;
    built = buildServices(next, log);
    manager.reconfigure(next, built.services);
    // The old generation (and any not yet retired) keeps serving until the new one listens.
    generation = startGeneration(next, old ? [old, ...old.retire.splice(0)] : []);
    log.info({ event: 'reload', ok: true, generation: generation.id }, 'configuration reloaded');
    setTimeout(() => void oldTransports.close(), 60_000).unref();
    return { ok: true };
  }

  const policyState: PolicyStateAdmin = {
    async reputationShow(subject) {
      const keys = reputationKeys(config, subject);
      return keys && showReputation(state, config, keys);
    },
    async reputationReset(subject) {
      const keys = reputationKeys(config, subject);
      return keys && resetReputation(state, keys);
    },
    async greylistList() { return listGreylist(state); },
    async greylistRelease(match) {
      const m = greylistMatcher(config, match);
      return m && releaseGreylist(state, config, m);
    },
  };
  const backend: AdminBackend = {
    policyState,
    async status() {
      const counts = manager.counts();
      return {
        version: VERSION, pid: process.pid, startedAt, uptimeMs: Date.now() - startedAt,
        workers: generation ? [...generation.workers].map((w) => ({ id: w.id, pid: w.process.pid ?? 0, listening: generation!.listening > 0 })) : [],
        listeners: Object.entries(config.listeners).map(([name, l]) => ({ name, kind: l.kind, address: l.address, port: l.port, tls: l.tls })),
        queue: { incoming: counts.incoming ?? 0, deferred: counts.deferred ?? 0, hold: counts.hold ?? 0, corrupt: counts.corrupt ?? 0 },
      };
    },
    async queueList({ state: st }: { state?: QueueState }) {
      return manager.list(st).map(summarize);
    },
    async queueShow(qid) { return manager.show(qid); },
    queueFlush: (qid) => manager.flush(qid),
    queueHold: (qid) => manager.hold(qid),
    queueRelease: (qid) => manager.release(qid),
    queueDelete: (qid) => manager.remove(qid),
    async trace(qid) { return manager.trace(qid); },
    quarantine: quarantineAdmin({ store: quarantine, state, spool, log, wake: () => manager.wake(), config: () => config, ...(config.spam.enabled ? { bayes: new BayesStore(state.durable) } : {}) }),
    reload,
    async metrics() {
      const counts = manager.counts();
      const lines = [
        '# HELP tuxhat_queue_messages Messages in the queue by state.',
        '# TYPE tuxhat_queue_messages gauge',
        ...Object.entries(counts).map(([s, n]) => `tuxhat_queue_messages{state="${s}"} ${n}`),
        '# HELP tuxhat_delivery_outcomes_total Per-recipient delivery outcomes since start.',
        '# TYPE tuxhat_delivery_outcomes_total counter',
        ...(['delivered', 'deferred', 'bounced', 'expired'] as const).map((k) => `tuxhat_delivery_outcomes_total{status="${k}"} ${manager.stats[k]}`),
        '# HELP tuxhat_dns_cache_lookups_total DNS cache hits and misses since start.',
        '# TYPE tuxhat_dns_cache_lookups_total counter',
        `tuxhat_dns_cache_lookups_total{result="hit"} ${built.resolver.stats().hits}`,
        `tuxhat_dns_cache_lookups_total{result="miss"} ${built.resolver.stats().misses}`,
        '# HELP tuxhat_quarantine_messages Messages with a recipient still held in quarantine.',
        '# TYPE tuxhat_quarantine_messages gauge',
        `tuxhat_quarantine_messages ${quarantine.list().length}`,
        '# HELP tuxhat_receivers Receiver worker processes.',
        '# TYPE tuxhat_receivers gauge',
        `tuxhat_receivers ${generation?.workers.size ?? 0}`,
        '',
      ];
      return lines.join('\n');
    },
  };
  // Reputation, greylist and rate counters: TTLs and sweeping live in state/ (issue 5).
  setInterval(() => {
    sweepPolicyStores(state, config.reputation.halfLifeMs).then((r) => {
      if (r.reputation + r.greylist + r.rates > 0) log.debug({ event: 'removed', ...r }, 'policy state swept');
    }, (err: unknown) => log.warn({ event: 'warning', err: (err as Error).message }, 'policy state sweep failed'));
  }, 300_000).unref();
  const admin = createAdminServer(backend, { socketPath: config.admin.socket, log });
  await admin.listen();

  async function shutdown(signal: string): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    systemd.stopping();
    log.info({ event: 'shutdown', signal }, 'shutting down: draining receivers');
    if (generation) await Promise.all([generation, ...generation.retire.splice(0)].map((g) => drainGeneration(g)));
    clearInterval(quarantineTimer);
    await manager.stop();
    spool.close();
    await built.transports.close();
    await admin.close();
    await state.close();
    claim.release();
    log.info({ event: 'shutdown', done: true }, 'stopped');
    log.flush();
    setTimeout(() => process.exit(0), 50);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => void reload());

  generation = startGeneration(config);
}
