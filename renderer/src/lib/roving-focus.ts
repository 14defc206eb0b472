// The keys of a composite widget that is one tab stop (tab bars, a row's rating stars): Left/Right
// move to the previous/next item, wrapping, and Home/End to the first and last (WAI-ARIA practice).

/** The item a key moves focus to from item `i` of `n`, or null for a key the widget leaves alone. */
export function rovingTarget(key: string, i: number, n: number): number | null {
  switch (key) {
    case 'ArrowRight':
      return (i + 1) % n;
    case 'ArrowLeft':
      return (i - 1 + n) % n;
    case 'Home':
      return 0;
    case 'End':
      return n - 1;
    default:
      return null;
  }
}
