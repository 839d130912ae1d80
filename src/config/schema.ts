/**
 * The shape of `regate serve --config FILE`, as validators. The TypeScript type of a loaded config
 * is inferred from this schema, so the docs (docs/config.md), the checks and the type cannot drift
 * apart. Cross-field rules (a route naming a missing upstream, a credential with two sources) are
 * checked here too, each naming the key at fault.
 */
import { bool, ConfigValueError, dict, int, list, obj, oneOf, optional, str, type Infer } from './validate.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const port = int({ min: 0, max: 65535, unit: 'TCP port; 0 picks a free one' });

const listenAddress = (defaultHost: string, defaultPort: number) =>
  obj({
    host: optional(str({ nonEmpty: true }), defaultHost),
    port: optional(port, defaultPort),
  });

const httpUrl = str({ pattern: /^https?:\/\/[^\s/]+/, expected: 'an http:// or https:// URL' });

/** The console's sign-in through the identity provider (OIDC code flow with PKCE); docs/config.md. */
const consoleSignIn = obj({
  client_id: str({ nonEmpty: true }),
  /** Default `<identity.issuer>/.well-known/openid-configuration`; a path means this admin listener (the demo's dev IdP). */
  discovery_url: optional(str({ pattern: /^(https?:\/\/[^\s/]+|\/[^\s]*$)/, expected: 'an http:// or https:// URL, or a path on the admin listener' })),
  session_seconds: optional(int({ min: 60, max: 86_400, unit: 'seconds' }), 3600),
});

const adminListener = obj({
  host: optional(str({ nonEmpty: true }), '127.0.0.1'),
  port: optional(port, 8081),
  metrics_public: optional(bool(), false),
  console: optional(consoleSignIn),
});

const credential = obj(
  {
    header: str({ pattern: /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, expected: 'an HTTP header name' }),
    value_file: optional(str({ nonEmpty: true })),
    value_env: optional(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, expected: 'an environment variable name' })),
    prefix: optional(str(), ''),
  },
  {
    check: (c, path) => {
      if ((c.value_file === undefined) === (c.value_env === undefined)) {
        throw new ConfigValueError(`${path}.value_file`, 'exactly one of value_file or value_env', c.value_file ?? c.value_env);
      }
    },
  },
);

const upstream = obj({
  url: httpUrl,
  credential: optional(credential),
  connections: optional(int({ min: 1, max: 4096, unit: 'sockets kept per upstream' }), 64),
  timeouts: obj({
    connect_ms: optional(int({ min: 1, unit: 'milliseconds' }), 5_000),
    headers_ms: optional(int({ min: 1, unit: 'milliseconds' }), 60_000),
    body_ms: optional(int({ min: 1, unit: 'milliseconds' }), 300_000),
  }),
});

