/**
 * Ships decision-log events as OPA's decision-log plugin does: buffered in memory, uploaded every
 * `min_delay`..`max_delay` seconds (a random point between, so replicas spread out) as gzipped JSON
 * arrays of at most `upload_size_limit_bytes` compressed (`POST <resource>`, `Content-Encoding:
 * gzip`); a chunk the service does not take with a 2xx is put back and retried after an
 * exponential backoff. The buffer is bounded: past `buffer_size_limit_events` the oldest events are
 * dropped and counted. The decision log is a feed for analysis; the audit log is the durable record.
 */
import { gzipSync } from 'node:zlib';
import { backoffSeconds } from '../util/index.js';
import { statusMeaning, type HttpService } from '../util/index.js';
import { DecisionLogUploadError } from './errors.js';
import type { OpaDecisionEvent } from './event.js';

export interface UploaderOptions {
  /** Where chunks are POSTed: the service URL with the resource (default `/logs`). */
  url: string;
  service: HttpService;
  minDelaySeconds: number;
  maxDelaySeconds: number;
  uploadSizeLimitBytes: number;
  bufferSizeLimitEvents: number;
  onError?: (err: Error) => void;
  random?: () => number;
}

export interface UploaderStats {
  buffered: number;
  uploadedEvents: number;
  uploadedChunks: number;
  droppedEvents: number;
  failures: number;
  lastError: string | null;
}

export class DecisionLogUploader {
  readonly #o: UploaderOptions;
  /** Events waiting, each already serialised (its size decides chunking). */
  #queue: string[] = [];
  #stats: UploaderStats = { buffered: 0, uploadedEvents: 0, uploadedChunks: 0, droppedEvents: 0, failures: 0, lastError: null };
  #consecutiveFailures = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: UploaderOptions) {
    this.#o = opts;
    this.#schedule();
  }

  push(event: OpaDecisionEvent): void {
    if (this.#closed) return;
    this.#queue.push(JSON.stringify(event));
    const over = this.#queue.length - this.#o.bufferSizeLimitEvents;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.#stats.droppedEvents += over;
    }
  }

  stats(): UploaderStats {
    return { ...this.#stats, buffered: this.#queue.length };
  }

  /** Uploads everything buffered now (in as many chunks as the size limit needs); resolves when done or failed. */
  flush(): Promise<void> {
    this.#running = this.#running.then(() => this.#uploadAll());
    return this.#running;
  }

  /** Stops the timer and makes one last upload of what is buffered. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.flush();
  }

  #schedule(): void {
    if (this.#closed) return;
    const random = this.#o.random ?? Math.random;
    const { minDelaySeconds: min, maxDelaySeconds: max } = this.#o;
    const delay = this.#consecutiveFailures
      ? backoffSeconds(min, this.#consecutiveFailures, max, random)
      : min + (max - min) * random();
    this.#timer = setTimeout(() => void this.flush().then(() => this.#schedule()), delay * 1000);
    this.#timer.unref();
  }

  /** The next chunk: as many queued events as fit the compressed limit (at least one, or none if that one cannot fit). */
  #nextChunk(): { body: Buffer; count: number } | undefined {
    let count = Math.min(this.#queue.length, 1000);
    while (count > 0) {
      const body = gzipSync(`[${this.#queue.slice(0, count).join(',')}]`);
      if (body.byteLength <= this.#o.uploadSizeLimitBytes) return { body, count };
      if (count === 1) {
        // One event larger than a whole upload can never be sent: drop it, as OPA does.
        this.#queue.shift();
        this.#stats.droppedEvents++;
        count = Math.min(this.#queue.length, 1000);
        continue;
      }
      count = Math.ceil(count / 2);
    }
    return undefined;
  }

  async #uploadAll(): Promise<void> {
    for (let chunk = this.#nextChunk(); chunk; chunk = this.#nextChunk()) {
      try {
        await this.#post(chunk.body);
      } catch (err) {
        this.#consecutiveFailures++;
        this.#stats.failures++;
        this.#stats.lastError = (err as Error).message;
        this.#o.onError?.(err as Error);
        return;
      }
      this.#queue.splice(0, chunk.count);
      this.#consecutiveFailures = 0;
      this.#stats.uploadedEvents += chunk.count;
      this.#stats.uploadedChunks++;
    }
  }

  async #post(body: Buffer): Promise<void> {
    const { url, service } = this.#o;
    let status: number;
    try {
      const res = await service.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
      status = res.status;
      await res.body?.cancel();
    } catch (err) {
      throw new DecisionLogUploadError(`cannot upload decision logs to ${url}: ${service.describe(err)}`, { cause: err });
    }
    if (status < 200 || status > 299) throw new DecisionLogUploadError(`the decision-log service ${url} answered HTTP ${status}${statusMeaning(status, 'decision_logs.service')}`);
  }
}
