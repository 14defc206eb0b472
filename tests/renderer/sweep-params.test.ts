// "Try several values" (electron/backend/jobs/sweep-params.ts, shared by the Train wizard and
// runs/start-many): values read as the field holds them, each checked as the option checks one and
// named in its refusal; the runs are every combination, named after their values, at most as many
// as the Runs page compares at once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseSweepValues,
  repeatedRun,
  StartManySchema,
  SWEEP_MAX_RUNS,
  sweepRuns,
  sweepSplitNote,
  sweepTimeText,
  sweepVariedWords,
  variedOptions,
} from '../../electron/backend/jobs/sweep-params.ts';

const base = { modelId: 1, datasetId: 2, name: 'pirate', rank: 4 };

describe('sweep values', () => {
  it('reads numbers as typed, layers separated by bars, and refuses a bad value by name', () => {
    assert.deepEqual(parseSweepValues({ key: 'lr', text: ' 1e-3, 4e-3 ,, 1e-2' }), {
      values: [
        { value: 1e-3, text: '1e-3' },
        { value: 4e-3, text: '4e-3' },
        { value: 1e-2, text: '1e-2' },
      ],
    });
    assert.deepEqual(parseSweepValues({ key: 'layers', text: 'all | 2;3 | 0,1' }), {
      values: [
        { value: 'all', text: 'all' },
        { value: '2;3', text: '2;3' },
        { value: '0;1', text: '0,1' },
      ],
    });
    const problem = (key: 'lr' | 'rank' | 'positions', text: string) => {
      const r = parseSweepValues({ key, text });
      return 'problem' in r ? r.problem : null;
    };
    assert.equal(problem('lr', '1e-3, fast'), 'Learning rate: “fast” is not a number.');
    assert.equal(problem('lr', '1e-3, -1'), 'Learning rate must be a number > 0 (got -1)');
    assert.equal(problem('rank', '4, 4.5'), 'Rank must be an integer ≥ 1 (got 4.5)');
    assert.match(problem('positions', 'f1+l1, x9') ?? '', /x9/);
    assert.equal(problem('lr', '4e-3, 0.004'), 'Learning rate: “0.004” is “4e-3” again.');
    assert.equal(problem('lr', '4e-3'), 'Learning rate: give two or more values, separated by commas.');
  });

  it('reads layers and positions as a run does: one list written two ways is one value', () => {
    const problem = (key: 'layers' | 'positions', text: string) => {
      const r = parseSweepValues({ key, text });
      return 'problem' in r ? r.problem : null;
    };
    assert.equal(problem('layers', '2;4 | 4, 2'), 'Layers: “4, 2” is “2;4” again.');
    assert.equal(problem('layers', '0 | 2,4 | 4;2'), 'Layers: “4;2” is “2,4” again.');
    assert.equal(problem('layers', 'all | 1 | all'), 'Layers: “all” is given twice.');
    assert.equal(problem('positions', 'f1+l1, f01+l1'), 'Positions: “f01+l1” is “f1+l1” again.');
    // "all" is the list of the model's every layer: one value where the model is known (the wizard
    // knows it), and two while it is not.
    const layers4 = (text: string) => {
      const r = parseSweepValues({ key: 'layers', text }, 4);
      return 'problem' in r ? r.problem : r.values.map((v) => v.value);
    };
    assert.equal(layers4('all | 0;1;2;3'), 'Layers: “0;1;2;3” is “all” again.');
    assert.equal(layers4('3,2,1,0 | 1 | all'), 'Layers: “all” is “3,2,1,0” again.');
    assert.deepEqual(layers4('all | 0;1;2'), ['all', '0;1;2'], 'three of four layers are another value');
    assert.deepEqual(
      layers4('all | 0;9'),
      ['all', '0;9'],
      'a layer beyond the model is refused later, by name',
    );
    assert.ok('values' in parseSweepValues({ key: 'layers', text: 'all | 0;1;2;3' }));
    const made4 = sweepRuns(base, [{ key: 'layers', text: 'all | 0,1,2,3' }], 4);
    assert.deepEqual(made4, { problem: 'Layers: “0,1,2,3” is “all” again.' });
    // Each run is sent its layers as a run reads them, and its name writes them so too: the run's
    // configuration shows "2;4", which its name said as "4, 2" as typed. Numbers stay as typed.
    const made = sweepRuns(base, [{ key: 'layers', text: '4, 2 | 1' }]);
    assert.ok('runs' in made);
    assert.deepEqual(
      made.runs.map((r) => [r.name, r.params.layers]),
      [
        ['pirate · layers 2;4', '2;4'],
        ['pirate · layers 1', '1'],
      ],
    );
    const pos = sweepRuns(base, [
      { key: 'positions', text: 'f01+l1, f3' },
      { key: 'lr', text: '1e-3, 4E-3' },
    ]);
    assert.ok('runs' in pos);
    assert.deepEqual(pos.runs.map((r) => r.name).slice(0, 2), [
      'pirate · lr 1e-3 · positions f1+l1',
      'pirate · lr 1e-3 · positions f3',
    ]);
  });
});

