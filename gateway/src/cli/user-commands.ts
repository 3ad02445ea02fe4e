/*
 * cli/user-commands.ts — `tuxhat user add|remove|list`: edit the local AUTH users file.
 *
 * The file is --file FILE, else the config's usersFile. add reads the password from stdin
 * (password-input.ts), hashes it with scrypt and rewrites the file atomically (listen/users.ts
 * owns the format). Does not: print or log passwords or hashes, or notify the running daemon
 * (picking the change up is the daemon's job, e.g. on `tuxhat reload`).
 * Runs in the `tuxhat` process, usually as root.
 * Imports listen/users.ts directly, not listen/index.ts (house style §1, on purpose): the front
 * door also loads smtp-server and TLS, which a CLI command has no use for.
 */
import { existsSync } from 'node:fs';
import { hashPassword, loadUsers, removeUser, setUser } from '../listen/users.js';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { CliError, EXIT_FAILURE, EXIT_OK, UsageError } from './io.js';
import { readNewPassword } from './password-input.js';

// Deliberately loose (RFC 5321 local parts are wild): it catches swapped arguments and stray
// spaces, not every invalid address.
const ADDRESS = /^[^\s@:]+@[^\s@:]+$/;

function usersFile(ctx: CommandContext): string {
  if (ctx.opts.file !== undefined) return ctx.opts.file;
  const configFile = resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile);
  const file = loadResolvedConfig(configFile).usersFile;
  if (file === undefined) {
    throw new CliError(`no users file: give --file FILE or set usersFile in ${configFile ?? 'the configuration'}`);
  }
  return file;
}

function addressArg(ctx: CommandContext): string {
  const address = ctx.args[0] ?? '';
  if (!ADDRESS.test(address) || address.length > 254) throw new UsageError(`not an address: ${address}`);
  return address;
}

export async function userAddCommand(ctx: CommandContext): Promise<number> {
  const address = addressArg(ctx);
  const file = usersFile(ctx);
  const hash = await hashPassword(await readNewPassword(ctx.io, address));
  const what = await setUser(file, address, hash);
  ctx.io.stdout.write(`${file}: ${what} ${address.toLowerCase()}\n`);
  return EXIT_OK;
}

export async function userRemoveCommand(ctx: CommandContext): Promise<number> {
  const address = addressArg(ctx);
  const file = usersFile(ctx);
  if (!(await removeUser(file, address))) {
    ctx.io.stderr.write(`tuxhat: ${address} is not in ${file}\n`);
    return EXIT_FAILURE;
  }
  ctx.io.stdout.write(`${file}: removed ${address.toLowerCase()}\n`);
  return EXIT_OK;
}

export async function userListCommand(ctx: CommandContext): Promise<number> {
  const file = usersFile(ctx);
  if (!existsSync(file)) {
    // Not an error: the file is created by the first `user add`.
    ctx.io.stderr.write(`tuxhat: ${file} does not exist yet; no users\n`);
    if (ctx.opts.json) ctx.io.stdout.write('[]\n');
    return EXIT_OK;
  }
  const names = [...loadUsers(file).users.keys()].sort();
  if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify(names, null, 2)}\n`);
  else if (names.length > 0) ctx.io.stdout.write(`${names.join('\n')}\n`);
  return EXIT_OK;
}
