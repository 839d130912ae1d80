/**
 * Typed failures of the cluster store. The proxy maps `ERR_CLUSTER_UNAVAILABLE` to 503 (a request
 * that would be held is refused rather than held where nobody can approve it); the CLI prints the
 * message as one sentence and exits non-zero.
 */
import { RegateError } from '../util/index.js';

/** The `cluster.postgres` settings cannot be used (unreadable password file, bad TLS files). */
export class ClusterConfigError extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_CONFIG';
}

/** PostgreSQL could not be reached or a statement failed for a reason outside regate's control. */
export class ClusterUnavailable extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_UNAVAILABLE';
}

/** The database holds a schema newer than this build knows: refuse to run or migrate against it. */
export class ClusterSchemaTooNew extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_SCHEMA_NEWER';
}

/** The database has no schema, or an older one: `regate cluster migrate` has not been run. */
export class ClusterSchemaMissing extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_SCHEMA_MISSING';
}

/** A hold changed on another node between reading and writing it (the caller may retry). */
export class ClusterConflict extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_CONFLICT';
}

/** The archive refused a node's checkpoint: it does not extend the last one it holds for that log. */
export class CheckpointRefused extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_CHECKPOINT_REFUSED';
}

/** A segment arrived whose predecessors the archive lacks (the archiver stores in order; retry after them). */
export class ArchiveGap extends RegateError {
  static override readonly code: string = 'ERR_CLUSTER_ARCHIVE_GAP';
}
