/**
 * "Did you mean" suggestions for names: scenario ops and fields, devices in traces, cost-model
 * keys, ... One rule everywhere: another case, a prefix of three characters or more
 * (`allocate` for `alloc`), or one or two edits (at most half the word's length).
 *
 * @example
 * closest("alocate", ["alloc", "free"]); // "alloc"
 * `unknown key "foo"${didYouMean("foo", keys)}`;
 */

/**
 * The edit distance of two short strings, counting a swap of two neighbouring letters as one
 * edit (optimal string alignment: `bfu` is one edit from `buf`).
 */
function editDistance(a: string, b: string): number {
  const n = b.length;
  let before = new Array<number>(n + 1).fill(0); // row i - 2
  let prev = Array.from({ length: n + 1 }, (_, j) => j); // row i - 1
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(n + 1);
    row[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
    }
    before = prev;
    prev = row;
  }
  return prev[n]!;
}

/** The candidate closest to `word` when it is a plausible typo of it, else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const a = word.toLowerCase();
  for (const c of candidates) {
    const b = c.toLowerCase();
    const prefix = Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a));
    const d = a === b ? 0 : prefix ? 1 : editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}

/** `, did you mean "x"?` for the closest candidate, or the empty string. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const best = closest(word, candidates);
  return best !== undefined ? `, did you mean "${best}"?` : "";
}
