/**
 * Policy what-if on recorded traffic (`regate policy diff`): the decisions an audit log recorded,
 * decided again by a baseline and a candidate policy, and every difference in what the gateway
 * would do. docs/policy.md ("What would this change have done?") is the user's guide.
 */
export { diffRecorded, type Change, type DiffOptions, type DiffReport, type Evaluator, type Side, type Summary } from './diff.js';
export { logRecords, recordedDecision, SKIP_REASONS, type DecisionFacts, type DecisionFilter, type RecordedDecision, type SkipReason } from './recorded.js';
export { formatReport, kindLabel } from './report.js';
