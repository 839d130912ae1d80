/**
 * What the verified-token cache saves: the same client token authenticated repeatedly with the
 * cache off (every request checks the signature) and on (one check, then a SHA-256 and a map
 * lookup), for ES256 and RS256 keys, plus the API-key path, all in one run. Keys come from a real
 * JWKS endpoint on loopback, fetched once before timing. Run: `npx tsc -p . && node dist/bench/identity.js`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { createAuthenticator, hashApiKey } from '../src/identity/index.js';
import type { Authenticator, CredentialHeaders } from '../src/identity/index.js';
import { percentile, report } from './lib/report.js';
import type { Row } from './lib/report.js';

const ITERATIONS = 4000;
const ISSUER = 'https://idp.bench.example';
const AUDIENCE = 'regate';

async function measure(name: string, auth: Authenticator, headers: CredentialHeaders): Promise<Row> {
  for (let i = 0; i < 200; i++) await auth.authenticate(headers);
  const times = new Float64Array(ITERATIONS);
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await auth.authenticate(headers);
    times[i] = performance.now() - t0;
  }
  const total = performance.now() - start;
  times.sort();
  return { case: name, ops_per_s: Math.round(ITERATIONS / (total / 1000)), p50_us: percentile(times, 50) * 1000, p99_us: percentile(times, 99) * 1000, verifications: auth.stats().verifications };
}

async function main(): Promise<void> {
  const keys: JWK[] = [];
  const tokens: Record<string, string> = {};
  for (const alg of ['ES256', 'RS256']) {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    keys.push({ ...jwk, kid, alg });
    tokens[alg] = await new SignJWT({ groups: ['fraud-analysts'] }).setProtectedHeader({ alg, kid })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('alice').setIssuedAt().setExpirationTime('1h').sign(privateKey);
  }
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  const apiKey = 'rgk_bench_0123456789abcdef';
  const make = (cacheSize: number) => createAuthenticator({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, cacheSize, apiKeys: [{ sha256: hashApiKey(apiKey), sub: 'ci', groups: ['ci'] }] });

  const rows: Row[] = [];
  for (const alg of ['ES256', 'RS256']) {
    const headers = { authorization: `Bearer ${tokens[alg]}` };
    const off = make(0);
    const on = make(10_000);
    const uncached = await measure(`${alg} cache off`, off, headers);
    const cached = await measure(`${alg} cache on`, on, headers);
    rows.push({ ...uncached, speedup: 1 }, { ...cached, speedup: (cached.ops_per_s as number) / (uncached.ops_per_s as number) });
    off.close();
    on.close();
  }
  const keyed = make(0);
  rows.push({ ...(await measure('API key (x-api-key)', keyed, { 'x-api-key': apiKey })), speedup: NaN });
  keyed.close();
  server.close();
  report('identity', rows, { iterations: ITERATIONS, note: 'speedup = cache-on ops/s over cache-off ops/s for the same token, same run' });
}

await main();
