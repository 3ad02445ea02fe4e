/*
 * cli/config-commands.ts — `tuxhat config check [FILE]` and `tuxhat config defaults`.
 *
 * check: load the file as the daemon would (and the users file it names, since a broken one
 * stops AUTH) and print "FILE: ok", or the loader's explanation by field and line, exit 1.
 * defaults: the embedded development config as YAML, like `postconf -d`; it comes from the zod
 * schema, the only place defaults live. Does not: contact the running daemon (use reload).
 * Runs in the `tuxhat` process.
 * Imports listen/users.ts directly, not listen/index.ts (house style §1, on purpose): the front
 * door also loads smtp-server and TLS, which a CLI command has no use for.
 */
import { stringify } from 'yaml';
import { configSchema } from '../config/index.js';
import { loadUsers } from '../listen/users.js';
import type { CommandContext } from './command.js';
import { EMBEDDED_DEFAULTS_NAME, loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { EXIT_OK, UsageError } from './io.js';

export async function configCheckCommand(ctx: CommandContext): Promise<number> {
  const positional = ctx.args[0];
  if (positional !== undefined && ctx.opts.config !== undefined && positional !== ctx.opts.config) {
    throw new UsageError('give the file either as an argument or with --config, not both');
  }
  const file = resolveConfigFile(positional ?? ctx.opts.config, ctx.io.defaultConfigFile);
  // ConfigError carries the whole explanation; dispatch prints it as is and exits 1.
  const config = loadResolvedConfig(file);
  loadUsers(config.usersFile);
  ctx.io.stdout.write(`${file ?? EMBEDDED_DEFAULTS_NAME}: ok\n`);
  return EXIT_OK;
}

export async function configDefaultsCommand(ctx: CommandContext): Promise<number> {
  ctx.io.stdout.write(stringify(configSchema.parse({})));
  return EXIT_OK;
}
