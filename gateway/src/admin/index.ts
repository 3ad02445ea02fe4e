/* admin/ — the daemon's HTTP API on a unix socket, used by `tuxhat` and the console menu. */
export {
  summarize,
  type AdminBackend, type ListenerStatus, type PendingRecipient, type QueueSummary, type ReloadResult,
  type StatusInfo, type WorkerStatus,
} from './backend.js';
export { createAdminServer, type AdminServer, type AdminServerOptions } from './server.js';
