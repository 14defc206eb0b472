import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  drawFrom,
  mulberry32,
  sample,
  softmax,
} from './sampling.ts';

const f32 = (xs: number[]) => Float32Array.from(xs);
const kept = (x: Float32Array) => [...x.keys()].filter((i) => x[i] !== -Infinity);

describe('mulberry32', () => {
  test('same seed, same sequence; different seeds differ; values in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      Array.from({ length: 1000 }, () => b()),
      xs,
    );
    assert.notEqual(mulberry32(43)(), xs[0]);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  });

  test('known first value (pins the algorithm across refactors)', () => {
    assert.equal(mulberry32(0)(), 0.26642920868471265);
  });
});

describe('argmax', () => {
  test('first index on ties, handles -Infinity and NaN', () => {
    assert.equal(argmax(f32([1, 3, 3, 2])), 1);
    assert.equal(argmax(f32([-Infinity, -5, -Infinity])), 1);
    assert.equal(argmax(f32([Number.NaN, 0.5, 0.1])), 1);
    assert.equal(argmax(f32([-Infinity, -Infinity])), 0);
  });
});

describe('repetition penalty (transformers semantics)', () => {
  test('positive logits divided, negative multiplied, once per distinct token', () => {
    const out = applyRepetitionPenalty(f32([2, -2, 1, 0]), [0, 1, 1, 1, 3], 2);
    assert.deepEqual([...out], [1, -4, 1, 0]);
  });

  test('penalty 1 is a no-op, input never modified, out-of-range ids ignored', () => {
    const x = f32([2, -2]);
    assert.deepEqual([...applyRepetitionPenalty(x, [0, 1], 1)], [2, -2]);
    applyRepetitionPenalty(x, [0, 5, -1], 1.5);
    assert.deepEqual([...x], [2, -2]);
  });

  test('penalty below 1 encourages repetition; penalty <= 0 refused', () => {
    assert.deepEqual([...applyRepetitionPenalty(f32([2, -2]), [0, 1], 0.5)], [4, -1]);
    assert.throws(() => applyRepetitionPenalty(f32([1]), [0], 0), RangeError);
  });
});

describe('temperature', () => {
  test('divides logits; sharpens below 1, flattens above', () => {
    // Shifted by the largest logit first (softmax does not change): (1 − 2) / 0.5, (2 − 2) / 0.5.
    assert.deepEqual([...applyTemperature(f32([1, 2]), 0.5)], [-2, 0]);
    const p1 = softmax(f32([1, 2]));
    const hot = softmax(applyTemperature(f32([1, 2]), 2));
    assert.ok(hot[1] < p1[1]);
    assert.throws(() => applyTemperature(f32([1]), 0), RangeError);
  });

  test('a tiny temperature picks the best token: no overflow to +Infinity, no NaN draw', () => {
    const rng = mulberry32(1);
    for (const t of [1e-30, 1e-40, Number.MIN_VALUE])
      for (let i = 0; i < 5; i++)
        assert.equal(sample(f32([0.1, 5, 0.2, -3]), { temperature: t }, [], rng), 1);
    // Tokens tied for the best share the draw; the others never come up.
    const picks = new Set(
      Array.from({ length: 50 }, () => sample(f32([5, 1, 5]), { temperature: 1e-40 }, [], rng)),
    );
    assert.deepEqual([...picks].sort(), [0, 2]);
  });

  test('temperature 0 in sample() means greedy, even without a generator', () => {
    assert.equal(sample(f32([0.1, 5, 0.2]), { temperature: 0 }), 1);
    assert.equal(sample(f32([0.1, 5, 0.2]), { greedy: true, temperature: 1 }), 1);
  });
});

describe('top-k', () => {
  test('keeps the k largest', () => {
    assert.deepEqual(kept(applyTopK(f32([0.1, 3, 2, -1, 5]), 2)), [1, 4]);
  });
  test('k larger than the vocabulary, or k <= 0, keeps everything', () => {
    assert.deepEqual(kept(applyTopK(f32([1, 2, 3]), 10)), [0, 1, 2]);
    assert.deepEqual(kept(applyTopK(f32([1, 2, 3]), 0)), [0, 1, 2]);
  });
  test('ties with the k-th value are kept (as transformers does)', () => {
    assert.deepEqual(kept(applyTopK(f32([1, 2, 2, 0]), 2)), [1, 2]);
    assert.deepEqual(kept(applyTopK(f32([2, 2, 2, 0]), 1)), [0, 1, 2]);
  });
});

