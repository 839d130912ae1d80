/**
 * The request target as the gateway acts on it. Dot segments (also percent-encoded ones) and
 * backslashes are resolved the WHATWG way before routing, so the path the router and the policy
 * see is the path the upstream gets: `/v1/score/../transactions` cannot ride the score route to the
 * transactions endpoint. Plain paths skip the URL parser.
 */
import { BadRequest } from '../util/index.js';

export interface Target {
  path: string;
  /** `?…` or the empty string. */
  search: string;
}

const NEEDS_PARSER = /\/\.|%2e|\\/i;

export function parseTarget(url: string | undefined): Target {
  if (!url) throw new BadRequest('The request has no target.');
  if (url.charCodeAt(0) === 47 /* / */ && !url.startsWith('//') && !NEEDS_PARSER.test(url)) {
    const q = url.indexOf('?');
    return q < 0 ? { path: url, search: '' } : { path: url.slice(0, q), search: url.slice(q) };
  }
  let parsed: URL;
  try {
    parsed = url.charCodeAt(0) === 47 ? new URL(`http://gateway.invalid${url}`) : new URL(url);
  } catch {
    throw new BadRequest('The request target is not a valid path or URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new BadRequest('The request target is not an http(s) URL.');
  return { path: parsed.pathname, search: parsed.search };
}
