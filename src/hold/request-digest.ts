/**
 * What a replay is matched on: one SHA-256 of the held request (the requester, route, method, the
 * path as sent, the body's hash). A hold keeps this digest and the path only as the card scrubber
 * shows it, so no store (LMDB here, PostgreSQL in a cluster) holds a card number a client put in
 * a held request's path or query, while an approved request sent again still finds its hold.
 */
import { hash } from 'node:crypto';
import type { Hold } from './types.js';

/** The digest of a request, hex: the same bytes every backend indexes holds by. */
export function requestDigest(iss: string, sub: string, route: string, method: string, path: string, bodySha256: string): string {
  // One-shot: asked of every request of an identity that has holds (the reader's `knows` first).
  return hash('sha256', JSON.stringify([iss, sub, route, method.toUpperCase(), path, bodySha256]), 'hex');
}

/** The digest a hold was created for; a hold stored before regate kept one has its path as sent. */
export function requestDigestOf(hold: Hold): string {
  return hold.request_sha256 ?? requestDigest(hold.requester.iss, hold.requester.sub, hold.route, hold.method, hold.path, hold.body_sha256);
}
