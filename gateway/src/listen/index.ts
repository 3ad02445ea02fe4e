/* listen/ — smtp-server instances per listener; SMTP hooks → policy; DATA → spool → queue. */
export { createListener, type Listener, type ListenerDeps } from './server.js';
export { ensureTlsMaterial, loadTlsMaterial, type TlsMaterial } from './tls.js';
export { installSmtpServerShims } from './smtp-server-shims.js';
export { loadUsers, verifyPassword, hashPassword, type UserDb } from './users.js';
export { receivedHeader } from './received.js';
