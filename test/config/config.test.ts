import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, resolveConfig } from '../../src/config/index.js';
import { nearest } from '../../src/config/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'regate-config-'));
writeFileSync(join(dir, 'fraud.key'), 'sk-fraud-123\n');

function base(): Record<string, any> {
  return {
    listen: { host: '0.0.0.0', port: 8443 },
    upstreams: {
      fraud: {
        url: 'http://127.0.0.1:9000/api',
        credential: { header: 'X-Api-Key', value_file: 'fraud.key' },
        timeouts: { headers_ms: 2000 },
      },
      llm: { url: 'http://127.0.0.1:9001', credential: { header: 'authorization', value_env: 'REGATE_TEST_LLM_KEY', prefix: 'Bearer ' } },
    },
    routes: [
      { name: 'fraud-model', path_prefix: '/v1/score', upstream: 'fraud' },
      { name: 'llm', path_prefix: '/v1/chat', host: 'llm.example.com', upstream: 'llm' },
    ],
    identity: { issuer: 'https://idp.example.com', audience: 'regate', jwks_url: 'https://idp.example.com/jwks' },
    policy: { bundle: '../bundles/pci.tar.gz', public_key_file: 'keys/bundle.pub' },
  };
}

function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

async function failure(tree: unknown): Promise<string> {
  try {
    await resolveConfig(join(dir, 'c.yaml'), tree);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
}

process.env.REGATE_TEST_LLM_KEY = 'sk-llm-456';

test('a valid file loads with defaults, absolute paths and credentials read', async () => {
  const c = await loadConfig(write('ok.yaml', stringify(base())));
  assert.equal(c.listen, { host: '0.0.0.0', port: 8443 });
  assert.equal(c.admin, { host: '127.0.0.1', port: 8081, metrics_public: false, console: undefined });
  assert.equal(c.limits, { requests_per_second: 50, burst: 100, max_concurrent: 32, json_max_depth: 64, headers_timeout_ms: 30_000, request_timeout_ms: 300_000, max_header_bytes: 16_384 });
  assert.is(c.max_body_bytes, 1 << 20);
  assert.equal(c.upstreams.fraud!.credential, { header: 'x-api-key', value: 'sk-fraud-123' });
  assert.equal(c.upstreams.llm!.credential, { header: 'authorization', value: 'Bearer sk-llm-456' });
  assert.equal(c.upstreams.fraud!.timeouts, { connect_ms: 5000, headers_ms: 2000, body_ms: 300000 });
  assert.is(c.upstreams.fraud!.connections, 64);
  assert.is(c.policy.bundle, join(dir, '..', 'bundles', 'pci.tar.gz'));
  assert.is(c.policy.public_key_file, join(dir, 'keys', 'bundle.pub'));
  assert.is(c.audit.dir, join(dir, '.regate', 'audit'));
  assert.is(c.routes[0]!.path_prefix, '/v1/score');
  assert.is(c.identity.groups_claim, 'groups');
  assert.is(c.logging.level, 'info');
});

test('policy.shadow: a bundle path is made absolute, a URL kept; absent, there is no shadow; a shadow without a bundle is refused by key', async () => {
  assert.is((await loadConfig(write('no-shadow.yaml', stringify(base())))).policy.shadow, undefined);
  const t = base() as ReturnType<typeof base> & { policy: Record<string, unknown> };
  t.policy.shadow = { bundle: 'candidate.tar.gz' };
  assert.equal((await loadConfig(write('shadow.yaml', stringify(t)))).policy.shadow, { bundle: join(dir, 'candidate.tar.gz') });
  t.policy.shadow = { bundle: 'https://bundles.example.com/next.tar.gz' };
  assert.equal((await loadConfig(write('shadow-url.yaml', stringify(t)))).policy.shadow, { bundle: 'https://bundles.example.com/next.tar.gz' });
  t.policy.shadow = { url: 'x' };
  assert.match(await failure(t), /policy\.shadow/);
});

test('policy.service.long_polling_timeout_seconds: the watcher long-polls and each request may take that much longer; 0 or over an hour refused by key', async () => {
  const { watchOptions } = await import('../../src/app/options.js');
  const tree = { ...base(), policy: { bundle: 'https://bundles.example.com/pci.tar.gz', allow_unsigned: true, service: { timeout_ms: 2000, long_polling_timeout_seconds: 30 } } };
  const w = await watchOptions(await resolveConfig(join(dir, 'c.yaml'), tree));
  assert.equal([w.longPollingSeconds, w.service?.timeoutMs], [30, 32_000]);
  const plain = await watchOptions(await resolveConfig(join(dir, 'c.yaml'), { ...tree, policy: { ...tree.policy, service: { timeout_ms: 2000 } } }));
  assert.equal([plain.longPollingSeconds, plain.service?.timeoutMs], [undefined, 2000]);
  for (const bad of [0, 3601]) {
    assert.match(await failure({ ...tree, policy: { ...tree.policy, service: { long_polling_timeout_seconds: bad } } }), 'policy.service.long_polling_timeout_seconds');
  }
});

test('a wrong type names the key, the line and what was expected', async () => {
  const t = base();
  t.upstreams.fraud.timeouts.headers_ms = 'soon';
  const f = write('bad-type.yaml', stringify(t));
  try {
    await loadConfig(f);
    assert.unreachable('should fail');
  } catch (err) {
    assert.instance(err, ConfigError);
    const m = (err as Error).message;
    assert.ok(m.startsWith(f), m);
    assert.match(m, /upstreams\.fraud\.timeouts\.headers_ms: expected an integer >= 1 \(milliseconds\), got "soon"/);
    assert.match(m, / line 11:/);
  }
});

test('admin.console: the client id must be one of identity.audience (its ID tokens are verified as the gateway\'s tokens); the session lasts 3600 s by default', async () => {
  const t = base();
  t.admin = { console: { client_id: 'regate-console' } };
  assert.match(await failure(t), /admin\.console\.client_id: .*one of identity\.audience \(regate\)/);
  t.identity.audience = ['regate', 'regate-console'];
  const c = await loadConfig(write('console.yaml', stringify(t)));
  assert.equal(c.admin.console, { client_id: 'regate-console', discovery_url: undefined, session_seconds: 3600 });
  t.admin.console.discovery_url = 'idp.example.com/openid';
  assert.match(await failure(t), /admin\.console\.discovery_url: .*an http:\/\/ or https:\/\/ URL, or a path on the admin listener/);
});

test('an unknown key (a typo) is refused with the nearest key suggested and the known keys listed', async () => {
  const t = base();
  t.routes[1].path_prefx = '/x';
  assert.match(await failure(t), /routes\[1\]\.path_prefx: unknown key; did you mean "path_prefix"\? \(known keys here: name, path_prefix, host, upstream, unmaskable, forward, body_cap_bytes\)/);
  const camel = base();
  camel.policy.publicKeyFile = 'k.pub';
  assert.match(await failure(camel), /policy\.publicKeyFile: unknown key; did you mean "public_key_file"\?/);
  const far = base();
  far.listen.tls = true;
  const m = await failure(far);
  assert.match(m, /listen\.tls: unknown key \(known keys here: host, port\)/);
  assert.not.match(m, /did you mean/);
});

/** The obvious Levenshtein distance, the full table. */
function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

test('property: a suggestion is a known key at the least edit distance, within a third of the typo\'s length', () => {
  const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '_', '-', 'A'), minLength: 1, maxLength: 9 });
  fc.assert(
    fc.property(fc.uniqueArray(word.map((w) => w.toLowerCase()), { minLength: 1, maxLength: 6 }), word, (known, key) => {
      const got = nearest(key, known);
      const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
      const sameish = known.find((k) => squash(k) === squash(key));
      if (sameish) return assert.is(got, sameish);
      const best = Math.min(...known.map((k) => levenshtein(key.toLowerCase(), k)));
      if (best > Math.max(1, Math.floor(key.length / 3))) return assert.is(got, undefined);
      assert.ok(got !== undefined && known.includes(got));
      assert.is(levenshtein(key.toLowerCase(), got!), best);
    }),
    { numRuns: 3000 },
  );
});

