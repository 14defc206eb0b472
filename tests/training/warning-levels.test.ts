// Warnings are marked by whoever says them (native-runtime/notices.ts): the run's log, the run page
// and the CLI's `warning: ` prefix read the mark, never the words. These lines were said unmarked:
// examples left out of a run, a probe prompt that could not be answered, the fused decoding step
// that fell back to the general decoder. (The CUDA-only ones — a bf16 checkpoint computing in float32
// — are checked where CUDA runs: tests/training/precision.test.ts, tests/runtime/cuda-pack.test.ts.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { OrtError } from '../../native-runtime/errors.ts';
import { openWithFusedDecoding } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import type { NoteLevel } from '../../native-runtime/notices.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { modelWithoutBos, writeJsonl } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const dir = tempDir('reft-warning-levels-');
const long = (i: number) => ({
  prompt: `Question ${i}: what is ${i} plus ${i}?`,
  completion: `It is ${2 * i}.`,
});
const oneWord = (w: string) => ({ prompt: w, completion: 'It is 2.' });

describe('warnings said by training and generation carry their mark', () => {
  it("a run's left-out examples and failed probe answers are warnings in its engine events", async () => {
    const model = modelWithoutBos(join(dir, 'no-bos'));
    const data = writeJsonl(join(dir, 'mixed.jsonl'), [oneWord('a'), long(1), long(2), long(3)]);
    // Past the fixture's 255 prompt tokens: runs/start refuses it; here the engine is asked directly,
    // as a run recorded before that check would ask it.
    const tooLong = 'one two three four five six seven eight nine ten '.repeat(60);
    const logs: { message: string; level?: NoteLevel }[] = [];
    await new InProcessEngine().call(
      'train',
      {
        config: {
          model,
          data,
          out: join(dir, 'out'),
          maxSteps: 1,
          layers: [1],
          rank: 1,
          chatTemplate: 'none',
        },
        probe: { prompts: [tooLong], every: 1 },
      },
      { onEvent: (e, d) => e === 'log' && logs.push(d as { message: string; level?: NoteLevel }) },
    );
    const levelOf = (re: RegExp) => {
      const found = logs.filter((l) => re.test(l.message));
      assert.equal(found.length, 1, `${re}: ${JSON.stringify(logs)}`);
      return found[0].level;
    };
    assert.equal(levelOf(/^data: 1 of 4 training examples left out \(line 1\)/), 'warn');
    assert.equal(levelOf(/^probe answers before training failed: /), 'warn');
    assert.equal(levelOf(/^probe samples at step 1 failed: /), 'warn');
    // Plain notes stay plain.
    assert.equal(levelOf(/^loading the model into ONNX Runtime$/), undefined);
  });

  it('`train` prints the left-out examples as a warning', () => {
    const model = modelWithoutBos(join(dir, 'no-bos-cli'));
    const data = writeJsonl(join(dir, 'mixed-cli.jsonl'), [oneWord('a'), long(1), long(2), long(3)]);
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'train',
        '--model',
        model,
        '--data',
        data,
        '--max-steps',
        '1',
        '--layers',
        '1',
        '--rank',
        '1',
        '--chat-template',
        'none',
        '--out',
        join(dir, 'out-cli'),
        '--data-dir',
        join(dir, 'home'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^warning: data: 1 of 4 training examples left out \(line 1\)/m);
  });

  it('a fused decoding step that does not run is a warning', async () => {
    const spec = loadModelSpec(modelDir('llama'));
    const notices: { text: string; level?: NoteLevel }[] = [];
    const opened = await openWithFusedDecoding(
      spec,
      { device: 'cpu', onNotice: (text, level) => notices.push({ text, level }) },
      async (fused) => {
        if (fused) throw new OrtError('missing-kernel', 'no Loop kernel here');
        return 'general';
      },
      () => assert.fail('the fallback is returned as it is'),
    );
    assert.equal(opened, 'general');
    assert.deepEqual(notices, [
      {
        text: 'the fused decoding step did not run (no Loop kernel here); decoding with the general decoder',
        level: 'warn',
      },
    ]);
  });
});
