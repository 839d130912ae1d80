/**
 * What every folder may use: the error base class with its stable codes (and the one
 * `BadRequest`), regate's version, the HTTP plumbing the gateway, admin and demo listeners share
 * (listen, close, answer with JSON), the client for the HTTP services regate calls (bundle server,
 * decision logs), and the one LMDB opener the audit log and the hold store share.
 */
export * from './errors.js';
export { closeServer, listen } from './listen.js';
export { sendJson } from './json-response.js';
export { openEnvironment } from './lmdb.js';
export { USER_AGENT, VERSION } from './version.js';
export { describeFailure, httpService, ServiceSetupError, statusMeaning, type HttpService, type ServiceOptions } from './http-service.js';
export { backoffSeconds } from './backoff.js';
export { listenerOrigin } from './listener-origin.js';
