#!/usr/bin/env node
/*
 * cli/main.ts — the `tuxhat` executable (package.json bin): hand argv and the real stdio to
 * main() and set the exit status.
 *
 * Kept tiny because importing it runs it; tests import main() from ./index.js instead. Sets
 * process.exitCode rather than calling process.exit(): `tuxhat run` must keep the daemon's
 * event loop alive after main() returns, and other commands close their handles so the process
 * ends by itself once output is flushed.
 * Runs in the `tuxhat` process (and as the daemon's primary for `tuxhat run`).
 */
import { main } from './index.js';

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
