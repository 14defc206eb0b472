import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Calibration } from '../jobs/engine-tasks.ts';
import { calibrations } from './estimates.ts';
import { RecentCache } from './recent-cache.ts';

test('keeps at most its limit, dropping the least recently used', () => {
  const cache = new RecentCache<string, number>(3);
  for (const [k, v] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ] as const)
    cache.set(k, v);
  assert.equal(cache.get('a'), 1, 'used: now the most recent');
  cache.set('d', 4);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('b'), undefined, 'the least recently used went');
  assert.deepEqual([cache.get('a'), cache.get('c'), cache.get('d')], [1, 3, 4]);
  // Setting a key again replaces its value without taking a second place.
  cache.set('c', 30);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('c'), 30);
});

test('the run estimate keeps a bounded number of calibrations', () => {
  // Bug: estimates.ts kept every calibration (about 510 B each) for as long as the studio ran.
  const kept = calibrations.limit;
  assert.ok(kept >= 16 && kept <= 256, String(kept));
  const measured: Calibration = { stepMs: 100, tokensPerS: 640, steps: 3 };
  for (let k = 0; k < 10 * kept; k++) calibrations.set(`configuration ${k}`, measured);
  assert.equal(calibrations.size, kept);
  assert.equal(calibrations.get('configuration 0'), undefined, 'the oldest went');
  assert.equal(calibrations.get(`configuration ${10 * kept - 1}`), measured);
});

test('refuses a limit that keeps nothing', () => {
  assert.throws(() => new RecentCache(0), RangeError);
});
