import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clientHeaders, policyHeaders, upstreamHeaders } from '../../src/proxy/headers.js';
import { queryLists } from '../../src/proxy/input.js';
import { shownTarget } from '../../src/proxy/credentials.js';
import { scrubPath } from '../../src/mask/index.js';
import { printedPanArb, scriptPanArb } from '../mask/arbitraries.js';
import { refFind } from '../mask/reference.js';
import { GatewayMetrics } from '../../src/proxy/metrics.js';
import { Router } from '../../src/proxy/router.js';
import { parseTarget } from '../../src/proxy/target.js';
import { UsageCounter } from '../../src/proxy/usage.js';

const ctx = {
  clientIp: '10.0.0.7',
  proto: 'http',
  host: 'gw.example.com',
  requestId: 'req-1',
  credential: { header: 'x-api-key', value: 'upstream-secret' },
  identityEncoding: false,
};

test('upstream headers: credentials and hop-by-hop gone, forwarding set, credential injected', () => {
  const h = upstreamHeaders(
    {
      authorization: 'Bearer client-token',
      cookie: 'session=abc',
      'proxy-authorization': 'Basic x',
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': 'drop me',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      te: 'trailers',
      upgrade: 'h2c',
      host: 'gw.example.com',
      'x-api-key': 'client-api-key',
      'x-request-id': 'client-chosen',
      'x-forwarded-for': '203.0.113.1',
      'content-type': 'application/json',
      accept: 'text/event-stream',
    },
    ctx,
  );
  assert.equal(h, {
    'x-api-key': 'upstream-secret',
    'x-forwarded-for': '203.0.113.1, 10.0.0.7',
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'gw.example.com',
    forwarded: 'for=10.0.0.7;proto=http;host="gw.example.com"',
    'x-request-id': 'req-1',
  });
});

test('upstream headers: IPv6 clients are quoted in Forwarded; masking asks for identity encoding', () => {
  const h = upstreamHeaders({ 'accept-encoding': 'gzip' }, { ...ctx, clientIp: '::1', credential: null, identityEncoding: true });
  assert.is(h.forwarded, 'for="[::1]";proto=http;host="gw.example.com"');
  assert.is(h['accept-encoding'], 'identity');
  assert.is(h['x-api-key'], undefined);
});

test('client headers: hop-by-hop dropped, length and encoding dropped when the body is rewritten', () => {
  const up = { 'content-type': 'application/json', 'content-length': '42', 'content-encoding': 'gzip', connection: 'close', 'transfer-encoding': 'chunked', 'x-model': 'v3' };
  assert.equal(clientHeaders(up, 'r', false), { 'content-type': 'application/json', 'content-length': '42', 'content-encoding': 'gzip', 'x-model': 'v3', 'x-request-id': 'r' });
  assert.equal(clientHeaders(up, 'r', true), { 'content-type': 'application/json', 'x-model': 'v3', 'x-request-id': 'r' });
});

/** docs/policy.md's credential names, written out again: compared without case and without anything but letters and digits. */
const CREDENTIAL_NAMES = [
  'access_token', 'id_token', 'refresh_token', 'token', 'auth_token', 'x-auth-token', 'x-access-token', 'bearer', 'jwt', 'api_key', 'x-api-key', 'key',
  'x-goog-api-key', 'client_secret', 'secret', 'password', 'passwd', 'pwd', 'sig', 'signature', 'x-amz-signature', 'x-amz-security-token',
  'x-amz-credential', 'x-goog-signature', 'x-goog-credential', 'authorization', 'proxy-authorization', 'cookie', 'sessionid', 'session',
];
const plain = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');
const credentialName = (name: string) => CREDENTIAL_NAMES.some((c) => plain(c) === plain(name));
/** A JWT as an identity provider issues one: base64url of a JSON header, of a JSON payload, and of a signature. */
const jwtArb = fc.tuple(fc.object(), fc.object(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([h, p, s]) =>
  [JSON.stringify({ alg: 'ES256', ...h }), JSON.stringify(p)].map((j) => Buffer.from(j).toString('base64url')).join('.') + '.' + Buffer.from(s).toString('base64url'));

test('policy headers never carry a credential: authorization, cookies, any header named as one, any value shaped like a JWT', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), fc.constantFrom(...CREDENTIAL_NAMES).map((n) => n.toLowerCase())), fc.string()), fc.string(), fc.string(), jwtArb, (other, auth, cookie, jwt) => {
      const h = policyHeaders({ ...other, authorization: auth, cookie, 'proxy-authorization': auth, 'x-api-key': auth, 'x-forwarded-token-copy': `Bearer ${jwt}`, 'x-trace': jwt });
      assert.is(h.authorization, undefined);
      assert.is(h['x-api-key'], undefined);
      assert.is(h.cookie, undefined);
      assert.is(h['proxy-authorization'], undefined);
      assert.is(h['x-forwarded-token-copy'], '[redacted]');
      assert.is(h['x-trace'], '[redacted]');
      for (const [k, v] of Object.entries(other)) assert.is(h[k], credentialName(k) ? undefined : v, k);
    }),
  );
});

