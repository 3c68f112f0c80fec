/**
 * "Did you mean" suggestions for names: scenario ops and fields, devices in traces, cost-model
 * keys, ... One rule everywhere: another case, a prefix of three characters or more
 * (`allocate` for `alloc`), or one or two edits (at most half the word's length).
 *
 * @example
 * closest("alocate", ["alloc", "free"]); // "alloc"
 * `unknown key "foo"${didYouMean("foo", keys)}`;
 */

/** The edit distance of two short strings. */
function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
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
