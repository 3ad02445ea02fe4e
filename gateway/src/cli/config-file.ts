/*
 * cli/config-file.ts — which config file a command uses, and loading it.
 *
 * The rule (also in --help): --config FILE if given; otherwise /etc/tuxhat/gateway.yaml if it
 * exists; otherwise null, meaning the embedded development defaults. Input: the --config value.
 * Output: a path or null, and a frozen Config. Does not: watch or reload files (the daemon does).
 * Runs in the `tuxhat` process.
 */
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_FILE, loadConfigFile, parseConfig, type Config } from '../config/index.js';

export function resolveConfigFile(given: string | undefined, defaultFile: string = DEFAULT_CONFIG_FILE): string | null {
  if (given !== undefined) return given;
  return existsSync(defaultFile) ? defaultFile : null;
}

/** Load the resolved file, or the embedded defaults for null. Throws ConfigError. */
export function loadResolvedConfig(file: string | null): Config {
  return file === null ? parseConfig({}) : loadConfigFile(file);
}

export const EMBEDDED_DEFAULTS_NAME = '<embedded defaults>';
