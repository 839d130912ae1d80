import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startGateway, type RunningGateway } from '../../src/app/index.js';
import { close, closedPort, listenOn, LogSink, startIdp, startRig, testConfig, UpstreamDouble, type IdpDouble, type Rig } from '../gateway/harness.js';
import { assertServes, exchangeRecords } from './helpers.js';

let rig: Rig;
let mo: string;
test.before(async () => {
  rig = await startRig({ headersMs: 800 });
  mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
});
test.after(() => rig.stop());

/** An upstream that speaks raw TCP, for faults no HTTP server makes on purpose. */
async function rawUpstream(onConnection: (s: Socket) => void): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.once('data', () => onConnection(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** A gateway on the shared IdP in front of `upstreamUrl`; the fault's answer and its audit record. */
async function throughFault(upstreamUrl: string, status: number, error: string): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'regate-fault-'));
  const gw = await startGateway(testConfig(rig.idp, upstreamUrl, { stateDir, headersMs: 800 }), { log: new LogSink() });
  try {
    const res = await fetch(`${gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body: '{}' });
    assert.is(res.status, status);
    const body = (await res.json()) as { error: string; request_id: string };
    assert.is(body.error, error);
    const records = await exchangeRecords(stateDir, body.request_id);
    const outcome = records.find((e) => e.type === 'request.outcome')!;
    assert.is(outcome.status, status, 'the outcome record says what the client got');
    assert.is(outcome.error, error, 'and why');
  } finally {
    await gw.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

test('upstream refuses: 502, the outcome record says upstream_unavailable', async () => {
  await throughFault(`http://127.0.0.1:${await closedPort()}`, 502, 'upstream_unavailable');
});

test('upstream resets before answering: 502, recorded', async () => {
  const up = await rawUpstream((s) => s.resetAndDestroy());
  try {
    await throughFault(up.url, 502, 'upstream_unavailable');
  } finally {
    await up.stop();
  }
});

test('upstream hangs: 504 after the headers timeout, recorded', async () => {
  const up = await rawUpstream(() => undefined);
  try {
    await throughFault(up.url, 504, 'upstream_timeout');
  } finally {
    await up.stop();
  }
});

test('upstream drips its headers a byte at a time: 504 at the headers timeout, recorded', async () => {
  const timers = new Set<NodeJS.Timeout>();
  const up = await rawUpstream((s) => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    let i = 0;
    const t = setInterval(() => (s.destroyed || i >= head.length ? clearInterval(t) : s.write(head.subarray(i, ++i))), 200);
    timers.add(t);
  });
  try {
    await throughFault(up.url, 504, 'upstream_timeout');
  } finally {
    for (const t of timers) clearInterval(t);
    await up.stop();
  }
});

test('upstream resets mid-response: the client sees the cut, the outcome record names the failure', async () => {
  rig.upstream.handlers.set('/v1/models/load', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"partial":');
    setTimeout(() => res.socket?.resetAndDestroy(), 50);
  });
  try {
    const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body: '{}' });
    assert.is(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    await res.text().then(
      () => assert.unreachable('the body must not end cleanly'),
      () => undefined,
    );
    const outcome = (await exchangeRecords(rig.stateDir, id)).find((e) => e.type === 'request.outcome')!;
    assert.is(outcome.error, 'upstream_unavailable');
  } finally {
    rig.upstream.handlers.delete('/v1/models/load');
  }
  await assertServes(rig, mo);
});

/** An identity provider whose key-set endpoint can be switched between answers. */
async function switchableIdp(): Promise<{ idp: IdpDouble; mode: { now: 'ok' | 'down' | 'garbage' | 'slow' | 'rotated' }; stop(): Promise<void> }> {
  const base = await startIdp(); // only for its issuer and token(): its own server is not used
  const keys = await Promise.all([1, 2].map(async (n) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `k${n}`, alg: 'ES256', use: 'sig' } as JWK };
  }));
  const mode = { now: 'ok' as 'ok' | 'down' | 'garbage' | 'slow' | 'rotated' };
  const server: Server = createServer((req, res) => {
    if (mode.now === 'down') return req.socket.destroy();
    if (mode.now === 'garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [{"kty": 7}');
    const set = JSON.stringify({ keys: mode.now === 'rotated' ? [keys[1]!.jwk] : [keys[0]!.jwk] });
    if (mode.now === 'slow') return void setTimeout(() => res.writeHead(200).end(set), 3_000);
    res.writeHead(200, { 'content-type': 'application/json' }).end(set);
  });
  const url = await listenOn(server);
  const token = async (o: { sub: string; groups: string[]; kid?: string }) => {
    const k = keys[o.kid === 'k2' ? 1 : 0]!;
    return new SignJWT({ groups: o.groups }).setProtectedHeader({ alg: 'ES256', kid: k.jwk.kid! }).setIssuer(base.issuer).setAudience('regate-test')
      .setSubject(o.sub).setIssuedAt().setExpirationTime('10m').sign(k.privateKey);
  };
  return {
    idp: { ...base, url, token },
    mode,
    stop: async () => {
      await close(server);
      await base.stop();
    },
  };
}

test('identity provider faults through the gateway: down, garbage and slow with no cached keys → 503; cached keys keep working; a rotated set is picked up', async () => {
  const { idp, mode, stop } = await switchableIdp();
  const upstream = await new UpstreamDouble().start();
  const stateDir = mkdtempSync(join(tmpdir(), 'regate-jwks-'));
  let gw: RunningGateway | null = null;
  const call = async (token: string) => {
    const res = await fetch(`${gw!.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };
  try {
    gw = await startGateway(testConfig(idp, upstream.url, { stateDir }), { log: new LogSink() });
    const k1 = await idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const k2 = await idp.token({ sub: 'mo', groups: ['ml-admins'], kid: 'k2' });
    for (const m of ['down', 'garbage', 'slow'] as const) {
      mode.now = m;
      const r = await call(k1);
      assert.is(r.status, 503, `JWKS ${m}, nothing cached`);
      assert.is(r.body.error, 'identity_unavailable', `JWKS ${m}`);
      await new Promise((res) => setTimeout(res, 1_100)); // past the refetch cooldown
    }
    mode.now = 'ok';
    assert.is((await call(k1)).status, 200, 'recovers when the provider does');
    mode.now = 'down';
    assert.is((await call(k1)).status, 200, 'cached keys keep working while the provider is down');
    await new Promise((res) => setTimeout(res, 1_100));
    mode.now = 'rotated';
    assert.is((await call(k2)).status, 200, 'a token on the rotated key triggers a refetch and verifies');
  } finally {
    await gw?.stop();
    await upstream.stop();
    await stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test.run();
