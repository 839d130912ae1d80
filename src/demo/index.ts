/**
 * `regate demo`: a local session with a dev identity provider, a signed PCI bundle, a stand-in
 * model service and the gateway itself, started the way `regate serve` starts it.
 */
export { startDemo } from './session.js';
export { startDemoService, type DemoService } from './service.js';
