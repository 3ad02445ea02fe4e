/* queue/ — the durable spool and queue index; the only place a 250 is earned. */
export { Spool } from './spool.js';
export { enqueue, storageError } from './enqueue.js';
export { QueueManager, type DeliveryServices, type QueueCounts } from './manager.js';
export { applyHeaderEdits, readHeaderBlock } from './body.js';
export { buildDsn, needsDsn } from './dsn.js';
export { nextAttemptDelay, isExpired } from './schedule.js';
