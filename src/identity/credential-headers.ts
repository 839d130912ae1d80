/**
 * Checks a request's raw header list for credentials sent twice. Node keeps only the first
 * Authorization header in `req.headers` (and joins repeated x-api-key values), so a second one
 * would be silently ignored here while a later hop might read it: the request is refused instead.
 */
import { AmbiguousCredentialsError } from './errors.js';

const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'] as const;

/** Throws AmbiguousCredentialsError (400) when `rawHeaders` (name, value, name, value, ...) repeats a credential header. */
export function refuseRepeatedCredentials(rawHeaders: readonly string[]): void {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Cheap first test: both names are 9 characters long.
    if (name.length !== 9 && name.length !== 13) continue;
    const bit = CREDENTIAL_HEADERS.indexOf(name.toLowerCase() as (typeof CREDENTIAL_HEADERS)[number]) + 1;
    if (bit === 0) continue;
    if (seen & bit) throw new AmbiguousCredentialsError(`the request carries more than one ${CREDENTIAL_HEADERS[bit - 1] === 'authorization' ? 'Authorization' : 'x-api-key'} header`);
    seen |= bit;
  }
}
