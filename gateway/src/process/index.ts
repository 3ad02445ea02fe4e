/*
 * process/ — `tuxhat run`: the primary (queue, delivery, admin) or a receiver worker.
 * A config error is printed naming the file, line and field, and the process exits 78
 * (EX_CONFIG) without starting anything.
 */
import cluster from 'node:cluster';
import { ConfigError } from '../config/index.js';
import { loadInitialConfig, runPrimary } from './primary.js';
import { runWorker } from './worker.js';

export async function run(opts: { configFile: string | null }): Promise<void> {
  if (!cluster.isPrimary) {
    runWorker();
    return;
  }
  let config;
  try {
    config = loadInitialConfig(opts.configFile);
  } catch (err) {
    if (err instanceof ConfigError || (err as Error).name === 'ConfigError') {
      process.stderr.write(`tuxhat: ${(err as Error).message}\n`);
      process.exit(78);
    }
    throw err;
  }
  await runPrimary(opts.configFile, config);
}
