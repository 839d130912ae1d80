/**
 * Service accounts for CI and batch jobs: static API keys, configured only as their SHA-256 hashes
 * (so the config file holds no usable secret), each mapped to a subject and groups. A presented key
 * is hashed and compared with every configured hash in constant time, without stopping at a match,
 * so timing reveals neither which hash matched nor how much of it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../contract/index.js';
import { IdentityConfigError } from './errors.js';

export interface ApiKeyEntry { sha256: string; sub: string; groups: string[] }

/** The `iss` of every service-account identity, so a policy can tell them from OIDC users. */
export const API_KEY_ISSUER = 'urn:regate:api-key';

export class ApiKeys {
  private readonly entries: { hash: Buffer; entry: ApiKeyEntry }[];

  constructor(entries: ApiKeyEntry[]) {
    this.entries = entries.map((entry, i) => {
      if (typeof entry.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(entry.sha256)) {
        throw new IdentityConfigError(`apiKeys[${i}].sha256 must be 64 hexadecimal characters (the SHA-256 of the key)`);
      }
      if (typeof entry.sub !== 'string' || entry.sub === '') throw new IdentityConfigError(`apiKeys[${i}].sub must be a non-empty string`);
      if (!Array.isArray(entry.groups) || !entry.groups.every((g) => typeof g === 'string')) {
        throw new IdentityConfigError(`apiKeys[${i}].groups must be an array of strings`);
      }
      return { hash: Buffer.from(entry.sha256, 'hex'), entry };
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The service identity for `key`, or undefined when no configured hash matches. */
  lookup(key: string): Identity | undefined {
    const presented = createHash('sha256').update(key).digest();
    let found: ApiKeyEntry | undefined;
    for (const { hash, entry } of this.entries) {
      if (timingSafeEqual(hash, presented) && found === undefined) found = entry;
    }
    if (found === undefined) return undefined;
    return { sub: found.sub, iss: API_KEY_ISSUER, groups: [...found.groups], claims: { sub: found.sub, auth: 'api_key' } };
  }
}

/** The hex SHA-256 of an API key: what goes into the config. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
