/* state/ — the LMDB environments and typed stores. TTLs and sweeping live here, not in callers. */
export { openState, type StateEnvs, type TraceEvent } from './envs.js';
export { sweepTrace } from './trace-sweep.js';
export { policyStores, sweepPolicyStores, type PolicyStores } from './policy-stores.js';
export { ReputationStore, REPUTATION_KINDS, classify, decay, total, zeroCounts, type ReputationClass, type ReputationCounts, type ReputationKind, type ReputationRecord, type ReputationScope } from './reputation.js';
export { GreylistStore, type GreylistEntry, type GreylistResult, type GreylistTimes, type Triplet } from './greylist.js';
export { RateCounterStore, RATE_UNITS, type RateAmounts, type RateExceeded, type RateRequest, type RateUnit } from './rate-counters.js';
export { maskedNetwork } from './network.js';
export { greylistMatcher, listGreylist, releaseGreylist, reputationKeys, resetReputation, showReputation, type GreylistView, type ReputationView } from './policy-admin.js';
