/* policy/checks/policy-state.ts — what listen/ uses of reputation, greylisting and rate limits (one import). */
export { afterVerdict, reputationHits, type DataStageContext, type DataStageOutcome } from './data-stage.js';
export { learnFromReject, learnFromVerdict, reputationScores, REPUTATION_SYMBOLS } from './reputation-view.js';
export { queueHoldNotice, holdNoticeText } from './hold-notice.js';
