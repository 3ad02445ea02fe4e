/* core/ — types, reply table, ids, name lists, network lists and charset decoding shared by every stage. Imports nothing of ours. */
export * from './types.js';
export * from './replies.js';
export * from './qid.js';
export * from './phases.js';
export * from './networks.js';
export * from './text-decode.js';
