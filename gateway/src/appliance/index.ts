/* appliance/ — the appliance's own settings and the OS config generated from them (nftables, rsyslog). */
export { applianceSchema, loadApplianceText, syslogPort, DEFAULT_APPLIANCE_FILE, type ApplianceSettings } from './settings.js';
export { renderNftables, SSH_PORT } from './nftables.js';
export { renderRsyslog } from './rsyslog.js';
