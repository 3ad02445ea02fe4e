#!/usr/bin/env node
/*
 * console/main.ts — `node dist/gateway/src/console/main.js [--backend system|fake] [--dir DIR]
 * [--config FILE] [--appliance FILE]`: the console setup menu's executable.
 *
 * On the appliance tuxhat-console@tty1.service and @ttyS0 run it as root with the system
 * backend; tests run it in tmux with --backend fake --dir DIR (files in DIR, calls recorded).
 * Why here (gateway/src/console/) and not appliance/console-menu/: the menu must use the very
 * zod schema and YAML loader the daemon uses (config/), the admin client (cli/) and the same
 * build, so it lives in the gateway's source tree and ships in the same dist/.
 * Runs in the console process.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE } from '../config/index.js';
import { DEFAULT_APPLIANCE_FILE } from '../appliance/index.js';
import type { ConsoleBackend } from './backend.js';
import { FakeBackend } from './fake-backend.js';
import { ConsoleMenu } from './menu.js';
import { TerminalScreen } from './screen.js';
import { SystemBackend } from './system-backend.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'system' },
    dir: { type: 'string' },
    config: { type: 'string', default: DEFAULT_CONFIG_FILE },
    appliance: { type: 'string', default: DEFAULT_APPLIANCE_FILE },
  },
});

let backend: ConsoleBackend;
if (values.backend === 'fake') {
  if (!values.dir) throw new Error('--backend fake needs --dir DIR');
  backend = new FakeBackend(values.dir);
} else if (values.backend === 'system') {
  backend = new SystemBackend({ gatewayFile: values.config, applianceFile: values.appliance });
} else {
  throw new Error(`unknown backend ${values.backend}`);
}

const screen = new TerminalScreen();
try {
  await new ConsoleMenu(screen, backend).run();
} finally {
  screen.close();
}
