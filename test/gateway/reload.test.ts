/**
 * Signed bundles and hot reload in the running gateway: a tampered bundle is refused (audited as
 * bundle.rejected) while the last good one keeps deciding; a re-signed one is swapped in; custom
 * detectors declared in a bundle's data reach the masker, and one RE2 refuses rejects its bundle.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BUNDLE, signBundle } from '../../src/policy/index.js';
import { readTarGz, writeTarGz } from '../../src/policy/tar.js';
import { runCli } from '../helpers/cli.js';
import { startRig, type Rig } from './harness.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const committed = readFileSync(DEFAULT_BUNDLE);

/** The committed bundle with its data edited and its manifest naming `revision`; unsigned. */
function variant(revision: string, edit: (data: Record<string, any>) => void): Buffer {
  return writeTarGz(
    readTarGz(committed).map((e) => {
      if (e.name === 'data.json') {
        const data = JSON.parse(Buffer.from(e.bytes).toString('utf8'));
        edit(data);
        return { name: e.name, bytes: Buffer.from(JSON.stringify(data)) };
      }
      if (e.name === '.manifest') return { name: e.name, bytes: Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(e.bytes).toString()), revision })) };
      return e;
    }),
  );
}

const marketingMayLoad = (d: Record<string, any>) => d.pci.operations.model_management.groups.push('marketing');
const accountDetector = (pattern: string) => (d: Record<string, any>) => (d.custom_detectors = [{ name: 'account_number', pattern }]);

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('tampered bundle refused and audited, last good one serves; re-signed swapped in; custom detectors from data mask', async () => {
  let rig: Rig | undefined;
  let stopped = false;
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'regate-reload-'));
  const bundle = join(dir, 'pci.tar.gz');
  const put = (bytes: Buffer) => {
    writeFileSync(`${bundle}.tmp`, bytes);
    renameSync(`${bundle}.tmp`, bundle);
  };
  writeFileSync(join(dir, 'bundle.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  put(await signBundle(variant('rev-1', () => undefined), { privateKeyPem }));
  try {
    rig = await startRig({ keepState: true, policy: { bundle, public_key_file: join(dir, 'bundle.pub.pem'), allow_unsigned: false, poll_seconds: 1 } });
    const r = rig;
    const eve = await r.idp.token({ sub: 'eve', groups: ['marketing'] });
    const sam = await r.idp.token({ sub: 'sam', groups: ['support-agents'] });
    const load = async () => (await fetch(`${r.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${eve}`, 'content-type': 'application/json' }, body: '{}' })).status;
    const logged = (msg: string, field: string, value: string) => () => r.logs.lines().some((l) => l.msg === msg && String(l[field]).includes(value));
    assert.is(await load(), 403);

    // Signed bytes of rev-1 with the data changed: the signature no longer covers data.json.
    const signed = readTarGz(readFileSync(bundle));
    const edited = readTarGz(variant('rev-1', marketingMayLoad));
    put(writeTarGz(signed.map((e) => (e.name === 'data.json' ? edited.find((x) => x.name === 'data.json')! : e))));
    await eventually('the tampered bundle to be refused', logged('policy bundle refused; keeping the last good one', 'source', bundle));
    assert.is(await load(), 403, 'the last good policy still decides');

    put(await signBundle(variant('rev-2', marketingMayLoad), { privateKeyPem }));
    await eventually('rev-2 to load', logged('policy bundle loaded', 'policy_revision', 'rev-2'));
    assert.is(await load(), 200, 'the re-signed bundle is in force');

    r.upstream.handlers.set('/v1/chat/completions', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"answer":"account ACCT-12345678 is open"}'));
    const chat = async () => {
      const res = await fetch(`${r.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' }, body: '{"q":"ACCT-87654321?"}' });
      return { status: res.status, body: await res.text(), sent: r.upstream.seen.at(-1)!.body };
    };
    assert.is((await chat()).body, '{"answer":"account ACCT-12345678 is open"}', 'no custom detector yet');

    put(await signBundle(variant('rev-3', accountDetector('(?<=x)ACCT')), { privateKeyPem }));
    await eventually('the bad detector to be refused', logged('policy bundle refused; keeping the last good one', 'error', 'account_number'));
    put(await signBundle(variant('rev-4', accountDetector('ACCT-[0-9]{8}')), { privateKeyPem }));
    await eventually('rev-4 to load', logged('policy bundle loaded', 'policy_revision', 'rev-4'));
    const masked = await chat();
    assert.is(masked.status, 200);
    assert.is(JSON.parse(masked.body).answer, 'account **** is open');
    assert.not.ok(masked.sent.includes('87654321'), 'the request side is masked too');
    await r.stop();
    stopped = true;

    const tail = await runCli(['audit', 'tail', '--dir', join(r.stateDir, 'audit')]);
    const bundles = tail.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).event).filter((e) => e.type.startsWith('bundle.') || e.type.startsWith('gateway.'));
    assert.equal(bundles.map((e) => [e.type, e.revision ?? null]), [
      ['bundle.loaded', 'rev-1'], ['gateway.start', null], ['bundle.rejected', null], ['bundle.loaded', 'rev-2'],
      ['bundle.rejected', null], ['bundle.loaded', 'rev-4'], ['gateway.stop', null],
    ]);
    assert.match(bundles[0].reason, /^signature verified with .*bundle\.pub\.pem$/);
    assert.match(bundles[2].reason, /data\.json/);
    assert.match(bundles[4].reason, /custom detector "account_number"/);
  } finally {
    if (rig && !stopped) await rig.stop();
    if (rig) rmSync(rig.stateDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