describe('sweep runs', () => {
  it('every combination, the first option varying slowest, each named after its values', () => {
    const made = sweepRuns(base, [
      { key: 'lr', text: '1e-3, 4e-3' },
      { key: 'rank', text: '4, 8' },
    ]);
    assert.ok('runs' in made);
    assert.deepEqual(
      made.runs.map((r) => [r.name, r.params.lr, r.params.rank, r.params.name, r.params.modelId]),
      [
        ['pirate · lr 1e-3 · rank 4', 1e-3, 4, 'pirate · lr 1e-3 · rank 4', 1],
        ['pirate · lr 1e-3 · rank 8', 1e-3, 8, 'pirate · lr 1e-3 · rank 8', 1],
        ['pirate · lr 4e-3 · rank 4', 4e-3, 4, 'pirate · lr 4e-3 · rank 4', 1],
        ['pirate · lr 4e-3 · rank 8', 4e-3, 8, 'pirate · lr 4e-3 · rank 8', 1],
      ],
    );
    assert.deepEqual(variedOptions(made.runs.map((r) => r.params)), ['lr', 'rank']);
    // runs/start-many takes them as they are.
    assert.ok(StartManySchema.safeParse({ runs: made.runs.map((r) => r.params) }).success);
    const unnamed = sweepRuns({ modelId: 1, datasetId: 2 }, [{ key: 'seed', text: '1, 2' }]);
    assert.ok('runs' in unnamed);
    assert.deepEqual(
      unnamed.runs.map((r) => r.name),
      ['seed 1', 'seed 2'],
    );
  });

  it('one order for the varied options: the names, the sweep’s record and a run’s page agree', () => {
    // Layers added before the learning rate: the names read "lr … · layers …" as the run's page's
    // "learning rate × layers" (it said "layers × learning rate", the options' order, while the
    // names gave the order the options were added in).
    const made = sweepRuns(base, [
      { key: 'layers', text: '2;3 | all' },
      { key: 'lr', text: '1e-3, 4e-3' },
    ]);
    assert.ok('runs' in made);
    assert.deepEqual(
      made.runs.map((r) => r.name),
      [
        'pirate · lr 1e-3 · layers 2;3',
        'pirate · lr 1e-3 · layers all',
        'pirate · lr 4e-3 · layers 2;3',
        'pirate · lr 4e-3 · layers all',
      ],
    );
    const varied = variedOptions(made.runs.map((r) => r.params));
    assert.deepEqual(varied, ['lr', 'layers']);
    assert.equal(sweepVariedWords(varied), 'learning rate × layers');
    // A sweep recorded before, in the options' order, reads so too; an unknown key comes last.
    assert.equal(sweepVariedWords(['newOption', 'layers', 'lr']), 'learning rate × layers × newOption');
  });

  it('a sweep from a run cloned from a sweep names each run after its own values only', () => {
    // "Clone into the wizard" on "pirate · lr 4e-3 · rank 8" names the draft "… (copy)".
    const cloned = { ...base, name: 'pirate · lr 4e-3 · rank 8 (copy)' };
    const names = (axes: { key: 'lr' | 'rank' | 'seed' | 'layers'; text: string }[], name = cloned.name) => {
      const made = sweepRuns({ ...cloned, name }, axes);
      return 'runs' in made ? made.runs.map((r) => r.name) : made.problem;
    };
    assert.deepEqual(names([{ key: 'lr', text: '1e-3, 1e-2' }]), [
      'pirate · rank 8 (copy) · lr 1e-3',
      'pirate · rank 8 (copy) · lr 1e-2',
    ]);
    assert.deepEqual(
      names([
        { key: 'rank', text: '4, 16' },
        { key: 'lr', text: '1e-3, 1e-2' },
      ]),
      [
        'pirate (copy) · lr 1e-3 · rank 4',
        'pirate (copy) · lr 1e-3 · rank 16',
        'pirate (copy) · lr 1e-2 · rank 4',
        'pirate (copy) · lr 1e-2 · rank 16',
      ],
    );
    // The values of an option the sweep does not vary are still this run's: they stay.
    assert.deepEqual(names([{ key: 'seed', text: '1, 2' }]), [
      'pirate · lr 4e-3 · rank 8 (copy) · seed 1',
      'pirate · lr 4e-3 · rank 8 (copy) · seed 2',
    ]);
    // Layers as names once wrote them, as typed ("2, 4": a space inside the value); a run of values only, then no name at all.
    assert.deepEqual(names([{ key: 'layers', text: '0 | 1' }], 'pirate · layers 2, 4'), [
      'pirate · layers 0',
      'pirate · layers 1',
    ]);
    assert.deepEqual(names([{ key: 'lr', text: '1e-3, 1e-2' }], 'lr 4e-3 (copy)'), ['lr 1e-3', 'lr 1e-2']);
    // Words that are not a value of the option are the user's own.
    assert.deepEqual(names([{ key: 'lr', text: '1e-3, 1e-2' }], 'lr test · lr high'), [
      'lr test · lr high · lr 1e-3',
      'lr test · lr high · lr 1e-2',
    ]);
  });

  it('refuses more runs than Compare shows, an option varied twice, a name grown too long', () => {
    const many = sweepRuns(base, [
      { key: 'lr', text: '1e-3, 2e-3, 4e-3' },
      { key: 'seed', text: '1, 2, 3' },
    ]);
    assert.deepEqual(many, {
      problem: `3 × 3 = 9 runs; a sweep queues at most ${SWEEP_MAX_RUNS} (as many as Compare shows on one chart): give fewer values.`,
    });
    assert.match(
      JSON.stringify(
        sweepRuns(base, [
          { key: 'lr', text: '1e-3, 2e-3' },
          { key: 'lr', text: '4e-3, 8e-3' },
        ]),
      ),
      /Learning rate is varied twice/,
    );
    const long = sweepRuns({ ...base, name: 'x'.repeat(195) }, [{ key: 'seed', text: '1, 2' }]);
    assert.ok('problem' in long && /is at most 200 characters/.test(long.problem), JSON.stringify(long));
  });
});