const route = obj(
  {
    name: str({ pattern: NAME, expected: 'a route name (letters, digits, _ . -)' }),
    path_prefix: optional(str({ pattern: /^\//, expected: 'a path starting with /' }), '/'),
    host: optional(str({ nonEmpty: true })),
    upstream: str({ pattern: NAME, expected: 'the name of an entry under upstreams' }),
    // A body the policy says to mask that cannot be masked at all (binary, unknown encoding):
    // refused with 502 by default; `pass` forwards it unmasked, for routes known to carry none.
    unmaskable: optional(oneOf(['refuse', 'pass'] as const), 'refuse'),
    // When an allowed request is sent upstream: `overlap` sends it while its decision record
    // commits (the response is held until the record is durable), `after_commit` only once it is.
    // Unset: after_commit for state-changing calls to the provider's management API, else overlap
    // (src/proxy/commit-order.ts, docs/config.md).
    forward: optional(oneOf(['overlap', 'after_commit'] as const)),
    // This route's own audit.body_cap_bytes: e.g. smaller where the answers are bulk data whose
    // full length and SHA-256 are evidence enough, larger where the text itself must be kept.
    body_cap_bytes: optional(int({ min: 0, max: 1 << 20, unit: 'bytes of each masked body of this route kept in the audit log' })),
  },
);

const apiKey = obj({
  sha256: str({ pattern: /^[0-9a-f]{64}$/, expected: 'a lower-case hex SHA-256 of the key (64 hex digits)' }),
  sub: str({ nonEmpty: true }),
  groups: optional(list(str({ nonEmpty: true })), [] as string[]),
});

const audienceItem = str({ nonEmpty: true });
const audienceList = list(audienceItem, { nonEmpty: true });
const stringOrList = (v: unknown, path: string): string | string[] => (Array.isArray(v) ? audienceList(v, path) : audienceItem(v, path));

const identity = obj(
  {
    issuer: str({ nonEmpty: true }),
    audience: stringOrList,
    jwks_url: optional(httpUrl),
    jwks_file: optional(str({ nonEmpty: true })),
    algorithms: optional(
      list(oneOf(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const), { nonEmpty: true }),
    ),
    clock_tolerance_seconds: optional(int({ min: 0, max: 300, unit: 'seconds' }), 30),
    groups_claim: optional(str({ nonEmpty: true }), 'groups'),
    jwks_cooldown_seconds: optional(int({ min: 0, unit: 'seconds' }), 30),
    jwks_max_age_seconds: optional(int({ min: 1, unit: 'seconds' }), 600),
    jwks_fetch_timeout_ms: optional(int({ min: 1, unit: 'milliseconds' }), 5000),
    token_cache_entries: optional(int({ min: 0, unit: 'verified tokens kept; 0 disables the cache' }), 10_000),
    api_keys: optional(list(apiKey), [] as Infer<typeof apiKey>[]),
  },
  {
    check: (i, path) => {
      if (i.jwks_url !== undefined && i.jwks_file !== undefined) {
        throw new ConfigValueError(`${path}.jwks_file`, 'either jwks_url or jwks_file, not both', i.jwks_file);
      }
      if (i.jwks_url === undefined && i.jwks_file === undefined) {
        throw new ConfigValueError(`${path}.jwks_url`, 'jwks_url or jwks_file (where the signing keys are)', undefined);
      }
    },
  },
);

const signingKey = obj({
  public_key_file: str({ nonEmpty: true }),
  scope: optional(str({ nonEmpty: true })),
});

/** How regate reaches a remote service (OPA's `services` entry): credentials, client TLS, timeout. */
const serviceClient = {
  credentials: optional(obj({
    bearer: obj({
      token_file: str({ nonEmpty: true }),
      scheme: optional(str({ pattern: /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, expected: 'an HTTP authentication scheme' }), 'Bearer'),
    }),
  })),
  tls: optional(obj(
    {
      ca_file: optional(str({ nonEmpty: true })),
      cert_file: optional(str({ nonEmpty: true })),
      key_file: optional(str({ nonEmpty: true })),
    },
    {
      check: (t, path) => {
        if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
          throw new ConfigValueError(`${path}.${t.cert_file === undefined ? 'cert_file' : 'key_file'}`, 'both cert_file and key_file (a client certificate and its key), or neither', undefined);
        }
      },
    },
  )),
  timeout_ms: optional(int({ min: 1, unit: 'milliseconds for one request' }), 10_000),
};

const bundleService = obj({
  ...serviceClient,
  max_backoff_seconds: optional(int({ min: 1, max: 86_400, unit: 'longest wait between attempts after failures' }), 300),
  persist: optional(bool(), true),
  long_polling_timeout_seconds: optional(int({ min: 1, max: 3600, unit: 'seconds the bundle server may hold a poll open' })),
});

/** A service regate reports to (decision logs, status): where, and how to reach it. */
const reportingService = (resource: string) => obj({ url: httpUrl, resource: optional(str({ pattern: /^\//, expected: 'a path starting with /' }), resource), ...serviceClient });

const labels = dict(str(), { keyPattern: /^[A-Za-z_][A-Za-z0-9_.-]*$/ });

/** OPA's decision-log plugin (`decision_logs`), its reporting settings under the same names. */
const decisionLogs = obj(
  {
    service: reportingService('/logs'),
    min_delay_seconds: optional(int({ min: 1, max: 86_400, unit: 'seconds, shortest wait between uploads' }), 5),
    max_delay_seconds: optional(int({ min: 1, max: 86_400, unit: 'seconds, longest wait between uploads (and longest backoff)' }), 10),
    upload_size_limit_bytes: optional(int({ min: 1024, max: 64 << 20, unit: 'bytes of one gzipped upload' }), 32_768),
    buffer_size_limit_events: optional(int({ min: 1, max: 10_000_000, unit: 'events kept while the service is unreachable' }), 10_000),
  },
  {
    check: (d, path) => {
      if (d.max_delay_seconds < d.min_delay_seconds) throw new ConfigValueError(`${path}.max_delay_seconds`, `at least min_delay_seconds (${d.min_delay_seconds})`, d.max_delay_seconds);
    },
  },
);

/** OPA's status plugin (`status`). */
const status = obj({
  service: reportingService('/status'),
  interval_seconds: optional(int({ min: 1, max: 86_400, unit: 'seconds between periodic reports' }), 60),
});

const policy = obj(
  {
    bundle: str({ nonEmpty: true, expected: 'a bundle file path or an http(s) URL' }),
    entrypoint: optional(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/, expected: 'a Rego rule path such as regate/decision' })),
    public_key_file: optional(str({ nonEmpty: true })),
    keys: optional(dict(signingKey, { keyPattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, nonEmpty: true })),
    key_id: optional(str({ nonEmpty: true })),
    scope: optional(str({ nonEmpty: true })),
    allow_unsigned: optional(bool(), false),
    poll_seconds: optional(int({ min: 0, unit: 'seconds between checks for a new bundle; 0 disables' }), 10),
    service: optional(bundleService),
    // Shadow mode: a second bundle decides beside the enforced one and never changes the answer.
    shadow: optional(obj({ bundle: str({ nonEmpty: true, expected: 'a bundle file path or an http(s) URL' }) })),
  },
  {
    // Fail closed: a gateway that would run whatever bundle it finds must be asked for in writing.
    check: (p, path) => {
      if (p.public_key_file !== undefined && p.keys !== undefined) {
        throw new ConfigValueError(`${path}.keys`, 'either public_key_file (one key) or keys (several), not both', p.keys);
      }
      if (p.public_key_file === undefined && p.keys === undefined && !p.allow_unsigned) {
        throw new ConfigValueError(`${path}.public_key_file`, 'the PEM public key that signs the policy bundle (or policy.keys for several, or policy.allow_unsigned: true to run unsigned bundles)', undefined);
      }
      if (p.keys && p.key_id !== undefined && !(p.key_id in p.keys)) {
        throw new ConfigValueError(`${path}.key_id`, `one of the ids under policy.keys (${Object.keys(p.keys).join(', ')})`, p.key_id);
      }
    },
  },
);

/** LMDB keeps this much of the quota for sealing (src/audit/log.ts), so a quota must leave room for records. */
const AUDIT_MIN_SIZE = 512 * 1024;

/** A witness the gateway submits checkpoints to: its URL and its cosignature verifier key (docs/audit-format.md §10). */
const witness = obj({
  url: httpUrl,
  public_key: str({ pattern: /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}$/, expected: "a witness verifier key: name+keyid+base64 (`regate witness key` prints it)" }),
});

const audit = obj({
  dir: optional(str({ nonEmpty: true })),
  // The checkpoints' origin line; fixed when the log is created (default regate.audit/<log id>).
  origin: optional(str({ pattern: /^[^\s+]+$/, expected: 'a name without spaces or +, e.g. audit.example.com/gateway-1' })),
  witnesses: optional(list(witness), []),
  // How many witnesses must cosign a checkpoint (default: all of them).
  witness_quorum: optional(int({ min: 1, max: 64, unit: 'witnesses' })),
  body_cap_bytes: optional(int({ min: 0, max: 1 << 20, unit: 'bytes of each masked body kept in the audit log' }), 8192),
  max_size_bytes: optional(int({ min: AUDIT_MIN_SIZE, unit: 'bytes the audit log may occupy on disk' }), 64 * 2 ** 30),
  // `fsync` survives power loss; `commit` only a process crash, for a higher throughput (docs/config.md).
  durability: optional(oneOf(['fsync', 'commit'] as const), 'fsync'),
  segment_records: optional(int({ min: 1, max: 10_000_000, unit: 'records a segment holds before it is sealed' }), 10_000),
  segment_seconds: optional(int({ min: 1, max: 86_400, unit: 'seconds before an open segment is sealed' }), 60),
  // The lifecycle (docs/audit-format.md §10): sealed segments go to the archive; the live store keeps what retain_live says.
  archive: optional(obj({ dir: str({ nonEmpty: true }) })),
  retain_live: optional(obj({
    seconds: optional(int({ min: 0, unit: 'seconds a sealed segment stays in the live store' })),
    bytes: optional(int({ min: 0, unit: 'bytes the live store may hold before its oldest archived segments leave it' })),
  }, {
    check: (r, path) => {
      if (r.seconds === undefined && r.bytes === undefined) throw new ConfigValueError(`${path}.seconds`, 'seconds and/or bytes (how much stays in the live store)', undefined);
    },
  })),
  retain_archive_days: optional(int({ min: 1, max: 36_500, unit: 'days archived segments are kept' }), 400),
}, {
  check: (a, path) => {
    if (a.witness_quorum !== undefined && a.witness_quorum > a.witnesses.length) throw new ConfigValueError(`${path}.witness_quorum`, `at most the number of audit.witnesses (${a.witnesses.length})`, a.witness_quorum);
  },
});

const holds = obj({
  wait_seconds: optional(int({ min: 0, max: 3600, unit: 'seconds a client is kept waiting' }), 60),
  max_pending_per_identity: optional(int({ min: 1 }), 5),
  max_pending: optional(int({ min: 1 }), 1000),
  webhook_url: optional(httpUrl),
});

/** Per-identity admission and request-shape limits (src/proxy/limits.ts, json-guard.ts). */
const limits = obj({
  requests_per_second: optional(int({ min: 0, max: 1_000_000, unit: 'requests a second per identity; 0 disables' }), 50),
  burst: optional(int({ min: 1, max: 1_000_000, unit: 'requests an idle identity may send at once' }), 100),
  max_concurrent: optional(int({ min: 0, max: 100_000, unit: 'requests in flight per identity; 0 disables' }), 32),
  json_max_depth: optional(int({ min: 1, max: 1000, unit: 'nesting levels of a JSON request body' }), 64),
  headers_timeout_ms: optional(int({ min: 1, unit: 'milliseconds to receive the request headers' }), 30_000),
  request_timeout_ms: optional(int({ min: 0, unit: 'milliseconds to receive the whole request; 0 disables' }), 300_000),
  max_header_bytes: optional(int({ min: 1024, max: 1 << 20, unit: 'bytes of request line and headers' }), 16 * 1024),
}, {
  check: (l, path) => {
    // Node refuses a headers timeout longer than a (non-zero) request timeout.
    if (l.request_timeout_ms > 0 && l.headers_timeout_ms > l.request_timeout_ms) {
      throw new ConfigValueError(`${path}.headers_timeout_ms`, `at most request_timeout_ms (${l.request_timeout_ms})`, l.headers_timeout_ms);
    }
  },
});

/** `cluster`: join a multi-machine gateway on PostgreSQL (docs/cluster.md); absent, the node is alone on LMDB. */
const clusterTls = obj({
  ca_file: optional(str({ nonEmpty: true })),
  cert_file: optional(str({ nonEmpty: true })),
  key_file: optional(str({ nonEmpty: true })),
  insecure_skip_verify: optional(bool(), false),
}, {
  check: (t, path) => {
    if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
      throw new ConfigValueError(`${path}.key_file`, 'cert_file and key_file together (a client certificate needs its key)', t.key_file ?? t.cert_file);
    }
  },
});

const cluster = obj({
  postgres: obj({
    url: str({ pattern: /^postgres(ql)?:\/\/[^\s]+$/, expected: 'a postgres://user@host:port/database URL' }),
    password_file: optional(str({ nonEmpty: true })),
    tls: optional(clusterTls),
    pool_size: optional(int({ min: 1, max: 100, unit: 'connections to PostgreSQL' }), 4),
    timeout_ms: optional(int({ min: 100, max: 60_000, unit: 'milliseconds to wait for PostgreSQL' }), 3000),
  }, {
    check: (p, path) => {
      if (/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(p.url)) {
        throw new ConfigValueError(`${path}.url`, 'a URL without a password (put it in password_file: config files get copied and logged)', '(a URL with a password)');
      }
    },
  }),
  node_id: optional(str({ pattern: NAME, expected: 'a node name (letters, digits, _ . -)' })),
  heartbeat_seconds: optional(int({ min: 1, max: 60, unit: 'seconds between heartbeats' }), 2),
  usage_sync_ms: optional(int({ min: 50, max: 10_000, unit: 'milliseconds between usage count flushes' }), 250),
});

const logging = obj({
  level: optional(oneOf(['debug', 'info', 'warn', 'error', 'off'] as const), 'info'),
  requests: optional(bool(), true),
});

export const configSchema = obj(
  {
    listen: listenAddress('127.0.0.1', 8080),
    admin: adminListener,
    state_dir: optional(str({ nonEmpty: true }), '.regate'),
    max_body_bytes: optional(int({ min: 0, max: 1 << 30, unit: 'bytes' }), 1 << 20),
    drain_seconds: optional(int({ min: 0, max: 3600, unit: 'seconds' }), 30),
    workers: optional(int({ min: 1, max: 256, unit: 'processes' }), 1),
    upstreams: dict(upstream, { keyPattern: NAME, nonEmpty: true }),
    routes: list(route, { nonEmpty: true }),
    identity,
    policy,
    audit,
    holds,
    limits,
    logging,
    decision_logs: optional(decisionLogs),
    status: optional(status),
    labels: optional(labels),
    cluster: optional(cluster),
  },
  {
    check: (c) => {
      if (c.admin.port !== 0 && c.admin.port === c.listen.port) {
        throw new ConfigValueError('admin.port', `a port other than listen.port (${c.listen.port}): the admin listener and the clients' listener cannot share one`, c.admin.port);
      }
      // The archive is the folder, or on a cluster node the cluster store (docs/cluster.md): one of them.
      if (c.audit.retain_live && !c.audit.archive && !c.cluster) throw new ConfigValueError('audit.archive.dir', 'an archive folder (or cluster.postgres, whose store is the archive): retain_live prunes only segments the archive holds', undefined);
      if (c.audit.archive && c.cluster) throw new ConfigValueError('audit.archive', 'absent on a cluster node: its sealed segments are archived in the cluster store (docs/cluster.md)', c.audit.archive.dir);
      // The ID token is verified by the gateway's own verifier, whose audience list must hold the client id (its "aud").
      const audiences = ([] as string[]).concat(c.identity.audience);
      if (c.admin.console && !audiences.includes(c.admin.console.client_id)) {
        throw new ConfigValueError('admin.console.client_id', `one of identity.audience (${audiences.join(', ')}): the console's ID tokens are verified as the gateway's tokens are`, c.admin.console.client_id);
      }
      const seen = new Set<string>();
      c.routes.forEach((r, i) => {
        if (!(r.upstream in c.upstreams)) {
          throw new ConfigValueError(`routes[${i}].upstream`, `one of the upstreams (${Object.keys(c.upstreams).join(', ')})`, r.upstream);
        }
        if (seen.has(r.name)) throw new ConfigValueError(`routes[${i}].name`, 'a route name not used before', r.name);
        seen.add(r.name);
      });
    },
  },
);

/** The config as written in the file, after validation and defaults. */
export type ConfigFile = Infer<typeof configSchema>;
export type UpstreamConfig = Infer<typeof upstream>;
export type RouteConfig = Infer<typeof route>;
export type IdentityConfig = Infer<typeof identity>;
export type PolicyConfig = Infer<typeof policy>;
export type DecisionLogsConfig = Infer<typeof decisionLogs>;
export type StatusConfig = Infer<typeof status>;
export type LimitsConfig = Infer<typeof limits>;
export type ClusterConfig = Infer<typeof cluster>;
/** The limits a config without a `limits:` section gets (also used by configs built in code). */
export const DEFAULT_LIMITS: LimitsConfig = limits(undefined, 'limits');
