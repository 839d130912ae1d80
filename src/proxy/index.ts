/**
 * The request pipeline: the `Gateway` that takes one client request through identity, policy,
 * masking, holds and the audit log to the upstream model service and back, the client listener
 * that feeds it, and the service interfaces each stage is plugged in through (the composition
 * root in src/app supplies them).
 */
export { Gateway } from './gateway.js';
export type {
  ActivePolicy, AuditSink, AuthenticatorService, GatewayOptions, GatewayServices, HoldsService, MaskService, PolicyService, SharedUsage,
} from './services.js';
export { bundleMasker } from './masking.js';
export { CARD_PLAN, CARD_RULES, MIN_CARD_DIGITS, tooFewDigits } from './card-scrub.js';
export { shownTarget } from './credentials.js';
export { createGatewayServer, drainServer, type GatewayServerLimits } from './server.js';
export { Logger, type LogLevel } from './log.js';
export { GatewayMetrics, type MetricsSnapshot } from './metrics.js';
