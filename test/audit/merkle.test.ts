import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { checkConsistency, Frontier, inclusionPath, leafHash, merkleRoot, nodeHash, RangeHasher, rootFromPath } from '../../src/audit/merkle.js';
import { canonicalJson } from '../../src/audit/canonical.js';

/** RFC 6962 §2.1 transcribed literally (recursive split), as the reference. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const leavesArb = fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 40 }).map((xs) => xs.map((x) => leafHash(x)));

test('leaf and node hashes use the RFC 6962 prefixes 0x00 and 0x01', () => {
  const rec = Buffer.from('{"a":1}');
  assert.is(leafHash(rec).toString('hex'), createHash('sha256').update(Buffer.concat([Buffer.from([0]), rec])).digest('hex'));
  const [a, b] = [leafHash(Buffer.from('a')), leafHash(Buffer.from('b'))];
  assert.is(nodeHash(a, b).toString('hex'), createHash('sha256').update(Buffer.concat([Buffer.from([1]), a, b])).digest('hex'));
});

test('the iterative root equals the RFC 6962 recursive definition for every size', () => {
  fc.assert(fc.property(leavesArb, (leaves) => merkleRoot(leaves).equals(mth(leaves))));
});

test('every leaf has an audit path to the root, and a wrong leaf or index does not', () => {
  fc.assert(
    fc.property(leavesArb, fc.nat(), (leaves, pick) => {
      const i = pick % leaves.length;
      const root = merkleRoot(leaves);
      const path = inclusionPath(leaves, i);
      assert.ok(rootFromPath(leaves[i]!, i, leaves.length, path)?.equals(root));
      assert.not.ok(rootFromPath(leafHash(Buffer.from('forged')), i, leaves.length, path)?.equals(root));
      if (leaves.length > 1) assert.not.ok(rootFromPath(leaves[i]!, (i + 1) % leaves.length, leaves.length, path)?.equals(root) && !leaves[i]!.equals(leaves[(i + 1) % leaves.length]!));
    }),
  );
});

/** RFC 6962 §2.1.2 PROOF(m, D[n]) transcribed literally over all leaves, as the reference. */
function subproof(m: number, d: Buffer[], complete: boolean): Buffer[] {
  if (m === d.length) return complete ? [] : [mth(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k ? [...subproof(m, d.slice(0, k), complete), mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

const sizesArb = fc.array(fc.uint8Array({ maxLength: 4 }), { minLength: 1, maxLength: 70 }).chain((xs) =>
  fc.tuple(fc.constant(xs.map((x) => leafHash(x))), fc.nat(xs.length), fc.nat(xs.length)).map(([leaves, a, b]) => ({ leaves, m: Math.min(a, b), n: Math.max(a, b) || leaves.length })),
);

test('the frontier keeps the RFC 6962 root of every prefix, and survives encode/decode', () => {
  fc.assert(
    fc.property(leavesArb, (leaves) => {
      const f = new Frontier();
      leaves.forEach((leaf, i) => {
        f.push(leaf);
        assert.ok(f.root()!.equals(mth(leaves.slice(0, i + 1))));
        assert.ok(Frontier.decode(f.size, f.encode()).root()!.equals(f.root()!));
      });
    }),
  );
  assert.throws(() => new Frontier(3, [leafHash(Buffer.from('x'))]), /a frontier of size 3 has 2 nodes, not 1/);
});

test('consistency proofs from a frontier and the later leaves equal the RFC reference, and verify', () => {
  fc.assert(
    fc.property(sizesArb, fc.nat(), ({ leaves, m, n }, start) => {
      // The hasher knows the leaves before `from` only through the frontier there, as the store does.
      const from = m === 0 ? 0 : start % (m + 1);
      const f = new Frontier();
      leaves.slice(0, from).forEach((l) => f.push(l));
      const hasher = new RangeHasher(f, leaves.slice(from, n));
      const proof = hasher.consistency(m, n);
      const reference = m === 0 || m === n ? [] : subproof(m, leaves.slice(0, n), true);
      assert.equal(proof.map((h) => h.toString('hex')), reference.map((h) => h.toString('hex')));
      const oldRoot = m === 0 ? null : mth(leaves.slice(0, m));
      assert.is(checkConsistency(m, n, oldRoot, mth(leaves.slice(0, n)), proof), null);
    }),
  );
});

test('a consistency proof fails for a changed old leaf, a wrong size, or a tampered node', () => {
  fc.assert(
    fc.property(sizesArb.filter(({ m, n }) => m > 0 && m < n), fc.nat(), ({ leaves, m, n }, pick) => {
      const proof = new RangeHasher(new Frontier(), leaves.slice(0, n)).consistency(m, n);
      const newRoot = mth(leaves.slice(0, n));
      const forked = leaves.slice(0, m);
      forked[pick % m] = leafHash(Buffer.from('forged'));
      assert.is.not(checkConsistency(m, n, mth(forked), newRoot, proof), null);
      assert.is.not(checkConsistency(m, n, mth(leaves.slice(0, m)), newRoot, proof.map((h, i) => (i === pick % proof.length ? leafHash(h) : h))), null);
      if (m + 1 < n) assert.is.not(checkConsistency(m + 1, n, mth(leaves.slice(0, m + 1)), newRoot, proof), null);
    }),
  );
  assert.match(checkConsistency(3, 3, leafHash(Buffer.from('a')), leafHash(Buffer.from('b')), [])!, 'the two roots of size 3 differ');
  assert.match(checkConsistency(4, 3, null, leafHash(Buffer.from('a')), [])!, 'not between 0 and the new size');
});

test('inclusion paths from a frontier and the later leaves equal the full-tree ones', () => {
  fc.assert(
    fc.property(sizesArb.filter(({ n }) => n > 0), fc.nat(), fc.nat(), ({ leaves, n }, a, b) => {
      const from = a % n;
      const index = from + (b % (n - from));
      const f = new Frontier();
      leaves.slice(0, from).forEach((l) => f.push(l));
      const path = new RangeHasher(f, leaves.slice(from, n)).inclusion(index, n);
      assert.equal(path.map((h) => h.toString('hex')), inclusionPath(leaves.slice(0, n), index).map((h) => h.toString('hex')));
      assert.ok(rootFromPath(leaves[index]!, index, n, path)!.equals(mth(leaves.slice(0, n))));
    }),
  );
});

test('canonical JSON sorts keys by UTF-16 code units, has no whitespace, and round-trips', () => {
  assert.is(canonicalJson({ b: 1, a: [true, null, 'x\n"\u0001'], '\u00e9': 0, A: { z: -0, y: undefined } }), '{"A":{"z":0},"a":[true,null,"x\\n\\"\\u0001"],"b":1,"é":0}');
  assert.is(canonicalJson({ '\ufb33': 2, '\ud83d\ude00': 1 }), '{"\ud83d\ude00":1,"\ufb33":2}'); // RFC 8785 §3.2.3: surrogates sort below U+FB33
  const json = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v')), fc.dictionary(fc.string(), tie('v'))),
  })).v;
  fc.assert(fc.property(json, (v) => canonicalJson(JSON.parse(canonicalJson(v))) === canonicalJson(v)));
});

test('canonical JSON with a scrub equals the canonical JSON of the scrubbed copy, keys that collide included', () => {
  const scrub = (s: string) => s.replace(/[0-9]/g, '#');
  /** Reference: copy with every string and key scrubbed; keys that collide keep the last value. */
  const scrubbed = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) return v.map(scrubbed);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(v)) out[scrub(k)] = scrubbed((v as Record<string, unknown>)[k]);
    return out;
  };
  assert.is(canonicalJson({ b1: 'x9', a: { '2': 1, '1': 2, z: ['a1'] } }, scrub), '{"a":{"#":1,"z":["a#"]},"b#":"x#"}');
  const json = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('v')), fc.dictionary(fc.string({ maxLength: 3 }), tie('v'))),
  })).v;
  fc.assert(
    fc.property(json, (v) => {
      const out = canonicalJson(v, scrub);
      assert.is(out, canonicalJson(scrubbed(v)));
      assert.is(canonicalJson(JSON.parse(out)), out);
    }),
  );
});

test('canonical JSON refuses what it cannot represent exactly', () => {
  assert.throws(() => canonicalJson({ x: 1.5 }), /safe integers/);
  assert.throws(() => canonicalJson({ x: 2 ** 60 }), /safe integers/);
  assert.throws(() => canonicalJson({ x: () => 1 }), /cannot hold a function/);
});

test.run();
