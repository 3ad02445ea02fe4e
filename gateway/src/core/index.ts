/* core/ — types, reply table, ids, name lists and network lists shared by every stage. Imports nothing of ours. */
export * from './types.js';
export * from './replies.js';
export * from './qid.js';
export * from './phases.js';
export * from './networks.js';
