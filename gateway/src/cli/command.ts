/*
 * cli/command.ts — the shape of one `tuxhat` command and of the parsed command line.
 *
 * dispatch.ts holds the ordered table of commands; --help is generated from it, so a command
 * cannot exist without its one-line description. Runs in the `tuxhat` process.
 */
import type { CliIo } from './io.js';

/** Every option `tuxhat` knows; each command lists the ones that apply to it. */
export interface Options {
  readonly config?: string;
  readonly socket?: string;
  readonly file?: string;
  readonly state?: string;
  readonly json?: boolean;
  readonly timeout?: string;
  readonly selector?: string;
  readonly algorithm?: string;
  readonly dir?: string;
  /** rules test / replay (cli/rules-commands.ts). */
  readonly from?: string;
  readonly to?: string;
  readonly ip?: string;
  readonly direction?: string;
  readonly user?: string;
  readonly listener?: string;
  readonly at?: string;
  readonly since?: string;
  readonly rules?: string;
  readonly domain?: string;
  readonly promote?: boolean;
  readonly force?: boolean;
  readonly help?: boolean;
  readonly version?: boolean;
}

export type OptionName = keyof Options;

export interface CommandContext {
  readonly io: CliIo;
  /** Positional arguments after the command words. */
  readonly args: readonly string[];
  readonly opts: Options;
}

export interface Command {
  /** The command words, e.g. ['queue', 'list']. */
  readonly words: readonly string[];
  /** Argument synopsis for --help, e.g. 'QID' or '[FILE]'. */
  readonly synopsis: string;
  readonly summary: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly options: readonly OptionName[];
  run(ctx: CommandContext): Promise<number>;
}
