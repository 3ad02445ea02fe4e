/* state/ — the LMDB environments and typed stores. TTLs and sweeping live here, not in callers. */
export { openState, type StateEnvs, type TraceEvent } from './envs.js';
export { sweepTrace } from './trace-sweep.js';