test('query credentials: a parameter named as one keeps its name with its values redacted; a JWT is redacted under any name; nothing else changes', () => {
  fc.assert(
    fc.property(jwtArb, fc.constantFrom(...CREDENTIAL_NAMES), fc.constantFrom('limit', 'q', 'keyword', 'monkey', 'tokens_used', 'signed', 'note'), fc.string(), (jwt, name, other, value) => {
      const q = queryLists(`?${new URLSearchParams([[name, value], [name.toUpperCase(), 'x'], ['q', jwt], [other, value], ['bearer_copy', `Bearer ${jwt}`]])}`);
      assert.equal(q[name], name === name.toUpperCase() ? ['[redacted]', '[redacted]'] : ['[redacted]']);
      assert.equal(q[name.toUpperCase()], name === name.toUpperCase() ? ['[redacted]', '[redacted]'] : ['[redacted]']);
      assert.equal(q.q, other === 'q' ? ['[redacted]', value] : ['[redacted]']);
      if (other !== 'q') assert.equal(q[other], [value]);
      assert.equal(q.bearer_copy, ['[redacted]']);
    }),
  );
  // Text that merely starts like one is not a token.
  assert.equal({ ...queryLists('?note=eyJ%20is%20how%20a%20JWT%20starts&v=eyJhbGciOi&host=api.example.com.&ver=1.2.3&b64=YWJj.ZGVm.Z2hp') },
    { note: ['eyJ is how a JWT starts'], v: ['eyJhbGciOi'], host: ['api.example.com.'], ver: ['1.2.3'], b64: ['YWJj.ZGVm.Z2hp'] });
});

test('a target shown to people: credentials in its query redacted (named as one, percent-encoded too, or a JWT), card data masked, the rest as written', () => {
  fc.assert(
    fc.property(jwtArb, fc.constantFrom(...CREDENTIAL_NAMES), (jwt, name) => {
      const target = `/v1/x%20y?limit=5&${encodeURIComponent(name)}=s3cr%2Bet&q=a+b&t=${jwt}&card=4111111111111111&flag`;
      assert.is(shownTarget(target), `/v1/x%20y?limit=5&${encodeURIComponent(name)}=[redacted]&q=a+b&t=[redacted]&card=[redacted…1111]&flag`.replace('/v1/x%20y', '/v1/x y'), 'a target with a card number is shown decoded (scrubPath)');
    }),
  );
  assert.is(shownTarget('/v1/score?access%5Ftoken=abc&ok=1'), '/v1/score?access%5Ftoken=[redacted]&ok=1');
  assert.is(shownTarget('/v1/score?limit=5&note=hello%20world'), '/v1/score?limit=5&note=hello%20world');
  assert.is(shownTarget('/v1/score'), '/v1/score');
});

test('query values are lists in URL order, and __proto__ is only data', () => {
  const q = queryLists('?limit=5000&tag=a&tag=b&__proto__=x&empty=');
  assert.equal({ ...q }, { limit: ['5000'], tag: ['a', 'b'], ['__proto__']: ['x'], empty: [''] });
  assert.is(Object.getPrototypeOf(q), null);
  assert.equal({ ...queryLists('') }, {});
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 8 }), (pairs) => {
      const search = `?${new URLSearchParams(pairs).toString()}`;
      const q2 = queryLists(search);
      const flat = Object.entries(q2).flatMap(([k, vs]) => vs.map((v) => `${k}\u0000${v}`)).sort();
      assert.equal(flat, pairs.map(([k, v]) => `${k}\u0000${credentialName(k) ? '[redacted]' : v}`).sort());
    }),
  );
});

test('routing: longest prefix on segment boundaries, host-specific routes first', () => {
  const r = new Router([
    { name: 'all', path_prefix: '/', upstream: 'a' },
    { name: 'score', path_prefix: '/v1/score', upstream: 'a' },
    { name: 'score-eu', path_prefix: '/v1/score', host: 'EU.example.com', upstream: 'b' },
    { name: 'chat', path_prefix: '/v1/chat/', upstream: 'b' },
  ]);
  assert.is(r.match('x', '/v1/score')?.name, 'score');
  assert.is(r.match('x', '/v1/score/batch')?.name, 'score');
  assert.is(r.match('x', '/v1/scores')?.name, 'all');
  assert.is(r.match('eu.example.com', '/v1/score')?.name, 'score-eu');
  assert.is(r.match('x', '/v1/chat/completions')?.name, 'chat');
  assert.is(new Router([{ name: 's', path_prefix: '/v1/score', upstream: 'a' }]).match('x', '/v2'), undefined);
});