describe('runs/start-many params', () => {
  it('takes the runs of one sweep only: the same run but for at most two of the options a sweep varies', () => {
    const refusal = (runs: object[]) => {
      const r = StartManySchema.safeParse({ runs });
      return r.success ? null : r.error.issues.map((i) => i.message).join('; ');
    };
    const run = { modelId: 1, datasetId: 2, rank: 4, lr: 1e-3 };
    assert.equal(refusal([run, { ...run, lr: 4e-3, name: 'b' }]), null);
    assert.equal(
      refusal([run, { ...run, lr: 4e-3, modelId: 3 }]),
      'the runs of a sweep differ only in learning rate, rank, layers, positions, dropout or seed: run 2 has another modelId',
    );
    assert.equal(
      refusal([run, { ...run, lr: 4e-3, maxSteps: 9 }]),
      'the runs of a sweep differ only in learning rate, rank, layers, positions, dropout or seed: run 2 has another maxSteps',
    );
    assert.equal(
      refusal([run, { ...run, lr: 4e-3, rank: 8, seed: 3 }]),
      'a sweep varies at most 2 options; these runs vary learning rate, rank and seed',
    );
    assert.equal(refusal([run, { ...run, lr: 4e-3 }, { ...run, name: 'again' }]), 'run 3 is run 1 again');
    // One list of layers written two ways (or given as indices) is one run twice.
    const layered = { ...run, layers: '2;4' };
    assert.equal(refusal([layered, { ...run, layers: '4, 2' }]), 'run 2 is run 1 again');
    assert.equal(
      refusal([layered, { ...run, layers: '0' }, { ...run, layers: [4, 2] }]),
      'run 3 is run 1 again',
    );
    assert.equal(
      refusal([
        { ...run, positions: 'f1+l1' },
        { ...run, positions: 'f01+l1' },
      ]),
      'run 2 is run 1 again',
    );
    // Resolved for a model (runs/start-many once planned): "all" is its every layer.
    assert.equal(repeatedRun([{ layers: 'all' }, { layers: '0;1;2;3' }]), null);
    assert.equal(repeatedRun([{ layers: 'all' }, { layers: '0;1;2;3' }], 4), 'run 2 is run 1 again');
    assert.equal(
      repeatedRun([
        { layers: [0, 1], lr: 1 },
        { layers: [0, 1], lr: 2 },
        { layers: [1, 0], lr: 1 },
      ]),
      'run 3 is run 1 again',
    );
  });
});

