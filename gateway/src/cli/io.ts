/*
 * cli/io.ts — what a `tuxhat` command may touch of the outside world, and its two error kinds.
 *
 * main(argv, io) takes everything through CliIo so tests drive the CLI in-process with captured
 * output; the real process passes process.stdin/stdout/stderr (main.ts). Does not: format
 * output or exit the process (main returns the exit status).
 * Runs in the `tuxhat` process.
 */
import type { Readable } from 'node:stream';

export interface CliIo {
  /** Password input for `user add`; a TTY is read without echo. */
  readonly stdin: Readable & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Where the default config is looked for; /etc/tuxhat/gateway.yaml unless a test says otherwise. */
  readonly defaultConfigFile?: string;
  /** Starts the daemon; by default process/index.js's run(). */
  readonly startDaemon?: (opts: { configFile: string | null }) => Promise<void>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line itself is wrong: exit 2 with a hint to --help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command was understood but failed for a reason the user can act on: exit 1, one line. */
export class CliError extends Error {
  override readonly name = 'CliError';
}
