/**
 * RFC 6962 Merkle hashing (§2.1): leaf `SHA-256(0x00 || record)`, node `SHA-256(0x01 || l || r)`,
 * split at the largest power of two below n; inclusion proofs (audit paths, §2.1.1) and consistency
 * proofs (§2.1.2, verified as RFC 9162 §2.1.4.2 says), and the compact range (frontier) that lets a
 * writer or a streaming verifier keep the root of a whole log in O(log n) memory.
 */
import { hash } from 'node:crypto';

const NODE = Buffer.from([1]);

/** `0x00 || record` is assembled here, not in a new buffer per record: verify hashes every record of a log. */
let scratch = Buffer.alloc(64 * 1024);

export function leafHash(record: Uint8Array): Buffer {
  if (record.length + 1 > scratch.length) scratch = Buffer.alloc(Math.max(record.length + 1, scratch.length * 2));
  scratch[0] = 0;
  scratch.set(record, 1);
  return hash('sha256', scratch.subarray(0, record.length + 1), 'buffer');
}

const node = Buffer.alloc(65, 1);

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32) return hash('sha256', Buffer.concat([NODE, left, right]), 'buffer');
  node.set(left, 1);
  node.set(right, 33);
  return hash('sha256', node, 'buffer');
}

/** The largest power of two smaller than n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// Tree sizes reach past 2^31, where JavaScript's bit operators stop working: halve and test by arithmetic.
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/** Merkle tree hash of `leaves` (leaf hashes), n ≥ 1. */
export function merkleRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
  // Bottom-up: pairing adjacent nodes and carrying an odd last node up gives exactly the RFC's
  // largest-power-of-two split, without recursion over large segments.
  let level = leaves.slice();
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** The audit path for leaf `index` in `leaves` (RFC 6962 PATH(m, D[n])), nearest sibling first. */
export function inclusionPath(leaves: readonly Buffer[], index: number): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return index < k
    ? [...inclusionPath(leaves.slice(0, k), index), merkleRoot(leaves.slice(k))]
    : [...inclusionPath(leaves.slice(k), index - k), merkleRoot(leaves.slice(0, k))];
}

/** Recomputes the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2). */
export function rootFromPath(leaf: Buffer, index: number, treeSize: number, path: readonly Buffer[]): Buffer | null {
  if (index < 0 || index >= treeSize) return null;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

/**
 * The perfect subtrees a tree of `size` leaves decomposes into, largest (leftmost) first: the
 * compact range [0, size). Appending a leaf merges equal-sized neighbours, so a log's root is kept
 * in at most 64 hashes, however long the log is.
 */
export class Frontier {
  readonly nodes: Buffer[];
  size: number;

  constructor(size = 0, nodes: Buffer[] = []) {
    if (nodes.length !== popCount(size)) throw new RangeError(`a frontier of size ${size} has ${popCount(size)} nodes, not ${nodes.length}`);
    this.size = size;
    this.nodes = nodes.slice();
  }

  push(leaf: Buffer): void {
    let node = leaf;
    // The trailing one-bits of the old size are the subtrees the new leaf completes.
    for (let s = this.size; odd(s); s = half(s)) node = nodeHash(this.nodes.pop()!, node);
    this.nodes.push(node);
    this.size++;
  }

  /** MTH over the leaves so far; null for the empty tree. */
  root(): Buffer | null {
    if (this.nodes.length === 0) return null;
    let r = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i]!, r);
    return r;
  }

  clone(): Frontier {
    return new Frontier(this.size, this.nodes);
  }

  /** The nodes' 32-byte hashes concatenated (the store's `frontiers` value). */
  encode(): Buffer {
    return Buffer.concat(this.nodes);
  }

  static decode(size: number, bytes: Uint8Array): Frontier {
    const nodes: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 32) nodes.push(Buffer.from(bytes.subarray(at, at + 32)));
    return new Frontier(size, nodes);
  }

  /** The [start, end) leaf range of each node, in order. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let start = 0;
    for (let bit = highestPowerOfTwo(this.size); bit >= 1; bit /= 2) {
      if (Math.floor(this.size / bit) % 2 === 1) {
        out.push([start, start + bit]);
        start += bit;
      }
    }
    return out;
  }
}

function popCount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = half(x)) if (odd(x)) c++;
  return c;
}

function highestPowerOfTwo(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/**
 * MTH of any range [a, b) of a tree whose leaves before `frontier.size` are known only through the
 * frontier (its perfect subtrees) and whose later leaves are given: enough for every node an
 * inclusion or consistency proof needs, without reading the log from its start.
 */
