// Ranking helpers: the FTS4 query built from free text, Okapi BM25 computed from FTS4's
// matchinfo('pcnalx'), and reciprocal rank fusion of several ranked lists.

/** Most query terms used; longer queries are cut (a memory query is a few words or a code line). */
export const MAX_QUERY_TERMS = 24;

/** Lowercase without diacritics, as unicode61 (remove_diacritics=1) indexes Latin text. */
export function foldForIndex(text: string): string {
  return text.toLowerCase().normalize('NFD').replace(/\p{M}+/gu, '');
}

/** The distinct index terms of a text (no limit): for document-frequency bookkeeping. */
export function documentTerms(text: string): Set<string> {
  return new Set(foldForIndex(text).match(/[\p{L}\p{N}]+/gu) ?? []);
}

/**
 * Splits free text the way FTS4's unicode61 tokenizer does (runs of letters and digits), lowercases
 * and de-duplicates. Every term is quoted in the MATCH expression, so user text can never be read as
 * FTS syntax (NEAR, -, *, column filters).
 */
export function queryTerms(text: string): string[] {
  const seen = new Set<string>();
  for (const m of foldForIndex(text).matchAll(/[\p{L}\p{N}]+/gu)) {
    seen.add(m[0]);
    if (seen.size >= MAX_QUERY_TERMS) break;
  }
  return [...seen];
}

/** `"a" OR "b"`: any term matches; BM25 ranks items with more (and rarer) terms first. */
export function ftsMatchExpression(terms: readonly string[]): string | undefined {
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;

/** The matchinfo format `bm25FromMatchinfo` reads. */
export const BM25_MATCHINFO = 'pcnaly';

/**
 * Okapi BM25 over one row's matchinfo blob with format 'pcnaly': p phrases, c columns, n rows in
 * the table, a[c] average tokens per column, l[c] tokens in this row's columns, then y[i*c+j] =
 * hits of phrase i in column j of this row. Document frequencies come from the caller (`df[i]`
 * for phrase i): matchinfo's 'x', which has them, costs several times more per row because it
 * reads every phrase's whole doclist. Uses the non-negative idf log(1 + (N - df + 0.5) / (df + 0.5)).
 */
export function bm25FromMatchinfo(blob: Uint8Array, df: readonly number[], k1 = BM25_K1, b = BM25_B): number {
  const mi =
    blob.byteOffset % 4 === 0
      ? new Uint32Array(blob.buffer, blob.byteOffset, blob.byteLength >>> 2)
      : new Uint32Array(blob.slice().buffer, 0, blob.byteLength >>> 2);
  const p = mi[0]!;
  const c = mi[1]!;
  const n = mi[2]!;
  const y0 = 3 + 2 * c;
  let score = 0;
  for (let j = 0; j < c; j++) {
    const avg = mi[3 + j]! || 1;
    const len = mi[3 + c + j]!;
    const norm = k1 * (1 - b + (b * len) / avg);
    for (let i = 0; i < p; i++) {
      const tf = mi[y0 + i * c + j]!;
      if (tf === 0) continue;
      const d = Math.min(Math.max(df[i] ?? 1, 1), n);
      const idf = Math.log(1 + (n - d + 0.5) / (d + 0.5));
      score += (idf * tf * (k1 + 1)) / (tf + norm);
    }
  }
  return score;
}

/**
 * Per phrase, the number of rows (in the whole table) with at least one hit, from a matchinfo
 * blob with format 'pcnx' (taken from any one matching row: these are table-wide statistics).
 */
export function documentFrequencies(blob: Uint8Array): number[] {
  const mi = new Uint32Array(blob.slice().buffer, 0, blob.byteLength >>> 2);
  const p = mi[0]!;
  const c = mi[1]!;
  const out: number[] = [];
  for (let i = 0; i < p; i++) {
    let df = 0;
    for (let j = 0; j < c; j++) df = Math.max(df, mi[3 + 3 * (i * c + j) + 2]!);
    out.push(df);
  }
  return out;
}

/** The usual constant from Cormack et al. (2009): damps the weight of the very first ranks. */
export const RRF_K = 60;

/**
 * Reciprocal rank fusion: each key scores sum(1 / (k + rank)) over the lists it appears in
 * (rank starting at 1). Returns keys best first; ties keep the order of first appearance.
 */
export function reciprocalRankFusion<K>(lists: readonly (readonly K[])[], k = RRF_K): { key: K; score: number; ranks: (number | null)[] }[] {
  const byKey = new Map<K, { key: K; score: number; ranks: (number | null)[]; first: number }>();
  let order = 0;
  lists.forEach((list, li) => {
    list.forEach((key, i) => {
      let e = byKey.get(key);
      if (!e) {
        e = { key, score: 0, ranks: lists.map(() => null), first: order++ };
        byKey.set(key, e);
      }
      if (e.ranks[li] !== null) return; // a key listed twice in one list counts once, at its best rank
      e.ranks[li] = i + 1;
      e.score += 1 / (k + i + 1);
    });
  });
  return [...byKey.values()]
    .sort((x, y) => y.score - x.score || x.first - y.first)
    .map(({ key, score, ranks }) => ({ key, score, ranks }));
}

/** Indices of the `k` largest scores, best first (a bounded min-heap: O(n log k)). */
export function topK(scores: ArrayLike<number>, k: number, accept?: (i: number) => boolean): { index: number; score: number }[] {
  if (k <= 0) return [];
  const heapI: number[] = [];
  const heapS: number[] = [];
  const swap = (a: number, b: number): void => {
    [heapI[a], heapI[b]] = [heapI[b]!, heapI[a]!];
    [heapS[a], heapS[b]] = [heapS[b]!, heapS[a]!];
  };
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (heapS.length === k && s <= heapS[0]!) continue;
    if (accept && !accept(i)) continue;
    if (heapS.length < k) {
      heapI.push(i);
      heapS.push(s);
      let c = heapS.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heapS[p]! <= heapS[c]!) break;
        swap(p, c);
        c = p;
      }
    } else {
      heapI[0] = i;
      heapS[0] = s;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < k && heapS[l]! < heapS[m]!) m = l;
        if (r < k && heapS[r]! < heapS[m]!) m = r;
        if (m === p) break;
        swap(p, m);
        p = m;
      }
    }
  }
  return heapI.map((index, j) => ({ index, score: heapS[j]! })).sort((a, b) => b.score - a.score || a.index - b.index);
}
