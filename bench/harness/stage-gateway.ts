/**
 * One rung of bench/stages.ts's ladder: regate's own request pipeline (node:http server, Gateway,
 * undici pool, the token verified from the cache) with the stages above the rung replaced by
 * stand-ins that cost nothing, so the ladder shows what each stage adds per request. The last rung
 * has every stage real (the bench runs `regate serve` beside it as a cross-check).
 *
 * Usage: node stage-gateway.js CONFIG RUNG (0 pipeline only … 4 every stage; bench/stages.ts names
 * them); prints `listening <port>`.
 */
import { loadConfig } from '../../src/config/index.js';
import { HoldReader } from '../../src/hold/index.js';
import { createAuthenticator } from '../../src/identity/index.js';
import { loadBundle } from '../../src/policy/index.js';
import type { Decision } from '../../src/contract/index.js';
import { Gateway, type ActivePolicy, type AuditSink, type HoldsService } from '../../src/proxy/index.js';
import { Logger } from '../../src/proxy/log.js';
import { createGatewayServer } from '../../src/proxy/server.js';
import { listen } from '../../src/util/index.js';
import { activate, bundleOptions, gatewayOptions, holdsDir, identityOptions, openSingletons, serverLimits } from '../../src/app/index.js';

const [, , file, rungArg] = process.argv;
const rung = Number(rungArg);
const config = await loadConfig(file!);
const logger = new Logger({ write: () => true }, 'info');
const real = activate(await loadBundle(config.policy.bundle, await bundleOptions(config)));

/**
 * The policy as the rung has it: a fixed allow decision, the real one without masks, or the real one.
 * Both entry points are replaced: the gateway decides through `evaluateJson` (the input serialised
 * once for the policy and the record), so a rung that stood in for `evaluate` alone would still pay
 * for the Wasm on rung 0 (it did from round 5 until round 7, which merged rungs 0 and 1).
 */
function policyAt(): ActivePolicy {
  if (rung >= 2) return real;
  const unmasked = (d: Decision): Decision => ({ ...d, mask: { request: [], response: [] } });
  let fixed: Decision | null = null;
  return {
    ...real,
    evaluate: (input) => (rung === 1 ? unmasked(real.evaluate(input)) : (fixed ??= unmasked(real.evaluate(input)))),
    evaluateJson: (json) => (rung === 1 ? unmasked(real.evaluateJson(json)) : (fixed ??= unmasked(real.evaluateJson(json)))),
  };
}
const policy = policyAt();

const noHolds: HoldsService = {
  approvalFor: () => null,
  grantsFor: () => [],
  open: () => Promise.reject(new Error('no holds in this rung')),
  consumeReplay: () => Promise.reject(new Error('no holds in this rung')),
};
const noAudit: AuditSink = { append: () => Promise.resolve({ seq: 0 }) };

let audit: AuditSink = noAudit;
let holds: HoldsService = noHolds;
if (rung >= 4) {
  const shared = await openSingletons(config, logger, {});
  ({ audit, holds } = shared);
} else if (rung >= 3) {
  const reader = HoldReader.open(holdsDir(config));
  holds = { ...noHolds, approvalFor: (...a) => reader.approvalFor(...a), grantsFor: (...a) => reader.grantsFor(...a) };
}

const options = gatewayOptions(config);
const gateway = new Gateway(
  { authenticator: createAuthenticator(identityOptions(config.identity)), audit, policy: { current: () => policy }, holds, logger },
  { ...options, logRequests: rung >= 3 },
);
const server = createGatewayServer(gateway, serverLimits(config));
const url = await listen(server, '127.0.0.1', 0);
process.stdout.write(`listening ${new URL(url).port}\n`);
process.once('SIGTERM', () => process.exit(0));
