/* quarantine/ — the durable quarantine store (store.ts) and the postmaster's operations (release.ts). */
export { QuarantineStore, QuarantineError, quarantineDir, summarizeQuarantine, type QuarantinePut, type QuarantineRecord, type QuarantineRecipient, type QuarantineSummary } from './store.js';
export { quarantineAdmin, type QuarantineAdmin, type QuarantineDeps } from './release.js';