describe('top-p', () => {
  const logits = f32([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  test('keeps the smallest set reaching p, including the token that crosses it', () => {
    assert.deepEqual(kept(applyTopP(logits, 0.5)), [0]);
    assert.deepEqual(kept(applyTopP(logits, 0.6)), [0, 1]);
    assert.deepEqual(kept(applyTopP(logits, 0.9)), [0, 1, 2]);
  });
  test('top-p 1.0 keeps everything; a tiny p keeps at least one token', () => {
    assert.deepEqual(kept(applyTopP(logits, 1)), [0, 1, 2, 3]);
    assert.deepEqual(kept(applyTopP(logits, 1e-9)), [0]);
    assert.throws(() => applyTopP(logits, 0), RangeError);
  });
  test('respects tokens already removed by top-k', () => {
    assert.deepEqual(kept(applyTopP(applyTopK(logits, 2), 0.99)), [0, 1]);
  });
});

describe('softmax and drawing', () => {
  test('softmax sums to 1 and gives -Infinity zero mass', () => {
    const p = softmax(f32([1000, 1000, -Infinity]));
    assert.deepEqual([...p], [0.5, 0.5, 0]);
  });
  test('drawFrom walks the cumulative distribution and never returns a zero-mass token', () => {
    const p = Float64Array.from([0, 0.25, 0.75, 0]);
    assert.equal(drawFrom(p, 0), 1);
    assert.equal(drawFrom(p, 0.2499), 1);
    assert.equal(drawFrom(p, 0.25), 2);
    assert.equal(drawFrom(p, 0.99999999999), 2);
    assert.equal(
      drawFrom(Float64Array.from([0.3, 0.3]), 0.9999),
      1,
      'rounding slack goes to the last possible token',
    );
  });
});

describe('sample', () => {
  const logits = f32([1, 2, 3, 0.5, -1]);
  test('a seed reproduces the same draws', () => {
    const draw = (seed: number) => {
      const rng = mulberry32(seed);
      return Array.from({ length: 50 }, () =>
        sample(logits, { temperature: 0.8, topK: 4, topP: 0.95 }, [], rng),
      );
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });
  test('frequencies follow softmax at temperature 1', () => {
    const rng = mulberry32(1);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sample(logits, {}, [], rng)]++;
    const p = softmax(logits);
    for (let i = 0; i < 5; i++)
      assert.ok(Math.abs(counts[i] / n - p[i]) < 0.015, `token ${i}: ${counts[i] / n} vs ${p[i]}`);
  });
  test('top-k 1 is greedy; repetition penalty can change the greedy choice', () => {
    const rng = mulberry32(3);
    for (let i = 0; i < 20; i++) assert.equal(sample(logits, { topK: 1 }, [], rng), 2);
    assert.equal(sample(f32([2.9, 3, 0]), { greedy: true, repetitionPenalty: 1.5 }, [1]), 0);
  });
  test('sampling without a generator is refused', () => {
    assert.throws(() => sample(logits, { temperature: 1 }), RangeError);
  });
});

// The filters select without sorting (quickselect); these references are the plain sort-based
// definitions they replaced, compared on random rows full of ties and -Infinity.
describe('top-k / top-p against sort-based references', () => {
  const refTopK = (logits: Float32Array, k: number): number[] => {
    if (k <= 0 || k >= logits.length) return kept(logits);
    const kth = Float32Array.from(logits).sort()[logits.length - k];
    return kept(logits).filter((i) => logits[i] >= kth);
  };
  const refTopP = (logits: Float32Array, p: number): number[] => {
    const probs = softmax(logits);
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
    let cum = 0;
    let keep = 0;
    while (keep < order.length) {
      cum += probs[order[keep]];
      keep++;
      if (cum >= p) break;
    }
    return order
      .slice(0, keep)
      .filter((i) => logits[i] !== -Infinity)
      .sort((a, b) => a - b);
  };
  const rng = mulberry32(11);
  const rows: Float32Array[] = [];
  for (const V of [1, 2, 7, 64, 1000, 5000])
    for (let r = 0; r < 6; r++)
      rows.push(
        Float32Array.from({ length: V }, () => (rng() < 0.1 ? -Infinity : Math.floor(rng() * (r + 2)) * 0.7)),
      );

  test('top-k keeps the same tokens', () => {
    for (const row of rows)
      for (const k of [1, 2, 3, 10, 100, 4000]) assert.deepEqual(kept(applyTopK(row, k)), refTopK(row, k));
  });
  test('top-p keeps the same tokens', () => {
    for (const row of rows)
      for (const p of [1e-6, 0.05, 0.3, 0.5, 0.77, 0.95, 0.999])
        assert.deepEqual(kept(applyTopP(row, p)), refTopP(row, p), `V=${row.length} p=${p}`);
  });
});
