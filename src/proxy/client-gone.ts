/**
 * "The client has gone": what stops the upstream call, a held request's wait and a relay once the
 * client's connection closes before its answer was sent. It replaces a per-request
 * AbortController (an EventTarget, a listener map, a DOMException when it fires: measurable on the
 * hot path, bench/README.md round 4). undici takes any EventEmitter as a request's signal and
 * listens for `abort`; the steps that only ask `aborted` read the flag. A real AbortSignal is made
 * only for the one step that needs one (a hold's wait), when it asks.
 */
import { EventEmitter } from 'node:events';

export class ClientGone extends EventEmitter {
  aborted = false;
  #controller: AbortController | null = null;

  /** Marks the client gone and tells every listener (the upstream call) once. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
    this.#controller?.abort();
  }

  /** An AbortSignal that aborts with this one (made on first use, already aborted if it is). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }
}
