// A run chart from the keyboard: which step each key moves the cursor to (inside the zoomed view,
// without wrapping), and the range the zoom buttons show (inside the data, never narrower than two
// steps).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cursorTarget, shownIndexes, zoomed } from '../../renderer/src/lib/charts/chart-keys.ts';

test('the shown indexes are those inside the view', () => {
  const xs = [1, 2, 4, 8, 16];
  assert.deepEqual(shownIndexes(xs, 1, 16), [0, 4]);
  assert.deepEqual(shownIndexes(xs, 1.5, 9), [1, 3]);
  assert.equal(shownIndexes(xs, 5, 7), null);
  assert.equal(shownIndexes([], 0, 1), null);
});

test('arrows move one step, Home/End to the ends, PageUp/PageDown a tenth; no wrapping', () => {
  assert.equal(cursorTarget('ArrowRight', null, 2, 30), 2, 'the first press starts at the left end');
  assert.equal(cursorTarget('ArrowLeft', null, 2, 30), 30, '… or the right end');
  assert.equal(cursorTarget('ArrowRight', 5, 2, 30), 6);
  assert.equal(cursorTarget('ArrowLeft', 5, 2, 30), 4);
  assert.equal(cursorTarget('ArrowRight', 30, 2, 30), 30, 'stays at the end');
  assert.equal(cursorTarget('ArrowLeft', 2, 2, 30), 2);
  assert.equal(cursorTarget('Home', 9, 2, 30), 2);
  assert.equal(cursorTarget('End', 9, 2, 30), 30);
  assert.equal(cursorTarget('PageDown', 9, 2, 30), 12);
  assert.equal(cursorTarget('PageUp', 9, 2, 30), 6);
  assert.equal(cursorTarget('ArrowRight', 50, 2, 30), 30, 'a cursor outside a new zoom comes inside');
  assert.equal(cursorTarget('Tab', 9, 2, 30), null, 'other keys are left alone');
  assert.equal(cursorTarget('a', null, 2, 30), null);
});

test('zooming halves or doubles the view around its centre or the cursor, inside the data', () => {
  const full = { min: 0, max: 100 };
  assert.deepEqual(zoomed(full, full, 0.5), { min: 25, max: 75 });
  assert.deepEqual(zoomed(full, full, 0.5, 90), { min: 50, max: 100 }, 'kept inside the data');
  assert.deepEqual(zoomed({ min: 25, max: 75 }, full, 2), { min: 0, max: 100 });
  assert.deepEqual(
    zoomed({ min: 0, max: 50 }, full, 2, 10),
    { min: 0, max: 100 },
    'never wider than the data',
  );
  assert.deepEqual(
    zoomed({ min: 10, max: 13 }, full, 0.5, 11),
    { min: 10, max: 12 },
    'never under two steps',
  );
  assert.deepEqual(zoomed({ min: 3, max: 4 }, { min: 3, max: 4 }, 0.5), { min: 3, max: 4 }, 'two points');
});
