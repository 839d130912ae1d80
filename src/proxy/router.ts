/**
 * Routing: a request goes to the route with the longest matching path prefix; for equal prefixes a
 * route naming the request's host beats one that does not. Prefixes match on segment boundaries
 * (`/v1/score` matches `/v1/score` and `/v1/score/x`, never `/v1/scores`). Routes are sorted once,
 * so matching is a short linear scan.
 */
import type { RouteConfig } from '../config/index.js';

export interface Route {
  name: string;
  prefix: string;
  host: string | undefined;
  upstream: string;
  /** A body that cannot be masked: refused (502) or, for routes known to carry binary, passed. */
  unmaskable: 'refuse' | 'pass';
  /** When an allowed request is sent upstream relative to its decision record (commit-order.ts); unset: by the request. */
  forward: 'overlap' | 'after_commit' | undefined;
}

function prefixMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith('/') || path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */;
}

/** Host without port, lower-cased. */
export function hostName(host: string | undefined): string {
  if (!host) return '';
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export class Router {
  readonly #routes: Route[];

  constructor(routes: (Omit<RouteConfig, 'unmaskable'> & Partial<Pick<RouteConfig, 'unmaskable'>>)[]) {
    this.#routes = routes
      .map((r) => ({ name: r.name, prefix: r.path_prefix, host: r.host?.toLowerCase(), upstream: r.upstream, unmaskable: r.unmaskable ?? 'refuse', forward: r.forward }))
      .sort((a, b) => b.prefix.length - a.prefix.length || Number(b.host !== undefined) - Number(a.host !== undefined));
  }

  match(host: string, path: string): Route | undefined {
    for (const r of this.#routes) {
      if ((r.host === undefined || r.host === host) && prefixMatches(r.prefix, path)) return r;
    }
    return undefined;
  }
}