test('a route naming a missing upstream is refused', async () => {
  const t = base();
  t.routes[0].upstream = 'frod';
  assert.match(await failure(t), /routes\[0\]\.upstream: expected one of the upstreams \(fraud, llm\), got "frod"/);
});

test('limits: a headers timeout longer than the request timeout, and a negative rate, are refused by key', async () => {
  const t = base();
  t.limits = { headers_timeout_ms: 5000, request_timeout_ms: 1000 };
  assert.match(await failure(t), /limits\.headers_timeout_ms: expected at most request_timeout_ms \(1000\), got number 5000/);
  t.limits = { requests_per_second: -1 };
  assert.match(await failure(t), /limits\.requests_per_second: expected an integer from 0 to 1000000/);
});

test('routes[].body_cap_bytes: unset by default (audit.body_cap_bytes applies), 0 to 1 MiB taken, else refused naming the route key', async () => {
  assert.is((await resolveConfig(join(dir, 'c.yaml'), base())).routes[0]!.body_cap_bytes, undefined);
  const t = base();
  t.routes[1].body_cap_bytes = 0;
  assert.is((await resolveConfig(join(dir, 'c.yaml'), t)).routes[1]!.body_cap_bytes, 0);
  for (const bad of [-1, 2 ** 20 + 1, 1.5, 'big']) {
    t.routes[1].body_cap_bytes = bad;
    assert.match(await failure(t), /routes\[1\]\.body_cap_bytes: expected an integer from 0 to 1048576/, String(bad));
  }
});

