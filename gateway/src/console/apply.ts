/*
 * console/apply.ts — put validated text into effect, all or nothing.
 *
 * gateway.yaml: write atomically, ask the daemon to reload; if it refuses (422) or cannot be
 * reached, the previous text is written back, so the file and the running daemon never disagree
 * for longer than the request. appliance.yaml: write atomically, then regenerate and apply the
 * firewall and syslog export from both files. Input: a backend and the new text (already valid,
 * from edits.ts). Output: a one-line result for the screen, or a thrown Error.
 * Runs in the console process.
 */
import { loadConfigText } from '../config/index.js';
import { loadApplianceText, renderNftables, renderRsyslog } from '../appliance/index.js';
import type { ConsoleBackend } from './backend.js';

export async function applyGateway(backend: ConsoleBackend, text: string): Promise<string> {
  const previous = await backend.readFile(backend.gatewayFile);
  await backend.writeFileAtomic(backend.gatewayFile, text);
  let reason: string;
  try {
    const result = await backend.reload();
    if (result.ok) {
      await applyFirewall(backend);
      return 'saved and reloaded';
    }
    reason = result.error;
  } catch (err) {
    reason = (err as Error).message;
  }
  await backend.writeFileAtomic(backend.gatewayFile, previous);
  throw new Error(`the gateway did not take the change (${reason}); ${backend.gatewayFile} was restored`);
}

export async function applyAppliance(backend: ConsoleBackend, text: string, what: { firewall?: boolean; syslog?: boolean }): Promise<string> {
  const previous = await backend.readFile(backend.applianceFile).catch(() => '');
  await backend.writeFileAtomic(backend.applianceFile, text);
  try {
    if (what.firewall) await applyFirewall(backend);
    if (what.syslog) await backend.applySyslog(renderRsyslog(loadApplianceText(text, backend.applianceFile)));
  } catch (err) {
    await backend.writeFileAtomic(backend.applianceFile, previous);
    throw new Error(`${(err as Error).message}; ${backend.applianceFile} was restored`);
  }
  return 'saved and applied';
}

/** Regenerate /etc/nftables.conf from the files as they are now. */
export async function applyFirewall(backend: ConsoleBackend): Promise<void> {
  const config = loadConfigText(await backend.readFile(backend.gatewayFile), backend.gatewayFile);
  const settings = loadApplianceText(await backend.readFile(backend.applianceFile).catch(() => ''), backend.applianceFile);
  await backend.applyFirewall(renderNftables(config, settings));
}
