/**
 * "Did you mean …?" for a mistyped command or option: the closest known word within a small edit
 * distance (transpositions count as one edit: `chekc` → `check`), or the only word it is a prefix of.
 */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const candidates = [...known]
  const prefixed = candidates.filter((c) => word.length >= 2 && c.startsWith(word))
  if (prefixed.length === 1) return prefixed[0]
  const limit = word.length <= 4 ? 1 : 2
  let best: { word: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate)
    if (distance <= limit && (!best || distance < best.distance)) best = { word: candidate, distance }
  }
  return best?.word
}

/** Damerau–Levenshtein distance (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/** ", did you mean "x"?" or nothing. */
export function didYouMean(word: string, known: Iterable<string>, render = (w: string) => JSON.stringify(w)): string {
  const match = closest(word, known)
  return match ? `; did you mean ${render(match)}?` : ''
}
