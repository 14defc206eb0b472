// The training options' one declaration (native-runtime/training/options.ts): its limits are the
// ones zod enforces (the form's min/max and the validation cannot disagree), its defaults pass its
// own rules, model-dependent limits come from the model, the CLI flags and the resume keys are
// derived from it, and the module stays importable by the renderer (no Node imports).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TRAIN_OPTION_FLAGS, trainOptionsFromFlags } from '../../cli/train-flags.ts';
import { ConfigError } from '../../native-runtime/errors.ts';
import { DETERMINISTIC_KEYS } from '../../native-runtime/training/config.ts';
import {
  modelIssues,
  OptionError,
  optionFlag,
  optionIssues,
  resolveTrainOptions,
  TRAIN_DEFAULTS,
  TRAIN_OPTION_KEYS,
  TRAIN_OPTIONS,
  type TrainOptionSpec,
  TrainOptionsSchema,
  trainOptionIssues,
} from '../../native-runtime/training/options.ts';

const model = { numLayers: 4, hiddenSize: 64, maxPositions: 256 };

describe('the training options schema', () => {
  it('every option has a label, a one-line explanation and a default its own rules accept', () => {
    for (const k of TRAIN_OPTION_KEYS) {
      const o: TrainOptionSpec = TRAIN_OPTIONS[k];
      assert.ok(o.label.length > 0 && o.label.length <= 24, `${k}: label`);
      assert.ok(
        o.help.length > 20 && o.help.length <= 120 && !o.help.includes('\n'),
        `${k}: help "${o.help}"`,
      );
      assert.deepEqual(optionIssues({ [k]: o.default }), [], `${k}: default ${String(o.default)}`);
    }
    assert.deepEqual(optionIssues(TRAIN_DEFAULTS), []);
  });

  it('number limits as declared are exactly the ones validation enforces', () => {
    for (const k of TRAIN_OPTION_KEYS) {
      const o: TrainOptionSpec = TRAIN_OPTIONS[k];
      if (o.kind !== 'int' && o.kind !== 'number') continue;
      const ok = (v: number) => TrainOptionsSchema.safeParse({ [k]: v }).success;
      const eps = o.kind === 'int' ? 1 : 1e-9;
      assert.equal(ok(o.min), !o.minExclusive, `${k}: min ${o.min}`);
      assert.equal(ok(o.min - eps), false, `${k}: below min`);
      assert.equal(ok(o.min + eps), true, `${k}: just above min`);
      assert.equal(ok(o.max), !o.maxExclusive, `${k}: max ${o.max}`);
      assert.equal(ok(o.max + eps), false, `${k}: above max`);
      if (o.kind === 'int') assert.equal(ok(o.min + 0.5), false, `${k}: fractions refused`);
    }
  });

  it('dropout: the same bound for the form, the CLI help and validation', () => {
    const d = TRAIN_OPTIONS.dropout;
    assert.equal(d.max, 1);
    assert.equal(d.maxExclusive, true);
    assert.match(TRAIN_OPTION_FLAGS.dropout?.description ?? '', /≥ 0 and < 1, default 0/);
    assert.deepEqual(
      optionIssues({ dropout: 0.99 }).map((i) => i.field),
      [],
    );
    assert.equal(optionIssues({ dropout: 1 })[0]?.message, 'Dropout must be a number ≥ 0 and < 1 (got 1)');
  });

  it('every problem names its option, for the studio and for the CLI', () => {
    const issues = optionIssues({ rank: 0, lr: -1, schedule: 'sometimes', positions: 'x', layers: '1;1' });
    assert.deepEqual(
      issues.map((i) => [i.field, i.code]),
      [
        ['layers', 'bad-layers'],
        ['positions', 'bad-positions'],
        ['rank', 'bad-rank'],
        ['lr', 'bad-lr'],
        ['schedule', 'bad-schedule'],
      ],
    );
    const rank = issues.find((i) => i.field === 'rank');
    assert.equal(rank?.message, 'Rank must be an integer ≥ 1 (got 0)');
    assert.equal(rank?.cli, '--rank must be an integer ≥ 1 (got 0)');
    assert.throws(() => optionIssues({ rnak: 4 }), { code: 'unknown-option', message: /rnak/ });
  });

  it('a refused value is quoted as JSON, cut when long (not "[object Object]")', () => {
    const msg = (input: Record<string, unknown>) => optionIssues(input)[0]?.message;
    assert.equal(msg({ layers: { a: 1 } }), 'Layers must be written like 2;10;18 (got {"a":1})');
    assert.equal(msg({ positions: [{ f: 5 }] }), 'Positions must be written like f3+l3 (got [{"f":5}])');
    assert.equal(msg({ rank: [1, 2] }), 'Rank must be an integer ≥ 1 (got [1,2])');
    assert.equal(msg({ rank: 'say "two"' }), 'Rank must be an integer ≥ 1 (got "say \\"two\\"")');
    assert.equal(msg({ dropout: null }), 'Dropout must be a number ≥ 0 and < 1 (got null)');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.equal(msg({ layers: cycle }), 'Layers must be written like 2;10;18 (got [object Object])');
    const long = msg({ rank: 'x'.repeat(500) }) ?? '';
    assert.match(long, /^Rank must be an integer ≥ 1 \(got "x{58}…\)$/);
  });

  it('a value above a sanity cap is told the cap, not a lower bound it already meets', () => {
    const [rank] = optionIssues({ rank: 100_000 });
    assert.equal(rank.cli, '--rank must be at most 65536 (got 100000)');
    const [epochs] = optionIssues({ epochs: 1e9 });
    assert.match(epochs.message, /^Epochs must be at most \d+ \(got 1000000000\)$/);
  });

  it('bf16 on a device without bfloat16 kernels is refused as an option; CUDA, auto or unnamed are not', () => {
    const [issue, ...more] = optionIssues({ dtype: 'bf16', device: 'cpu' });
    assert.deepEqual(more, []);
    assert.equal(issue.field, 'dtype');
    assert.equal(issue.code, 'dtype-unsupported');
    assert.equal(issue.cli, 'bfloat16 needs CUDA (CPU has no bfloat16 kernels): use --dtype fp32 or fp16');
    assert.equal(optionIssues({ dtype: 'bf16', device: 'webgpu' }).length, 1);
    for (const device of ['cuda', 'auto', undefined] as const)
      assert.deepEqual(optionIssues({ dtype: 'bf16', device }), [], String(device));
    assert.deepEqual(optionIssues({ dtype: 'fp16', device: 'cpu' }), []);
  });

  it('limits that depend on the model are checked against the model, in one place', () => {
    assert.deepEqual(modelIssues({ rank: 64, layers: '0;3', maxLength: 256, positions: 'f5+l5' }, model), []);
    const bad = modelIssues({ rank: 65, layers: '2;4', maxLength: 300, positions: 'l400' }, model);
    assert.deepEqual(
      bad.map((i) => [i.field, i.code]),
      [
        ['rank', 'bad-rank'],
        ['maxLength', 'bad-max-length'],
        ['layers', 'layer-out-of-range'],
        ['positions', 'bad-positions'],
      ],
    );
    // The form's entry point: own problems first, then the model's, never the same field twice.
    assert.deepEqual(
      trainOptionIssues({ rank: 0, layers: '7' }, model).map((i) => i.field),
      ['rank', 'layers'],
    );
    assert.deepEqual(
      trainOptionIssues({ rank: 0, layers: '7' }, null).map((i) => i.field),
      ['rank'],
    );
  });

  it('resolves defaults against the model and refuses with an OptionError (a ConfigError)', () => {
    const r = resolveTrainOptions({ layers: '3;1', positions: 'l2' }, model);
    assert.deepEqual(r.layers, [1, 3]);
    assert.equal(r.positions, 'l2');
    assert.equal(r.maxLength, 256, 'the default max length is capped by the model');
    assert.equal(r.rank, TRAIN_DEFAULTS.rank);
    assert.throws(
      () => resolveTrainOptions({ rank: 100 }, model),
      (e: unknown) => e instanceof OptionError && e instanceof ConfigError && e.field === 'rank',
    );
  });

  it('CLI flags and the resume keys are derived from the schema', () => {
    assert.deepEqual(Object.keys(TRAIN_OPTION_FLAGS), TRAIN_OPTION_KEYS.map(optionFlag));
    assert.equal(TRAIN_OPTION_FLAGS['share-weights']?.type, 'boolean');
    assert.equal(TRAIN_OPTION_FLAGS['max-grad-norm']?.type, 'string');
    assert.deepEqual(
      trainOptionsFromFlags({
        rank: '8',
        'share-weights': true,
        schedule: 'cosine',
        layers: '1;2',
        lr: '1e-3',
      }),
      { layers: '1;2', shareWeights: true, rank: 8, lr: 1e-3, schedule: 'cosine' },
    );
    assert.throws(() => trainOptionsFromFlags({ lr: 'fast' }), {
      code: 'usage',
      message: /--lr must be a number/,
    });
    for (const k of TRAIN_OPTION_KEYS)
      assert.equal((DETERMINISTIC_KEYS as readonly string[]).includes(k), TRAIN_OPTIONS[k].deterministic, k);
  });

  it('imports nothing from Node (the renderer bundles it)', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    const seen = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) {
        const [, typeOnly, spec] = m;
        if (typeOnly) continue;
        assert.ok(!spec.startsWith('node:') && spec !== 'onnxruntime-node', `${file} imports ${spec}`);
        if (spec.startsWith('.')) walk(join(dirname(file), spec));
      }
    };
    walk(join(root, 'native-runtime/training/options.ts'));
    assert.ok(seen.size >= 3, [...seen].join(', '));
  });
});
