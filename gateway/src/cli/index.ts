/* cli/ — the `tuxhat` command. main.ts is the executable; everything else imports from here. */
export { main, helpText, packageVersion } from './dispatch.js';
export { resolveConfigFile } from './config-file.js';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './io.js';
