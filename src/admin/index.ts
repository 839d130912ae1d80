/**
 * The admin listener: `/metrics`, `/healthz`, and the mounts the composition root adds — the
 * approvers' holds API and web console, and the auditors' view of the audit log (given read
 * access to it as an `AuditViews`). Every answer carries the security headers.
 */
export { createAdminServer, type AdminMount, type AdminOptions, type AdminStatus } from './server.js';
export { createHoldsApi } from './holds-api.js';
export type { AuditQuery, AuditRecordView, AuditViews, SegmentView } from './audit-api.js';
export { SECURITY_HEADERS } from './http.js';
export { ConsoleSignIn, CsrfError, type ConsoleSignInOptions } from './console-signin.js';