export class RangeHasher {
  private readonly known = new Map<string, Buffer>();
  private readonly offset: number;

  constructor(frontier: Frontier, private readonly leaves: readonly Buffer[]) {
    frontier.ranges().forEach(([a, b], i) => this.known.set(`${a}:${b}`, frontier.nodes[i]!));
    this.offset = frontier.size;
  }

  get size(): number {
    return this.offset + this.leaves.length;
  }

  mth(a: number, b: number): Buffer {
    const hit = this.known.get(`${a}:${b}`);
    if (hit) return hit;
    if (b - a === 1) {
      const leaf = this.leaves[a - this.offset];
      if (a < this.offset || !leaf) throw new RangeError(`leaf ${a} is not available (known from ${this.offset} to ${this.size})`);
      return leaf;
    }
    const k = split(b - a);
    return nodeHash(this.mth(a, a + k), this.mth(a + k, b));
  }

  /** The audit path of leaf `index` in the tree of `size` leaves (RFC 6962 PATH), nearest sibling first. */
  inclusion(index: number, size = this.size): Buffer[] {
    const path: Buffer[] = [];
    const walk = (m: number, a: number, b: number): void => {
      if (b - a <= 1) return;
      const k = split(b - a);
      if (m < k) {
        walk(m, a, a + k);
        path.push(this.mth(a + k, b));
      } else {
        walk(m - k, a + k, b);
        path.push(this.mth(a, a + k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** The consistency proof from the tree of `m` leaves to that of `n` (RFC 6962 §2.1.2 PROOF(m, D[n])). */
  consistency(m: number, n = this.size): Buffer[] {
    if (m < 0 || m > n) throw new RangeError(`no consistency proof from size ${m} to ${n}`);
    if (m === 0 || m === n) return [];
    const proof: Buffer[] = [];
    const sub = (m: number, a: number, b: number, complete: boolean): void => {
      if (m === b - a) {
        if (!complete) proof.push(this.mth(a, b));
        return;
      }
      const k = split(b - a);
      if (m <= k) {
        sub(m, a, a + k, complete);
        proof.push(this.mth(a + k, b));
      } else {
        sub(m - k, a + k, b, false);
        proof.push(this.mth(a, a + k));
      }
    };
    sub(m, 0, n, true);
    return proof;
  }
}

/**
 * Checks a consistency proof between two tree heads (RFC 9162 §2.1.4.2); sizes 0 and equal sizes
 * take an empty proof. Returns why it fails, or null when it holds.
 */
export function checkConsistency(m: number, n: number, oldRoot: Buffer | null, newRoot: Buffer, proof: readonly Buffer[]): string | null {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return `the old size ${m} is not between 0 and the new size ${n}`;
  if (m === 0) return proof.length === 0 ? null : 'a proof from the empty tree must be empty';
  if (oldRoot === null) return `no root for the old size ${m}`;
  if (m === n) {
    if (proof.length !== 0) return 'a proof between equal sizes must be empty';
    return oldRoot.equals(newRoot) ? null : `the two roots of size ${n} differ`;
  }
  const path = proof.slice();
  if (path.length === 0) return 'the proof is empty';
  // The old tree is a perfect subtree: it is the proof's first node, left implicit.
  if (highestPowerOfTwo(m) === m) path.unshift(oldRoot);
  let fn = m - 1;
  let sn = n - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return 'the proof has more nodes than the sizes allow';
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return 'the proof has fewer nodes than the sizes need';
  if (!fr.equals(oldRoot)) return `the proof does not lead to the old root (size ${m})`;
  if (!sr.equals(newRoot)) return `the proof does not lead to the new root (size ${n}): the new tree does not extend the old one`;
  return null;
}
