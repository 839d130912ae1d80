/**
 * Remembers tokens already verified, so a client reusing its token pays one hash instead of a
 * signature check per request. Entries are keyed by the SHA-256 of the token (the token itself is
 * never stored), live until the token's `exp` and no longer, and the cache holds at most `max`
 * entries, evicting the least recently used.
 */
import { hash } from 'node:crypto';

export class TokenCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();

  constructor(private readonly max: number) {}

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  get(key: string, nowMs: number): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.entries.delete(key);
    if (hit.expiresAtMs <= nowMs) return undefined;
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    if (this.max <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
