/**
 * The cluster store: PostgreSQL shared by every regate node of one gateway (issue 16,
 * docs/cluster.md). Named apart from the `--workers` process cluster, which is several processes
 * on one machine sharing LMDB; this is several machines sharing PostgreSQL.
 */
export * from './errors.js';
export { clientConfig, describeTarget, openPool, type ClusterPostgresOptions, type ClusterTlsOptions } from './connect.js';
export { checkSchema, LATEST_VERSION, migrate, MIGRATIONS, schemaVersion, type MigrateResult } from './migrations.js';
export { ClusterStore, ClusterTx, CHANGES_CHANNEL, type Change, type NodeInfo } from './store.js';
export { ChangeFeed, type ChangeFeedOptions } from './changes.js';
export { ClusterView } from './view.js';
export { ClusterUsage, type ClusterUsageOptions } from './usage.js';
export { clusterStatus, formatStatus, type ClusterStatus, type NodeReport } from './status.js';
export { ClusterHoldBackend } from './hold-backend.js';
export { archivedLogs, lastArchived, PostgresArchive, writeArchivedExport, type ArchivedLog, type PostgresArchiveOptions } from './archive.js';
