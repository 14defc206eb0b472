import assert from 'node:assert/strict';
import { test } from 'node:test';
import { householderFromR, householderR, orthonormalityError } from './householder.ts';
import { loadSafetensors } from './safetensors.ts';

const REFT = 'tests/fixtures/golden/reft';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Seeded Gaussian-ish values (sum of uniforms) so the tests are reproducible. */
function rand(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Float64Array.from({ length: n }, () => u() + u() + u() - 1.5);
}

/** Orthonormal columns by Gram-Schmidt. */
function randomOrthonormal(n: number, r: number, seed: number): Float32Array {
  const a = rand(n * r, seed);
  for (let j = 0; j < r; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += a[i * r + j] * a[i * r + k];
        for (let i = 0; i < n; i++) a[i * r + j] -= s * a[i * r + k];
      }
    }
    let nn = 0;
    for (let i = 0; i < n; i++) nn += a[i * r + j] ** 2;
    for (let i = 0; i < n; i++) a[i * r + j] /= Math.sqrt(nn);
  }
  return Float32Array.from(a);
}

test('R from the golden DiReFT parametrization matches torch (init and trained)', () => {
  const g = loadSafetensors(`${REFT}/llama-direft/golden_reft.safetensors`);
  const key = 'layer_1_comp_block_output_unit_pos_nunit_1#0';
  const base = g.get(`init/${key}/buffer:rotate_layer.parametrizations.weight.0.base`)!.data as Float32Array;
  for (const stage of ['init', 'final']) {
    const X = g.get(`${stage}/${key}/rotate_layer.parametrizations.weight.original`)!.data as Float32Array;
    const R = householderR(X, base, 64, 4);
    assert.ok(maxDiff(R, g.get(`${stage}/${key}/R`)!.data as Float32Array) < 1e-6, stage);
  }
});

test('every golden R-typed intervention (LoReFT ones too) is reproduced from original and base', () => {
  for (const c of ['gpt2-loreft-f1l1', 'llama-loreft-l1-shared', 'qwen2-loreft-f1l1']) {
    const g = loadSafetensors(`${REFT}/${c}/golden_reft.safetensors`);
    for (const name of g.keys()) {
      const m = /^(init|final)\/(.+)\/R$/.exec(name);
      if (!m) continue;
      const R = g.get(name)!;
      const [n, r] = R.shape;
      const X = g.get(`${m[1]}/${m[2]}/rotate_layer.parametrizations.weight.original`)!.data as Float32Array;
      const base = g.get(`init/${m[2]}/buffer:rotate_layer.parametrizations.weight.0.base`)!
        .data as Float32Array;
      assert.ok(maxDiff(householderR(X, base, n, r), R.data as Float32Array) < 1e-5, name);
    }
  }
});

test('without a base, Q has orthonormal columns and follows the diagonal signs', () => {
  const n = 9;
  const r = 3;
  const X = Float32Array.from(rand(n * r, 7));
  X[0] = -1;
  X[1 * r + 1] = 1;
  X[2 * r + 2] = -1;
  const Q = householderR(X, undefined, n, r);
  assert.ok(orthonormalityError(Q, n, r) < 1e-6);
  // X = −I gives exactly the first r columns of the identity
  const negI = new Float32Array(n * r);
  for (let j = 0; j < r; j++) negI[j * r + j] = -1;
  const E = householderR(negI, undefined, n, r);
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) assert.ok(E[i * r + j] === (i === j ? 1 : 0)); // -0 allowed
  // flipping a diagonal sign flips that column
  const flipped = Float32Array.from(X);
  flipped[1 * r + 1] = -1;
  const Q2 = householderR(flipped, undefined, n, r);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(Q2[i * r + 1] + Q[i * r + 1]) < 1e-7);
});

test('householderFromR: −I original, orthogonal base, and R reproduced bit for bit', () => {
  for (const [n, r, seed] of [
    [64, 4, 1],
    [16, 16, 2],
    [33, 1, 3],
  ]) {
    const R = randomOrthonormal(n, r, seed);
    const { original, base } = householderFromR(R, n, r);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < r; j++) assert.equal(original[i * r + j], i === j ? -1 : 0);
    assert.deepEqual(householderR(original, base, n, r), R);
    assert.ok(orthonormalityError(base, n, n) < 1e-6, `base orthogonal for ${n}x${r}`);
  }
});

test('householderFromR refuses an R whose columns are not orthonormal', () => {
  const R = Float32Array.from(rand(20, 5));
  assert.throws(() => householderFromR(R, 10, 2), { code: 'not-orthonormal' });
});