test('audit.durability: fsync by default, commit on request, anything else refused by key', async () => {
  assert.is((await resolveConfig(join(dir, 'c.yaml'), base())).audit.durability, 'fsync');
  const t = base();
  t.audit = { durability: 'commit' };
  assert.is((await resolveConfig(join(dir, 'c.yaml'), t)).audit.durability, 'commit');
  t.audit = { durability: 'nosync' };
  assert.match(await failure(t), /audit\.durability: expected one of "fsync", "commit", got "nosync"/);
});

test('audit lifecycle: archive.dir made absolute, retain_archive_days 400 by default; retain_live without an archive or without seconds/bytes refused by key', async () => {
  const t = base();
  t.audit = { archive: { dir: 'arch' }, retain_live: { bytes: 1024 } };
  const c = await resolveConfig(join(dir, 'c.yaml'), t);
  assert.is(c.audit.archive?.dir, join(dir, 'arch'));
  assert.is(c.audit.retain_archive_days, 400);
  assert.is(c.audit.retain_live?.bytes, 1024);
  t.audit = { retain_live: { seconds: 60 } };
  assert.match(await failure(t), /audit\.archive\.dir: expected an archive folder/);
  t.audit = { archive: { dir: 'arch' }, retain_live: {} };
  assert.match(await failure(t), /audit\.retain_live\.seconds: expected seconds and\/or bytes/);
  t.audit = { retain_archive_days: 0 };
  assert.match(await failure(t), /audit\.retain_archive_days/);
  // A cluster node's archive is the cluster store: retain_live needs no folder, and a folder as well is refused.
  t.cluster = { postgres: { url: 'postgres://regate@db:5432/regate' } };
  t.audit = { retain_live: { seconds: 60 } };
  assert.is((await resolveConfig(join(dir, 'c.yaml'), t)).audit.retain_live?.seconds, 60);
  t.audit = { archive: { dir: 'arch' } };
  assert.match(await failure(t), /audit\.archive: expected absent on a cluster node: its sealed segments are archived in the cluster store/);
});

test('a credential needs exactly one source', async () => {
  const t = base();
  t.upstreams.fraud.credential.value_env = 'X';
  assert.match(await failure(t), /upstreams\.fraud\.credential\.value_file: expected exactly one of value_file or value_env/);
});

test('a missing environment variable or secret file is named', async () => {
  const t = base();
  t.upstreams.llm.credential.value_env = 'REGATE_TEST_UNSET_VAR';
  assert.match(await failure(t), /upstreams\.llm\.credential\.value_env: environment variable REGATE_TEST_UNSET_VAR is not set/);
  const u = base();
  u.upstreams.fraud.credential.value_file = 'nope.key';
  assert.match(await failure(u), /upstreams\.fraud\.credential\.value_file: cannot read .*nope\.key \(ENOENT\)/);
});

test('missing required sections and identity key sources are named', async () => {
  const t = base();
  delete t.routes;
  assert.match(await failure(t), /routes: expected a non-empty list, got nothing/);
  const u = base();
  delete u.identity.jwks_url;
  assert.match(await failure(u), /identity\.jwks_url: expected jwks_url or jwks_file/);
  const v = base();
  v.routes.push({ name: 'fraud-model', upstream: 'fraud' });
  assert.match(await failure(v), /routes\[2\]\.name: expected a route name not used before/);
});

test('invalid YAML and an unreadable file are reported with the path', async () => {
  const f = write('broken.yaml', 'listen:\n  port: [1, 2\nroutes: x\n');
  try {
    await loadConfig(f);
    assert.unreachable('should fail');
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, /broken\.yaml line \d+: not valid YAML/);
  }
  try {
    await loadConfig(join(dir, 'absent.yaml'));
    assert.unreachable('should fail');
  } catch (err) {
    assert.match((err as Error).message, /absent\.yaml: cannot read the config file \(ENOENT\)/);
  }
});

test('any non-integer max_body_bytes is refused naming that key', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string(), fc.double({ noInteger: true }), fc.boolean(), fc.array(fc.nat()), fc.integer({ max: -1 }), fc.object()),
      async (v) => {
        const t = base();
        t.max_body_bytes = v;
        const m = await failure(t);
        assert.match(m, /: max_body_bytes: expected an integer from 0 to 1073741824 \(bytes\)/);
      },
    ),
    { numRuns: 60 },
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
