/*
 * cli/run-command.ts — `tuxhat run`: start the daemon in the foreground (systemd runs this).
 *
 * Input: --config FILE (resolved as in config-file.ts). Output: whatever the daemon does; the
 * exit status once run() returns. Does not: daemonise, write pid files or parse the config —
 * process/ does all of that and reports its own errors.
 * Runs in the primary process (and, through node:cluster re-running this file, in workers).
 */
import type { CommandContext } from './command.js';
import { resolveConfigFile } from './config-file.js';
import { EXIT_OK } from './io.js';

interface DaemonModule {
  run(opts: { configFile: string | null }): Promise<void>;
}

/**
 * Loaded on demand so that `tuxhat queue list` never loads the daemon's dependencies (lmdb,
 * smtp-server): the CLI stays quick and works even where a native addon is broken. The
 * specifier is a variable so the compiler does not require process/ to exist while it is built.
 */
async function defaultStartDaemon(opts: { configFile: string | null }): Promise<void> {
  const specifier = '../process/index.js';
  const daemon = (await import(specifier)) as DaemonModule;
  await daemon.run(opts);
}

export async function runCommand(ctx: CommandContext): Promise<number> {
  const configFile = resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile);
  await (ctx.io.startDaemon ?? defaultStartDaemon)({ configFile });
  return EXIT_OK;
}
