// Intervention positions against hand-computed pyreft cases (get_intervention_locations at dafd099)
// and against the golden batches pyreft itself produced (tests/fixtures/golden/reft/*).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import {
  interventionLocations,
  isUntied,
  parseLayers,
  parsePositions,
  planInterventions,
} from '../../native-runtime/training/positions.ts';
import { REFT, REFT_CASES, reftMeta } from '../helpers/fixtures.ts';

const locs = (L: number, positions: string, layers: number, share = false) => {
  const pos = parsePositions(positions);
  const n = planInterventions(
    Array.from({ length: layers }, (_, i) => i),
    pos,
    share,
  ).length;
  return interventionLocations(L, pos, n, isUntied(pos, share));
};

describe('parsePositions', () => {
  it('reads fN, lM and fN+lM', () => {
    assert.deepEqual(parsePositions('f1+l1'), { first: 1, last: 1, text: 'f1+l1' });
    assert.deepEqual(parsePositions('f7'), { first: 7, last: 0, text: 'f7' });
    assert.deepEqual(parsePositions('l3'), { first: 0, last: 3, text: 'l3' });
    assert.deepEqual(parsePositions('f2+l5'), { first: 2, last: 5, text: 'f2+l5' });
  });
  it('refuses anything else with a specific ConfigError', () => {
    for (const bad of ['', 'f', 'x1', 'F1', 'l1+f1', 'f1+', 'f1 + l1', 'f1+l1+l2', '1', 'f-1', 'f1.5']) {
      assert.throws(
        () => parsePositions(bad),
        { name: 'ConfigError', code: 'bad-positions', message: /not understood/ },
        bad,
      );
    }
    assert.throws(() => parsePositions('f0'), { code: 'bad-positions', message: /f0 selects no token/ });
    assert.throws(() => parsePositions('f1+l0'), { code: 'bad-positions', message: /l0 selects no token/ });
    assert.throws(() => parsePositions('l2000', 512), { code: 'bad-positions', message: /longer than 512/ });
  });
});

describe('parseLayers', () => {
  it('reads all, semicolons and commas; sorts', () => {
    assert.deepEqual(parseLayers('all', 4), [0, 1, 2, 3]);
    assert.deepEqual(parseLayers('2;0', 4), [0, 2]);
    assert.deepEqual(parseLayers('1, 3', 4), [1, 3]);
    assert.deepEqual(parseLayers([3, 1], 4), [1, 3]);
  });
  it('refuses out-of-range, repeated and unparsable layers', () => {
    assert.throws(() => parseLayers('4', 4), {
      code: 'layer-out-of-range',
      message: /layer 4 is out of range: the model has layers 0\.\.3/,
    });
    assert.throws(() => parseLayers('1;1', 4), { code: 'bad-layers', message: /listed twice/ });
    assert.throws(() => parseLayers('-1', 4), { code: 'bad-layers' });
    assert.throws(() => parseLayers('one', 4), { code: 'bad-layers', message: /"one" is not a layer index/ });
    assert.throws(() => parseLayers('', 4), { code: 'bad-layers' });
  });
});

describe('planInterventions', () => {
  it('untied: every prefix intervention first, then every suffix one; k counts per layer', () => {
    const p = planInterventions([1, 2], parsePositions('f2+l2'), false);
    assert.deepEqual(
      p.map((x) => x.key),
      [
        'layer_1_comp_block_output_unit_pos_nunit_1#0',
        'layer_2_comp_block_output_unit_pos_nunit_1#0',
        'layer_1_comp_block_output_unit_pos_nunit_1#1',
        'layer_2_comp_block_output_unit_pos_nunit_1#1',
      ],
    );
    assert.deepEqual(
      p.map((x) => x.role),
      ['prefix', 'prefix', 'suffix', 'suffix'],
    );
  });
  it('tied (share_weights, or only f or only l): one intervention per layer', () => {
    assert.equal(planInterventions([0, 3], parsePositions('f1+l1'), true).length, 2);
    assert.equal(planInterventions([0, 3], parsePositions('l1'), false).length, 2);
    assert.equal(planInterventions([0, 3], parsePositions('f2'), false).length, 2);
  });
  it('keys match the golden pyreft configs', () => {
    for (const c of REFT_CASES) {
      const m = reftMeta(c);
      const p = planInterventions(m.layers, parsePositions(m.positions), m.share_weights);
      assert.deepEqual(
        p.map((x) => x.key),
        m.keys,
        c,
      );
    }
  });
});

describe('interventionLocations (pyreft get_intervention_locations, −1 = padding)', () => {
  it('untied f1+l1: prefix sees the first token, suffix the last', () => {
    assert.deepEqual(locs(7, 'f1+l1', 2), [[0], [0], [6], [6]]);
  });
  it('untied f1+l2: the shorter list is padded to the longer one', () => {
    assert.deepEqual(locs(7, 'f1+l2', 1), [
      [0, -1],
      [5, 6],
    ]);
  });
  it('clipping: first = min(N, ⌊L/2⌋), last = min(M, ⌊L/2⌋), padded', () => {
    assert.deepEqual(locs(3, 'f2+l2', 1), [
      [0, -1],
      [2, -1],
    ]);
    assert.deepEqual(locs(5, 'l3', 1), [[3, 4, -1]]);
    assert.deepEqual(locs(4, 'f5', 2), [
      [0, 1, -1, -1, -1],
      [0, 1, -1, -1, -1],
    ]);
    assert.deepEqual(locs(6, 'f5+l5', 1, true), [[0, 1, 2, 3, 4, 5, -1, -1, -1, -1]]);
  });
  it('tied (share_weights): one combined list of N + M slots', () => {
    assert.deepEqual(locs(9, 'f2+l2', 2, true), [
      [0, 1, 7, 8],
      [0, 1, 7, 8],
    ]);
  });
  it('quirk: untied but clipped to first = 0 or last = 0 → every intervention gets the combined list', () => {
    // L = 1: ⌊1/2⌋ = 0, so first_n = last_n = 0 and pyreft takes its shared branch.
    assert.deepEqual(locs(1, 'f1+l1', 2), [
      [-1, -1],
      [-1, -1],
      [-1, -1],
      [-1, -1],
    ]);
    assert.deepEqual(locs(1, 'f2+l1', 1), [
      [-1, -1, -1],
      [-1, -1, -1],
    ]);
  });
  it('equals the golden pyreft batches (after pyreft’s +1 sink shift)', () => {
    for (const c of REFT_CASES) {
      const m = reftMeta(c) as ReturnType<typeof reftMeta> & { prompt_lens: number[] };
      const g = loadSafetensors(join(REFT, c, 'golden_reft.safetensors')).get('intervention_locations')!;
      const [B, ni, P] = g.shape;
      const d = g.data as BigInt64Array;
      const pos = parsePositions(m.positions);
      for (let b = 0; b < B; b++) {
        const ours = interventionLocations(m.prompt_lens[b], pos, ni, isUntied(pos, m.share_weights));
        for (let j = 0; j < ni; j++) {
          assert.equal(ours[j].length, P, `${c} row ${b}`);
          const golden = Array.from(d.subarray((b * ni + j) * P, (b * ni + j + 1) * P), Number);
          assert.deepEqual(
            ours[j].map((x) => x + 1),
            golden,
            `${c} row ${b} intervention ${j}`,
          );
        }
      }
    }
  });
});
