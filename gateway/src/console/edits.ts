/*
 * console/edits.ts — the console's changes to gateway.yaml and appliance.yaml, as validated text.
 *
 * Input: the current file text and one change. Output: the new text, already validated by the
 * same loader and schema as the daemon (config/loadConfigText) or the appliance settings schema;
 * an invalid result throws ConfigError naming the field, and nothing is written. Edits go
 * through the yaml Document API, so the postmaster's comments and order survive.
 * Does not: write files or reload (apply.ts does). Runs in the console process.
 */
import { parseDocument, type Document } from 'yaml';
import { ConfigError, loadConfigText, type Config } from '../config/index.js';
import { loadApplianceText, type ApplianceSettings } from '../appliance/index.js';

function doc(text: string, file: string): Document {
  // An empty file (appliance.yaml before the first change) is an empty map.
  const d = parseDocument(text.trim() === '' ? '{}\n' : text);
  if (d.errors.length > 0) throw new ConfigError(file, d.errors.map((e) => `${file}: YAML syntax: ${e.message.split('\n')[0]}`));
  return d;
}

function finishGateway(d: Document, file: string): { text: string; config: Config } {
  const text = d.toString();
  return { text, config: loadConfigText(text, file) };
}

function finishAppliance(d: Document, file: string): { text: string; settings: ApplianceSettings } {
  const text = d.toString();
  return { text, settings: loadApplianceText(text, file) };
}

export function addRelayDomain(text: string, file: string, domain: string, hosts: readonly string[], tls: string): { text: string; config: Config } {
  const d = doc(text, file);
  const name = domain.trim().toLowerCase();
  if (d.hasIn(['domains', name])) throw new ConfigError(file, [`domains.${name}: already exists; remove it first to change its route`]);
  d.setIn(['domains', name], d.createNode({ route: { transport: 'smtp', hosts: [...hosts], tls } }));
  return finishGateway(d, file);
}

export function removeRelayDomain(text: string, file: string, domain: string): { text: string; config: Config } {
  const d = doc(text, file);
  if (!d.hasIn(['domains', domain])) throw new ConfigError(file, [`domains.${domain}: no such relay domain`]);
  d.deleteIn(['domains', domain]);
  return finishGateway(d, file);
}

export function setHostnameKey(text: string, file: string, fqdn: string): { text: string; config: Config } {
  const d = doc(text, file);
  d.setIn(['hostname'], fqdn.trim());
  return finishGateway(d, file);
}

/** Trusted networks of one relay listener. */
export function setTrustedNetworks(text: string, file: string, listener: string, nets: readonly string[]): { text: string; config: Config } {
  const d = doc(text, file);
  if (!d.hasIn(['listeners', listener])) throw new ConfigError(file, [`listeners.${listener}: no such listener`]);
  d.setIn(['listeners', listener, 'trustedNetworks'], d.createNode([...nets], { flow: true }));
  return finishGateway(d, file);
}

export function setApplianceKey(text: string, file: string, path: readonly string[], value: unknown): { text: string; settings: ApplianceSettings } {
  const d = doc(text, file);
  d.setIn([...path], d.createNode(value, { flow: Array.isArray(value) }));
  return finishAppliance(d, file);
}

/** "host", "host:port" or "[v6]:port" → parts; the schema has already validated the shape. */
export function splitHostPort(s: string, defaultPort = 25): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  return { host: m?.[1] ?? s, port: m?.[2] ? Number(m[2]) : defaultPort };
}
