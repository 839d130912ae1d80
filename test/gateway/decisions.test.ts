import OpenAI from 'openai';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHAT_PAN, startDemoService, type DemoService } from '../../src/demo/service.js';
import { startRig, UPSTREAM_SECRET, type Rig } from './harness.js';

let demo: DemoService;
let rig: Rig;
const token = (sub: string, group: string) => rig.idp.token({ sub, groups: [group] });

test.before(async () => {
  demo = await startDemoService({ credential: { header: 'x-upstream-key', value: UPSTREAM_SECRET }, tokenDelayMs: 5 });
  rig = await startRig({ upstreamUrl: demo.url });
});
test.after(async () => {
  await rig.stop();
  await demo.close();
});

/** What the demo service answers without the gateway in between. */
async function direct(path: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(demo.url + path, { ...init, headers: { 'x-upstream-key': UPSTREAM_SECRET, 'content-type': 'application/json' } });
  return res.json();
}

const LONG_DIGITS = /\d(?:[ -]?\d){12,}/;

test('the demo service refuses callers without the injected credential', async () => {
  const res = await fetch(`${demo.url}/v1/score`, { method: 'POST', headers: { authorization: 'Bearer whatever' }, body: '{}' });
  assert.is(res.status, 401);
});

test('mask: a fraud analyst gets the score with the PAN cut to its last four and the CVV hidden', async () => {
  const body = JSON.stringify({ transaction: { amount: 4200, merchant: 'm-17' } });
  const raw = await direct('/v1/score', { method: 'POST', body });
  assert.match(raw.card.pan, /^\d{16}$/);
  const res = await fetch(`${rig.gw.url}/v1/score`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token('alice', 'fraud-analysts')}`, 'content-type': 'application/json' },
    body,
  });
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-length'), null);
  const text = await res.text();
  assert.not.ok(text.includes(raw.card.pan));
  assert.not.match(text, LONG_DIGITS);
  const got = JSON.parse(text);
  assert.is(got.card.pan, `************${raw.card.pan.slice(-4)}`);
  assert.is(got.card.cvv, '****');
  assert.is(got.score, raw.score);
});

test('mask: pci-admins see first six and last four of each PAN in a listing', async () => {
  const raw = await direct('/v1/transactions?limit=3');
  const res = await fetch(`${rig.gw.url}/v1/transactions?limit=3`, { headers: { authorization: `Bearer ${await token('paula', 'pci-admins')}` } });
  assert.is(res.status, 200);
  const got = (await res.json()) as { data: { pan: string }[] };
  assert.is(got.data.length, 3);
  got.data.forEach((row: { pan: string }, i: number) => {
    const pan: string = raw.data[i].pan;
    assert.is(row.pan, `${pan.slice(0, 6)}******${pan.slice(-4)}`);
  });
});

test('openai SDK streaming: a card number spread over several tokens is masked, and the stream still streams', async () => {
  const client = new OpenAI({ baseURL: `${rig.gw.url}/v1`, apiKey: await token('sam', 'support-agents'), maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'demo-llm', stream: true, messages: [{ role: 'user', content: 'card on file?' }] });
  let content = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    content += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(chunks > 5, `only ${chunks} chunks`);
  assert.not.ok(content.replace(/\D/g, '').includes(CHAT_PAN));
  assert.match(content, /^The card on file is \*\*\*\* \*\*\*\* \*\*\*\* 6467, expiring 09\/28\.$/);
});

test('openai SDK without streaming: the answer is masked', async () => {
  const client = new OpenAI({ baseURL: `${rig.gw.url}/v1`, apiKey: await token('sam', 'support-agents'), maxRetries: 0 });
  const done = await client.chat.completions.create({ model: 'demo-llm', messages: [{ role: 'user', content: 'card on file?' }] });
  assert.is(done.choices[0]!.message.content, 'The card on file is **** **** **** 6467, expiring 09/28.');
});

test('openai SDK: a denied caller gets a 403 carrying the error code and request id', async () => {
  const client = new OpenAI({ baseURL: `${rig.gw.url}/v1`, apiKey: await token('alice', 'fraud-analysts'), maxRetries: 0 });
  try {
    await client.chat.completions.create({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }] });
    assert.unreachable('should be denied');
  } catch (err) {
    assert.instance(err, OpenAI.PermissionDeniedError);
    const e = err as InstanceType<typeof OpenAI.PermissionDeniedError>;
    assert.is(e.status, 403);
    assert.is(e.error, 'forbidden');
    assert.match(e.requestID ?? '', /^[0-9a-f-]{36}$/);
  }
});

test.run();
