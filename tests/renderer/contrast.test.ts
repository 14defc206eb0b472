// Text contrast of both themes, read from renderer/src/app.css: every text colour on every
// background it is used on reaches WCAG AA (4.5:1). The light theme's green and amber did not (4.1
// and 3.7 on the page background).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const css = readFileSync(new URL('../../renderer/src/app.css', import.meta.url), 'utf8');

function block(selector: string): Record<string, string> {
  const start = css.indexOf(`${selector} {`);
  assert.ok(start >= 0, selector);
  const body = css.slice(start, css.indexOf('}', start));
  return Object.fromEntries([...body.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})/g)].map((m) => [m[1], m[2]]));
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function ratio(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

const pairs: Array<[string, string]> = [
  ...['fg', 'muted', 'accent', 'danger', 'ok', 'warn'].flatMap((fg) =>
    ['bg', 'surface', 'surface-2'].map((bg): [string, string] => [fg, bg]),
  ),
  ['accent', 'accent-soft'],
  ['fg', 'accent-soft'],
  ['muted', 'accent-soft'],
  ['danger', 'danger-soft'],
  ['accent-fg', 'accent'],
];

for (const [name, selector] of [
  ['light', ':root'],
  ['dark', ':root[data-theme="dark"]'],
] as const) {
  test(`${name} theme: text colours reach 4.5:1 on their backgrounds`, () => {
    const t = block(selector);
    const low = pairs
      .map(([fg, bg]) => ({ fg, bg, r: ratio(t[fg] as string, t[bg] as string) }))
      .filter((p) => p.r < 4.5)
      .map((p) => `${p.fg} on ${p.bg}: ${p.r.toFixed(2)}`);
    assert.deepEqual(low, []);
  });
}
