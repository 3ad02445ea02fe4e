/*
 * process/ — `tuxhat run`: the primary (queue, delivery, admin) or a receiver worker.
 * A config error is printed naming the file, line and field, and the process exits 78
 * (EX_CONFIG) without starting anything.
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfigFile, parseConfig } from '../config/index.js';

/**
 * Each role loads only its own modules: a receiver never needs delivery or the admin API, the
 * primary never needs smtp-server or the content checks (bench/: ~25 MB per process, which the
 * 1,000 idle sessions floor counts three times).
 */
export async function run(opts: { configFile: string | null }): Promise<void> {
  if (!cluster.isPrimary) {
    (await import('./worker.js')).runWorker();
    return;
  }
  let config;
  try {
    config = opts.configFile ? loadConfigFile(opts.configFile) : parseConfig({});
    // Rule files are checked here too: a broken one stops the start like a broken config.
    (await import('../rules/load.js')).loadRuleSet(config.rules.dirs);
  } catch (err) {
    if (err instanceof ConfigError || (err as Error).name === 'ConfigError') {
      process.stderr.write(`tuxhat: ${(err as Error).message}\n`);
      process.exit(78);
    }
    throw err;
  }
  await (await import('./primary.js')).runPrimary(opts.configFile, config);
}
