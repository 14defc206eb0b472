// The Train wizard's pure parts: recipes (every option they set passes the schema for models of any
// depth, and they match the paper's numbers), the layer diagram's and the positions control's
// conversions to and from the options' text, the run's name and probe prompts checked by runs/start's
// own rules, the held-out percent as typed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  PROBE_LIMITS,
  probeProblem,
  RunParamsSchema,
  runNameProblem,
} from '../../electron/backend/jobs/run-params.ts';
import { trainOptionIssues } from '../../native-runtime/training/options.ts';
import { percentOf } from '../../renderer/src/lib/format.ts';
import { layerSet, layersAt, layersText } from '../../renderer/src/lib/train/layers.ts';
import { countProblem, positionCounts, positionsText } from '../../renderer/src/lib/train/positions.ts';
import { RECIPES } from '../../renderer/src/lib/train/presets.ts';

const shapes = [
  { numLayers: 4, hiddenSize: 64, maxPositions: 256 },
  { numLayers: 30, hiddenSize: 576, maxPositions: 8192 },
  { numLayers: 32, hiddenSize: 4096, maxPositions: 4096 },
];

describe('recipes', () => {
  it('every recipe gives valid options for models of any depth, with its reasons', () => {
    for (const r of RECIPES) {
      assert.ok(r.why.length > 80 && r.source.length > 0, r.id);
      for (const m of shapes) {
        const o = r.options(m);
        assert.deepEqual(trainOptionIssues(o, m), [], `${r.id} on ${m.numLayers} layers`);
        for (const k of Object.keys(r.notes))
          assert.ok(k in o, `${r.id}: a note on ${k}, which it does not set`);
      }
    }
  });

  it('keeps the paper’s numbers and places layers by depth', () => {
    const byId = Object.fromEntries(RECIPES.map((r) => [r.id, r]));
    const llama = shapes[2];
    const c = byId.commonsense?.options(llama);
    assert.deepEqual(
      [c?.layers, c?.positions, c?.shareWeights, c?.rank, c?.lr, c?.epochs, c?.batchSize, c?.gradAccum],
      ['all', 'f7+l7', true, 8, 9e-4, 6, 16, 2],
    );
    assert.equal(byId.arithmetic?.options(llama).epochs, 12);
    // On a 32-layer model the instruction recipe is the paper's 3;9;18;24, the demo's layer 8.
    assert.equal(byId.instruction?.options(llama).layers, '3;9;18;24');
    assert.equal(byId.behaviour?.options(llama).layers, '8');
    assert.equal(byId.instruction?.options(llama).maxLength, 768);
    assert.equal(byId.instruction?.options(shapes[0]).maxLength, 256, 'within the model’s positions');
  });
});

describe('layer diagram and positions control', () => {
  it('reads and writes the Layers option', () => {
    assert.deepEqual([...(layerSet('all', 4) ?? [])], [0, 1, 2, 3]);
    assert.deepEqual([...(layerSet('3;1', 4) ?? [])], [1, 3]);
    assert.equal(layerSet('9', 4), null);
    assert.equal(layersText(new Set([0, 1, 2, 3]), 4), 'all');
    assert.equal(layersText(new Set([3, 1]), 4), '1;3');
    assert.deepEqual(layersAt([0, 0.5, 1], 5), [0, 2, 4]);
    assert.deepEqual(layersAt([0.1, 0.12], 4), [0], 'distinct');
  });

  it('reads and writes the Positions option', () => {
    assert.deepEqual(positionCounts('f3+l2'), { first: 3, last: 2 });
    assert.deepEqual(positionCounts('l1'), { first: 0, last: 1 });
    assert.equal(positionCounts('x'), null);
    assert.equal(positionsText({ first: 3, last: 2 }), 'f3+l2');
    assert.equal(positionsText({ first: 0, last: 4 }), 'l4');
    assert.equal(positionsText({ first: 5, last: 0 }), 'f5');
    assert.equal(positionsText({ first: 0, last: 0 }), null);
  });

  it('a typed count must be a whole number of tokens within reach', () => {
    // Bug: 1e21 became the option text "f1e+21", refused as "not understood"; 2.5 was cut to 2 unsaid.
    assert.equal(
      countProblem('1e21', 'first'),
      '1e21 is too big for a count of first tokens: at most the max length',
    );
    assert.equal(countProblem('2.5', 'last'), 'last tokens must be a whole number (got 2.5)');
    assert.equal(countProblem('-1', 'first'), 'first tokens must be a whole number (got -1)');
    assert.equal(countProblem('', 'first'), null, 'blank is 0');
    assert.equal(countProblem('7', 'last'), null);
    assert.equal(countProblem('1e3', 'last'), null, '1000 is a count (the max length judges it)');
  });
});

describe('the run’s name and probe prompts', () => {
  // Bug: the wizard let these through, and the estimate, the preview and Start each answered with
  // runs/start's schema in its own words ("runs/start: invalid params: name: …",
  // "probe.prompts.0: Too big: expected string to have <=4000 characters").
  const base = { modelId: 1, datasetId: 1 };
  const refused = (p: object) => !RunParamsSchema.safeParse({ ...base, ...p }).success;

  it('a name: what runs/start refuses, worded to follow "a run name"', () => {
    for (const name of ['pirate v1', 'x'.repeat(200), 'é ü 漢字']) {
      assert.equal(runNameProblem(name), null, name);
      assert.equal(refused({ name }), false, name);
    }
    assert.equal(runNameProblem('x'.repeat(201)), 'is at most 200 characters');
    assert.equal(
      runNameProblem('run \u202Egnp.exe'),
      'cannot hold a text-direction character (U+202E), which can make it read as another',
    );
    assert.equal(runNameProblem('two\nlines'), 'cannot hold control characters');
    for (const name of ['x'.repeat(201), 'run \u202Egnp.exe', 'two\nlines'])
      assert.ok(refused({ name }), name);
  });

  it('probe prompts: at most 8, each at most 4000 characters, as runs/start takes them', () => {
    const ok = Array.from({ length: PROBE_LIMITS.prompts }, (_, i) =>
      `p${i}`.padEnd(PROBE_LIMITS.promptChars, '.'),
    );
    assert.equal(probeProblem(ok), null);
    assert.equal(refused({ probe: { prompts: ok, every: 1 } }), false);
    const many = [...ok, 'one more'];
    assert.equal(probeProblem(many), 'at most 8');
    assert.ok(refused({ probe: { prompts: many, every: 1 } }));
    const long = ['Who?', 'x'.repeat(PROBE_LIMITS.promptChars + 1)];
    assert.equal(probeProblem(long), 'prompt 2 has 4001 characters, more than the 4000 a prompt may have');
    assert.ok(refused({ probe: { prompts: long, every: 1 } }));
  });
});

describe('the held-out percent', () => {
  it('shows the percent held out, not rounded to a whole one', () => {
    // Bug: 12.5 typed was shown as 13 (and the review said 13%) while the run held out 12.5%.
    assert.equal(percentOf(0.125), 12.5);
    assert.equal(percentOf(0.07), 7, 'without float noise (7.000000000000001)');
    assert.equal(percentOf(0.9), 90);
    assert.equal(percentOf(0.333), 33.3);
  });
});
