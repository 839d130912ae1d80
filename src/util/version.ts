/**
 * regate's own version, read from regate's package.json (found from this module's location,
 * dist/src/util → the package root), so an installed regate reports its version, never the host
 * project's. Used by `regate --version`, the audit log's start records and the User-Agent of
 * outgoing requests.
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The User-Agent of every request regate makes (bundle service, decision logs, JWKS). */
export const USER_AGENT = `regate/${VERSION}`;
