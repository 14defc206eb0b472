// Fresh parameters: pyreft's initialisation (orthonormal R by QR of a Gaussian, Linear uniform(±1/√n),
// ConsReFT/LobiReFT b uniform[0,1)), reproducible from the seed, R kept by a HouseholderParam.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../native-runtime/generation/sampling.ts';
import {
  INTERVENTION_TYPES,
  type InterventionSpec,
  PARAMS,
} from '../../native-runtime/interventions/kinds.ts';
import { gaussian, initStates, randomOrthonormal } from '../../native-runtime/training/init.ts';

const spec = (type: InterventionSpec['type'], k = 0): InterventionSpec => ({
  key: `layer_1_comp_block_output_unit_pos_nunit_1#${k}`,
  layer: 1,
  type,
  rank: 4,
  embedDim: 64,
  act: 'linear',
  dropout: 0,
});

function gram(R: ArrayLike<number>, n: number, r: number): number {
  let err = 0;
  for (let a = 0; a < r; a++)
    for (let b = 0; b < r; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += R[i * r + a] * R[i * r + b];
      err = Math.max(err, Math.abs(s - (a === b ? 1 : 0)));
    }
  return err;
}

describe('init', () => {
  it('Box–Muller draws look standard normal', () => {
    const g = gaussian(mulberry32(1));
    const xs = Array.from({ length: 20000 }, g);
    const mean = xs.reduce((a, b) => a + b) / xs.length;
    const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(v - 1) < 0.05, `mean ${mean} var ${v}`);
  });

  it('randomOrthonormal has orthonormal columns', () => {
    assert.ok(gram(randomOrthonormal(64, 8, mulberry32(3)), 64, 8) < 1e-12);
  });

  it('every type: shapes, ranges, orthonormal R from its HouseholderParam, same seed → same numbers', () => {
    for (const type of INTERVENTION_TYPES) {
      const [s] = initStates([spec(type)], 7);
      const [again] = initStates([spec(type)], 7);
      const [other] = initStates([spec(type)], 8);
      for (const d of PARAMS[type]) {
        const p = s.params.get(d.name)!;
        assert.deepEqual(p.shape, d.shape(64, 4), `${type} ${d.name}`);
        assert.deepEqual(p.data, again.params.get(d.name)!.data, `${type} ${d.name} not reproducible`);
        assert.notDeepEqual(p.data, other.params.get(d.name)!.data);
        if (d.init === 'linear')
          assert.ok(
            p.data.every((x) => Math.abs(x) <= 1 / 8) &&
              (p.data.length < 64 || p.data.some((x) => Math.abs(x) > 0.1)),
            `${type} ${d.name}`,
          );
        if (d.init === 'rand') assert.ok(p.data.every((x) => x >= 0 && x < 1));
        if (d.init === 'orthonormal') {
          assert.ok(s.rot, `${type} has no HouseholderParam`);
          assert.ok(gram(p.data, 64, 4) < 1e-5);
          assert.deepEqual(s.rot.forward(), p.data);
        }
      }
      assert.equal(
        !!s.rot,
        PARAMS[type].some((d) => d.init === 'orthonormal'),
      );
    }
  });

  it('interventions of one run get different parameters', () => {
    const [a, b] = initStates([spec('loreft', 0), spec('loreft', 1)], 1);
    assert.notDeepEqual(a.params.get('weight')!.data, b.params.get('weight')!.data);
  });
});
