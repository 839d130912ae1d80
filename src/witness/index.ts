/**
 * The witness (C2SP tlog-witness): the service that cosigns a log's checkpoints only when they extend
 * what it cosigned before (`regate witness serve`), and the gateway's client that submits every
 * checkpoint to the configured witnesses.
 */
export { serveWitness, type RunningWitness, type WitnessServeOptions } from './server.js';
export { cosignedCheckpoints, WitnessSubmitter, type CosignedAtStart, type WitnessLag, type WitnessTarget, type SubmitterOptions } from './client.js';
export { witnessMetrics } from './metrics.js';
export { WitnessConfigError, WitnessStoreError } from './errors.js';
export { loadOrCreateWitnessKey, type Alarm } from './store.js';