test('targets: dot segments are resolved before routing, plain paths pass as they are', () => {
  assert.equal(parseTarget('/v1/score?x=1'), { path: '/v1/score', search: '?x=1' });
  assert.equal(parseTarget('/v1/score/../transactions'), { path: '/v1/transactions', search: '' });
  assert.equal(parseTarget('/v1/score/%2e%2e/transactions?limit=9'), { path: '/v1/transactions', search: '?limit=9' });
  assert.equal(parseTarget('http://gw/v1/a/./b'), { path: '/v1/a/b', search: '' });
  assert.throws(() => parseTarget('ftp://x/y'), /not an http\(s\) URL/);
});

test('usage: counts requests per identity over the last minute, sliding by the second', () => {
  let now = 1_000_000;
  const u = new UsageCounter(() => now);
  assert.is(u.hit('alice'), 1);
  assert.is(u.hit('alice'), 2);
  assert.is(u.hit('bob'), 1);
  now += 30_000;
  assert.is(u.hit('alice'), 3);
  now += 30_000; // the first two are now 60 s old
  assert.is(u.hit('alice'), 2);
  now -= 5_000; // a clock stepping back still counts
  assert.is(u.hit('alice'), 3);
  now += 200_000;
  assert.is(u.hit('alice'), 1);
  u.sweep();
  assert.is(u.size, 1);
  u.close();
});

test('usage: the count equals the requests made in the trailing 60 seconds', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 60 }), (gaps) => {
      let now = 0;
      const u = new UsageCounter(() => now);
      const times: number[] = [];
      for (const g of gaps) {
        now += g * 10;
        times.push(Math.floor(now / 1000));
        const sec = Math.floor(now / 1000);
        assert.is(u.hit('k'), times.filter((t) => t > sec - 60).length);
      }
      u.close();
    }),
  );
});

test('metrics render in Prometheus text format with escaped labels and cumulative buckets', () => {
  const m = new GatewayMetrics();
  m.requests.inc({ route: 'fraud "model"\n', decision: 'allow', status: '200' });
  m.requests.inc({ route: 'fraud "model"\n', decision: 'allow', status: '200' });
  m.latency.observe(0.003, { route: 'r' });
  m.latency.observe(2, { route: 'r' });
  m.policyEval.observe(0.00002);
  const text = m.render();
  assert.match(text, '# TYPE regate_requests_total counter');
  assert.match(text, 'regate_requests_total{route="fraud \\"model\\"\\n",decision="allow",status="200"} 2');
  assert.match(text, 'regate_request_duration_seconds_bucket{route="r",le="0.0025"} 0');
  assert.match(text, 'regate_request_duration_seconds_bucket{route="r",le="0.005"} 1');
  assert.match(text, 'regate_request_duration_seconds_bucket{route="r",le="2.5"} 2');
  assert.match(text, 'regate_request_duration_seconds_bucket{route="r",le="+Inf"} 2');
  assert.match(text, 'regate_request_duration_seconds_count{route="r"} 2');
  assert.match(text, 'regate_policy_eval_seconds_count 1');
  assert.match(text, '# TYPE regate_inflight_requests gauge');
});

test('paths are scrubbed of card-length digit runs before logging', () => {
  assert.is(scrubPath('/v1/cards/4539148803436467/score'), '/v1/cards/[redacted…6467]/score');
  assert.is(scrubPath('/v1/cards/4539%201488%200343%206467'), '/v1/cards/[redacted…6467]');
  assert.is(scrubPath('/v1/tx/12345'), '/v1/tx/12345');
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9]{13,19}$/), fc.string(), (pan, rest) => {
      assert.not.ok(scrubPath(`/a/${rest}/${pan}`).includes(pan));
    }),
  );
  // Any grouping the masker reads as a card number, in any script's digits, raw or percent-encoded.
  fc.assert(
    fc.property(fc.oneof(printedPanArb, scriptPanArb), fc.boolean(), (pan, encode) => {
      const logged = scrubPath(`/v1/cards/${encode ? encodeURIComponent(pan) : pan}/score`);
      assert.equal(refFind(decodeURIComponent(logged)), [], logged);
    }),
    { numRuns: 500 },
  );
});

test.run();
