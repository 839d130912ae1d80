/** The writer: numbering, chaining, segment cuts (count, age, close), reopen, key rotation, refusals, scrubbing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK } from 'jose';
import {
  AuditClosedError, AuditFormatError, AuditWriteError, BodyCapturer, captureBody, keyIdOf, loadOrCreateAuditKey, openStore, readTrustedKeys,
  storeInput, verifyLog, type AuditEvent, type VerifyResult,
} from '../../src/audit/index.js';
import { parseRecord } from '../../src/audit/record.js';
import type { HoldAuditEvent } from '../../src/hold/types.js';
import { fixture, openLog, sampleEvent, type Fixture } from './helpers.js';

async function verifyWith(f: Fixture, keyFiles: string[]): Promise<VerifyResult> {
  const store = openStore(f.dir, { readOnly: true });
  try {
    return await verifyLog(storeInput(store).input, { keys: await readTrustedKeys(keyFiles), fromGenesis: true });
  } finally {
    await store.env.close();
  }
}

function records(f: Fixture): Array<{ seq: number; type: string; event: AuditEvent }> {
  const store = openStore(f.dir, { readOnly: true });
  try {
    return [...store.records.getRange()].map(({ value }) => {
      const r = parseRecord(value);
      if (typeof r === 'string') throw new Error(r);
      return { seq: r.seq, type: r.event.type, event: r.event };
    });
  } finally {
    void store.env.close();
  }
}

test('concurrent appends get consecutive numbers from 0; segments are cut by count and on close; reopening continues', async () => {
  const f = await fixture();
  try {
    let log = await openLog(f, { segmentRecords: 7 });
    const seqs = (await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(sampleEvent(i))))).map((r) => r.seq);
    await log.close();
    const all = records(f);
    assert.equal(all.map((r) => r.seq), all.map((_, i) => i));
    assert.equal(new Set(seqs).size, 30);
    assert.ok(all.some((r) => r.type === 'segment.sealed'), 'count-triggered seals are recorded');
    log = await openLog(f, { segmentRecords: 7 });
    assert.is((await log.append(sampleEvent(0))).seq, all.length);
    await log.close();
    const r = await verifyWith(f, [f.pub]);
    assert.ok(r.ok, r.ok ? '' : r.fault.message);
    assert.is(r.summary.records, all.length + 1);
    assert.is(r.summary.unsealed, 0);
  } finally {
    f.cleanup();
  }
});

test('a segment is sealed when its first record is older than segmentSeconds', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { segmentSeconds: 1 });
    await log.append(sampleEvent(0));
    const store = openStore(f.dir, { readOnly: true });
    let sealed = 0;
    for (let i = 0; i < 50 && sealed === 0; i++) {
      await sleep(100);
      store.env.resetReadTxn();
      sealed = [...store.checkpoints.getKeys()].length;
    }
    await store.env.close();
    assert.is(sealed, 1, 'the age timer sealed segment 0');
    await log.close();
  } finally {
    f.cleanup();
  }
});

test('after a key rotation older segments still verify given both keys (PEMs or a JWKS), not with the new key alone', async () => {
  const f = await fixture();
  try {
    let log = await openLog(f);
    await log.append(sampleEvent(0));
    await log.close();
    const next = generateKeyPairSync('ed25519');
    const nextKid = await keyIdOf(next.publicKey);
    log = await openLog(f, { signingKey: next.privateKey, keyId: nextKid });
    await log.append(sampleEvent(1));
    await log.close();
    const nextPub = join(f.state, 'next.pub.pem');
    writeFileSync(nextPub, next.publicKey.export({ type: 'spki', format: 'pem' }));
    const both = await verifyWith(f, [f.pub, nextPub]);
    assert.ok(both.ok && both.summary.kids.length === 2, JSON.stringify(both));
    const jwks = join(f.state, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(createPublicKey(f.key.privateKey))), kid: f.key.keyId }, { ...(await exportJWK(next.publicKey)), kid: nextKid }] }));
    assert.ok((await verifyWith(f, [jwks])).ok);
    const onlyNew = await verifyWith(f, [nextPub]);
    assert.ok(!onlyNew.ok && onlyNew.fault.kind === 'untrusted-key' && /^segment 0:/.test(onlyNew.fault.message), JSON.stringify(onlyNew));
  } finally {
    f.cleanup();
  }
});

test('a log directory whose name has a dot (audit.d-2026.11) is a directory that readers find', async () => {
  const f = await fixture();
  try {
    const dotted = { ...f, dir: join(f.state, 'audit.d-2026.11') };
    const log = await openLog(dotted);
    await log.append(sampleEvent(0));
    await log.close();
    assert.ok(statSync(dotted.dir).isDirectory());
    const r = await verifyWith(dotted, [f.pub]);
    assert.ok(r.ok, r.ok ? '' : r.fault.message);
    const stored = records(dotted);
    assert.is(stored[0]?.type, 'request.decision');
    assert.is(r.summary.records, stored.length);
  } finally {
    f.cleanup();
  }
});

test('a log has one writer: a second open is refused until the first closes', async () => {
  const f = await fixture();
  try {
    const first = await openLog(f);
    await openLog(f).then(() => assert.unreachable('two writers'), (err) => {
      assert.instance(err, AuditWriteError);
      assert.match(err.message, `the audit log at ${f.dir} is already open for writing by process ${process.pid}`);
    });
    await first.append(sampleEvent(0));
    await first.close();
    const second = await openLog(f);
    assert.is((await second.append(sampleEvent(1))).seq, 1);
    await second.close();
  } finally {
    f.cleanup();
  }
});

test('refusals: a non-Ed25519 key, another log id, append after close, a value canonical JSON cannot hold (and the log goes on)', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { logId: 'log-a' });
    const bad = { ...sampleEvent(1), duration_ms: 1.5 } as AuditEvent;
    await log.append(bad).then(() => assert.unreachable(), (err) => assert.instance(err, AuditFormatError));
    assert.is((await log.append(sampleEvent(0))).seq, 0, 'a refused event takes no number');
    await log.close();
    await log.append(sampleEvent(0)).then(() => assert.unreachable(), (err) => assert.is(err.code, AuditClosedError.code));
    await openLog(f, { signingKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }).then(() => assert.unreachable(), (err) => {
      assert.instance(err, AuditWriteError);
      assert.match(err.message, 'is not an Ed25519 private key');
    });
    await openLog(f, { logId: 'log-b' }).then(() => assert.unreachable(), (err) => {
      assert.instance(err, AuditWriteError);
      assert.match(err.message, 'has log id log-a, not log-b');
    });
    assert.ok((await verifyWith(f, [f.pub])).ok);
  } finally {
    f.cleanup();
  }
});

test('the hold stage\'s audit events are appended unchanged (its type is one of ours)', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f);
    const event: HoldAuditEvent = { type: 'hold.approved', at_ms: 1_700_000_000_000, hold_id: 'h1', grant_id: null, request_id: 'r1', route: 'fraud-model', actor: { sub: 'bob', iss: 'https://idp', groups: ['pci-approvers'] }, subject: { sub: 'alice', iss: 'https://idp', groups: [] }, detail: 'approved' };
    await log.append(event);
    await log.close();
    assert.equal(records(f)[0]!.event, event);
  } finally {
    f.cleanup();
  }
});

test('loadOrCreateAuditKey creates one key (0600) and loads the same one again', async () => {
  const f = await fixture();
  try {
    const again = await loadOrCreateAuditKey(f.state);
    assert.is(again.keyId, f.key.keyId);
    assert.is(again.keyId, await keyIdOf(createPublicKey(readFileSync(f.pub, 'utf8'))));
    assert.is(statSync(join(f.state, 'audit.key.pem')).mode & 0o777, 0o600);
  } finally {
    f.cleanup();
  }
});

test('captureBody caps on a character boundary and hashes the full masked bytes', () => {
  assert.equal(captureBody('ab€cd', 3), { bytes: 7, sha256: createHash('sha256').update('ab€cd').digest('hex'), text: 'ab', truncated: true });
  assert.is(captureBody('abc').truncated, false);
  assert.equal(captureBody('a\ud800b'), captureBody(Buffer.from('a\ud800b', 'utf8')), 'a lone surrogate is recorded as UTF-8 encodes it');
});

test('BodyCapturer: any chunking of a stream captures what captureBody captures of the whole', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.nat(60), { maxLength: 8 }), fc.nat(120), (text, cuts, cap) => {
      const bytes = Buffer.from(text, 'utf8');
      const c = new BodyCapturer(cap);
      let at = 0;
      for (const n of cuts) {
        c.update(bytes.subarray(at, Math.min(bytes.length, at + n)));
        at = Math.min(bytes.length, at + n);
      }
      c.update(bytes.subarray(at));
      assert.is(c.bytes, bytes.length);
      const got = c.finish();
      assert.is(got.bytes, bytes.length);
      assert.is(got.sha256, createHash('sha256').update(bytes).digest('hex'));
      const kept = Buffer.from(got.text, 'utf8');
      assert.ok(kept.equals(bytes.subarray(0, kept.length)), 'the text is a prefix of the bytes');
      assert.ok(kept.length <= cap && (kept.length === bytes.length || cap - kept.length < 4), 'cut at most one character short of the cap');
      assert.is(got.truncated, kept.length < bytes.length);
      assert.equal(got, captureBody(bytes, cap));
      assert.equal(got, captureBody(text, cap), 'a string body captures as its UTF-8 bytes do');
    }),
  );
});

// ---- no record ever holds a valid PAN or a JWT when the caller's scrub masks them ----

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}
const brand = (d: string) => /^(4\d{12}(\d{3}){0,2}|5[1-5]\d{14}|2[2-7]\d{14}|3[47]\d{13}|6011\d{12}|65\d{14})$/.test(d);
/** Digit runs (spaces or dashes allowed between digits) not inside a longer alphanumeric word. */
function containsPan(s: string): boolean {
  for (const m of s.matchAll(/(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])/g)) {
    const d = m[0].replace(/[ -]/g, '');
    if (luhn(d) && brand(d)) return true;
  }
  return false;
}
const JWT = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
/** A conservative stand-in for the masking engineer's scrubber: masks every long digit run and every JWT. */
const scrub = (s: string) => s.replace(/\d(?:[ -]?\d){12,}/g, '[PAN]').replace(new RegExp(JWT.source, 'g'), '[JWT]');

