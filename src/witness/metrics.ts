/** The witness lag as Prometheus text lines for the gateway's /metrics (docs/config.md lists them). */
import type { WitnessLag } from './client.js';

const label = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function witnessMetrics(lag: WitnessLag): string {
  const lines = [
    '# HELP regate_audit_witness_lag_records Records sealed but not yet cosigned by a quorum of witnesses.',
    '# TYPE regate_audit_witness_lag_records gauge',
    `regate_audit_witness_lag_records ${lag.lag_records}`,
    '# HELP regate_audit_witness_lag_seconds Seconds since the oldest checkpoint a quorum has not cosigned was sealed.',
    '# TYPE regate_audit_witness_lag_seconds gauge',
    `regate_audit_witness_lag_seconds ${lag.lag_seconds}`,
    '# HELP regate_audit_witnessed_tree_size Tree size of the newest checkpoint cosigned by a quorum.',
    '# TYPE regate_audit_witnessed_tree_size gauge',
    `regate_audit_witnessed_tree_size ${lag.witnessed_size}`,
    '# HELP regate_audit_witness_cosigned_tree_size Tree size each witness last cosigned.',
    '# TYPE regate_audit_witness_cosigned_tree_size gauge',
    ...lag.witnesses.map((w) => `regate_audit_witness_cosigned_tree_size{witness="${label(w.name)}"} ${w.cosigned_size}`),
    '# HELP regate_audit_witness_failures Consecutive failed submissions to each witness.',
    '# TYPE regate_audit_witness_failures gauge',
    ...lag.witnesses.map((w) => `regate_audit_witness_failures{witness="${label(w.name)}"} ${w.failures}`),
    '# HELP regate_audit_witness_refusals_total Checkpoints each witness refused since start (a fork or rollback of this log, or a proof it rejects): alert on any.',
    '# TYPE regate_audit_witness_refusals_total counter',
    ...lag.witnesses.map((w) => `regate_audit_witness_refusals_total{witness="${label(w.name)}"} ${w.refusals}`),
  ];
  return lines.join('\n') + '\n';
}
