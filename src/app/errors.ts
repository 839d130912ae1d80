/** The composition root's one failure: the gateway could not start. */
import { RegateError } from '../util/index.js';

/** The gateway could not start (listener, bundle, key): the message names what failed. */
export class StartupError extends RegateError {
  static override readonly code: string = 'ERR_STARTUP';
}