function withCheckDigit(body: string): string {
  for (let d = 0; d < 10; d++) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
}
const pan = fc.oneof(
  fc.stringMatching(/^4\d{14}$/), fc.stringMatching(/^5[1-5]\d{13}$/), fc.stringMatching(/^3[47]\d{12}$/), fc.stringMatching(/^6011\d{11}$/),
).map(withCheckDigit).chain((p) => fc.constantFrom(p, p.replace(/(\d{4})(?=\d)/g, '$1 '), p.replace(/(\d{4})(?=\d)/g, '$1-')));
const jwt = fc.tuple(fc.base64String({ minLength: 8, maxLength: 40 }), fc.base64String({ minLength: 8, maxLength: 40 }), fc.base64String({ minLength: 8, maxLength: 40 }))
  .map(([a, b, c]) => `eyJ${a.replace(/[+/=]/g, '_')}.eyJ${b.replace(/[+/=]/g, '_')}.${c.replace(/[+/=]/g, '-')}`);
const secretish = fc.oneof(pan, jwt, fc.string({ maxLength: 12 }));
const text = fc.array(secretish, { maxLength: 4 }).map((xs) => xs.join(' '));

const event: fc.Arbitrary<AuditEvent> = fc.oneof(
  fc.record({ subject: text, path: text, reason: text, body: text, groups: fc.array(text, { maxLength: 2 }) }).map(({ subject, path, reason, body, groups }): AuditEvent => ({
    ...(sampleEvent(0) as Extract<AuditEvent, { type: 'request.decision' }>), subject, path, groups, decision: { effect: 'deny', reason, policy_revision: null }, request_body: captureBody(body),
  })),
  fc.record({ key: text, body: text, error: text }).map(({ key, body, error }): AuditEvent => ({
    ...(sampleEvent(1) as Extract<AuditEvent, { type: 'request.outcome' }>), masked: { [key]: 1 }, response_body: captureBody(body), error,
  })),
  fc.record({ reason: text, client: text }).map(({ reason, client }): AuditEvent => ({ type: 'auth.failure', request_id: 'r', client, route: null, reason })),
);

