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

/**
 * Handles a key pressed on one of `items` (the widget's buttons, in order): focuses the item the key
 * moves to and returns its index, or null for a key the widget leaves alone.
 */
export function moveRovingFocus(
  e: KeyboardEvent & { currentTarget: HTMLElement },
  items: HTMLElement[],
): number | null {
  const next = rovingTarget(e.key, items.indexOf(e.currentTarget), items.length);
  if (next === null) return null;
  e.preventDefault();
  items[next]?.focus();
  return next;
}
