// The in-memory vector matrix: every embedded item's normalized vector in one Float32Array, so a
// search is one pass of dot products over contiguous memory instead of a query per row.
import { topK } from './ranking.js';

/** Scales `v` to unit length in place; returns false for a zero or non-finite vector. */
export function normalizeInPlace(v: Float32Array): boolean {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) return false;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return true;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Float32 little-endian bytes, as stored in memory_vectors.vec. */
export function encodeVector(v: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const out = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => out.writeFloatLE(x, i * 4));
  return new Uint8Array(out);
}

export function decodeVector(bytes: Uint8Array, dim: number): Float32Array {
  if (bytes.byteLength !== dim * 4) throw new Error(`a stored vector has ${bytes.byteLength} bytes, expected ${dim * 4} for ${dim} dimensions`);
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: dim }, (_, i) => buf.readFloatLE(i * 4));
}

/**
 * Rows of unit vectors keyed by item seq, each tagged with a small integer group (the item's
 * workspace) so a scoped search skips other workspaces without a lookup. Removal swaps the last
 * row into the hole, so the matrix stays dense.
 */
export class VectorIndex {
  #data: Float32Array;
  #seqs: Float64Array;
  #groups: Int32Array;
  #count = 0;
  /** reused between searches: one score per row */
  #scores = new Float32Array(0);
  readonly #rowOf = new Map<number, number>();

  constructor(readonly dim: number, capacity = 1024) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`vector dimension must be a positive integer, got ${dim}`);
    const cap = Math.max(16, capacity);
    this.#data = new Float32Array(cap * dim);
    this.#seqs = new Float64Array(cap);
    this.#groups = new Int32Array(cap);
  }

  get size(): number {
    return this.#count;
  }

  has(seq: number): boolean {
    return this.#rowOf.has(seq);
  }

  /** Adds or replaces the vector of `seq`; `unit` must already be normalized. */
  set(seq: number, unit: Float32Array, group: number): void {
    if (unit.length !== this.dim) throw new Error(`vector has ${unit.length} dimensions, the index holds ${this.dim}`);
    let row = this.#rowOf.get(seq);
    if (row === undefined) {
      if (this.#count === this.#seqs.length) this.#grow();
      row = this.#count++;
      this.#rowOf.set(seq, row);
    }
    this.#data.set(unit, row * this.dim);
    this.#seqs[row] = seq;
    this.#groups[row] = group;
  }

  delete(seq: number): boolean {
    const row = this.#rowOf.get(seq);
    if (row === undefined) return false;
    this.#rowOf.delete(seq);
    const last = --this.#count;
    if (row !== last) {
      this.#data.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      const moved = this.#seqs[last]!;
      this.#seqs[row] = moved;
      this.#groups[row] = this.#groups[last]!;
      this.#rowOf.set(moved, row);
    }
    return true;
  }

  /**
   * The `k` rows most similar to `unitQuery` (cosine = dot product of unit vectors), best first.
   * `groups`, when given, limits the search to rows of those groups.
   */
  search(unitQuery: Float32Array, k: number, groups?: ReadonlySet<number>): { seq: number; similarity: number }[] {
    if (unitQuery.length !== this.dim) throw new Error(`query vector has ${unitQuery.length} dimensions, the index holds ${this.dim}`);
    const n = this.#count;
    const dim = this.dim;
    const data = this.#data;
    const g = this.#groups;
    if (this.#scores.length < n) this.#scores = new Float32Array(this.#seqs.length);
    const scores = this.#scores.subarray(0, n);
    // Rows of other groups are skipped before their dot product is computed.
    let allowed: Uint8Array | undefined;
    if (groups) {
      allowed = new Uint8Array(Math.max(0, ...groups) + 1);
      for (const x of groups) if (x >= 0) allowed[x] = 1;
    }
    for (let r = 0, off = 0; r < n; r++, off += dim) {
      if (allowed && allowed[g[r]!] !== 1) {
        scores[r] = -Infinity;
        continue;
      }
      let s = 0;
      for (let d = 0; d < dim; d++) s += data[off + d]! * unitQuery[d]!;
      scores[r] = s;
    }
    return topK(scores, k, allowed ? (r) => scores[r]! !== -Infinity : undefined).map(({ index, score }) => ({ seq: this.#seqs[index]!, similarity: score }));
  }

  #grow(): void {
    const cap = this.#seqs.length * 2;
    const data = new Float32Array(cap * this.dim);
    data.set(this.#data.subarray(0, this.#count * this.dim));
    const seqs = new Float64Array(cap);
    seqs.set(this.#seqs.subarray(0, this.#count));
    const groups = new Int32Array(cap);
    groups.set(this.#groups.subarray(0, this.#count));
    this.#data = data;
    this.#seqs = seqs;
    this.#groups = groups;
  }
}