test('the scrubber passes the gateway\'s own ids and digests by, and still masks what the event carries', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { scrub });
    // Digits in ids and hex digests can form a Luhn-valid card number by chance (this request id did).
    const id = '894f33d6-f9a3-4753-9054-48239f348a3a';
    const digest = '4111111111111111' + 'ab'.repeat(24);
    await log.append({
      ...(sampleEvent(0) as Extract<AuditEvent, { type: 'request.decision' }>),
      request_id: id,
      approval: 'hold-5500000000000004',
      decision: { effect: 'deny', reason: 'card 4111 1111 1111 1111 refused', policy_revision: `sha256:${digest}` },
      request_body: { bytes: 2, sha256: digest, text: '{"pan":"4111111111111111"}', truncated: false },
    });
    await log.close();
    const stored = records(f).find((r) => r.type === 'request.decision')!.event as Extract<AuditEvent, { type: 'request.decision' }>;
    assert.is(stored.request_id, id);
    assert.is(stored.approval, 'hold-5500000000000004');
    assert.is(stored.decision.policy_revision, `sha256:${digest}`);
    assert.is(stored.request_body!.sha256, digest);
    assert.is(stored.decision.reason, 'card [PAN] refused');
    assert.is(stored.request_body!.text, '{"pan":"[PAN]"}');
  } finally {
    f.cleanup();
  }
});

test('property: with a scrubber, no stored record holds a valid PAN or a JWT, whatever the event carries', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { scrub, segmentRecords: 50 });
    let leakedIntoInput = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 5 }), async (events) => {
        if (events.some((e) => containsPan(JSON.stringify(e)) || JWT.test(JSON.stringify(e)))) leakedIntoInput++;
        await Promise.all(events.map((e) => log.append(e)));
      }),
      { numRuns: 60 },
    );
    await log.close();
    assert.ok(leakedIntoInput > 10, 'the generator really feeds PANs and JWTs in');
    const store = openStore(f.dir, { readOnly: true });
    for (const { key, value } of store.records.getRange()) {
      const s = value.toString('utf8');
      assert.not.ok(containsPan(s), `record ${key} holds a PAN: ${s}`);
      assert.not.ok(JWT.test(s), `record ${key} holds a JWT: ${s}`);
    }
    await store.env.close();
  } finally {
    f.cleanup();
  }
});

test.run();
