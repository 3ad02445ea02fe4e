/* config/ — the zod schema, the YAML loader, and the default file location. */
export { cidr, configSchema, type Config, type ListenerConfig, type RouteConfig, type TlsPolicy } from './schema.js';
export { ConfigError, loadConfigFile, loadConfigText, parseConfig, parseYamlText } from './load.js';
export const DEFAULT_CONFIG_FILE = '/etc/tuxhat/gateway.yaml';
export { writeFileAtomic } from './atomic-write.js';