describe('sweep time', () => {
  it('multiplies the measured run, and says which varied options make the runs take other times', () => {
    assert.equal(
      sweepTimeText(['lr', 'seed'], 6, '5 min', '30 min'),
      'Time: 6 runs of 5 min each, about 30 min in all, as measured for the first run.',
    );
    const rankLayers = sweepTimeText(['rank', 'layers'], 4, '5 min', '20 min');
    assert.match(
      rankLayers,
      /^Time: roughly 20 min in all if each of the 4 runs took as long as the first \(5 min, as measured\)/,
    );
    assert.match(rankLayers, /runs with other ranks or layers take longer or shorter\.$/);
    assert.match(sweepTimeText(['lr', 'positions'], 4, '5 min', '20 min'), /other positions take/);
    assert.doesNotMatch(sweepTimeText(['dropout'], 2, '1 min', '2 min'), /other|roughly/);
  });

  it('reads sensibly for runs under a second (it said "4 × < 1 s = 3 s in all")', () => {
    assert.equal(
      sweepTimeText(['lr'], 4, '< 1 s', '3 s'),
      'Time: 4 runs of < 1 s each, about 3 s in all, as measured for the first run.',
    );
    assert.equal(
      sweepTimeText(['seed'], 2, '< 1 s', '< 1 s'),
      'Time: 2 runs of < 1 s each, < 1 s in all, as measured for the first run.',
    );
    assert.match(sweepTimeText(['rank'], 2, '< 1 s', '< 1 s'), /^Time: < 1 s in all if each of the 2 runs/);
    for (const t of [sweepTimeText(['lr'], 4, '< 1 s', '3 s'), sweepTimeText(['rank'], 4, '< 1 s', '3 s')])
      assert.doesNotMatch(t, /×|=/);
  });
});

describe('a seed sweep with rows held out', () => {
  it('says each seed holds out other rows, so their held-out losses are not on the same rows', () => {
    assert.match(sweepSplitNote(['seed'], 'fraction') ?? '', /^Each seed holds out other rows/);
    assert.match(sweepSplitNote(['lr', 'seed'], 'fraction') ?? '', /another version/);
    assert.equal(sweepSplitNote(['lr', 'rank'], 'fraction'), null, 'the same rows for every run');
    assert.equal(sweepSplitNote(['seed'], 'version'), null, 'another version: the same rows');
    assert.equal(sweepSplitNote(['seed'], 'none'), null);
  });
});
