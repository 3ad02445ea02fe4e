/*
 * cli/appliance-commands.ts — `tuxhat appliance nftables|rsyslog|check`: print the OS config the
 * appliance generates from the validated configs, or validate them.
 *
 * Input: --config (gateway.yaml, resolved as everywhere) and an optional appliance settings file
 * (default /etc/tuxhat/appliance.yaml; absent means its defaults). Output: the ruleset or rsyslog
 * file on stdout; errors name the file, line and field (ConfigError). Does not: write or load
 * anything into the system (the console backend does, after `nft -c` / `rsyslogd -N1`).
 * Runs in the `tuxhat` process (root on the appliance; also in CI for the lint test).
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  DEFAULT_APPLIANCE_FILE, loadApplianceText, renderNftables, renderRsyslog, type ApplianceSettings,
} from '../appliance/index.js';
import type { CommandContext } from './command.js';
import { EMBEDDED_DEFAULTS_NAME, loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { CliError, EXIT_OK } from './io.js';

function settings(ctx: CommandContext): { file: string; settings: ApplianceSettings } {
  const given = ctx.args[0];
  const file = given ?? DEFAULT_APPLIANCE_FILE;
  if (given === undefined && !existsSync(file)) return { file: '<appliance defaults>', settings: loadApplianceText('', '<appliance defaults>') };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return { file, settings: loadApplianceText(text, file) };
}

export async function applianceNftablesCommand(ctx: CommandContext): Promise<number> {
  const config = loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile));
  ctx.io.stdout.write(renderNftables(config, settings(ctx).settings));
  return EXIT_OK;
}

export async function applianceRsyslogCommand(ctx: CommandContext): Promise<number> {
  ctx.io.stdout.write(renderRsyslog(settings(ctx).settings));
  return EXIT_OK;
}

export async function applianceCheckCommand(ctx: CommandContext): Promise<number> {
  const configFile = resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile);
  loadResolvedConfig(configFile);
  const { file } = settings(ctx);
  ctx.io.stdout.write(`${configFile ?? EMBEDDED_DEFAULTS_NAME}: ok\n${file}: ok\n`);
  return EXIT_OK;
}
