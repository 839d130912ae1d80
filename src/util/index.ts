/**
 * What every folder may use: the error base class with its stable codes, regate's version, the
 * HTTP listener plumbing (listen, close) the gateway, admin and demo listeners share, and the
 * client for the HTTP services regate calls (bundle server, decision logs).
 */
export * from './errors.js';
export { closeServer, listen } from './listen.js';
export { USER_AGENT, VERSION } from './version.js';
export { describeFailure, httpService, ServiceSetupError, statusMeaning, type HttpService, type ServiceOptions } from './http-service.js';
export { backoffSeconds } from './backoff.js';
