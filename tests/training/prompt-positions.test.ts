// Examples that cannot train anything are caught before a run starts. A prompt of one token has no
// intervention position (pyreft takes at most half the prompt from each end), so:
//   --max-length below 3 cuts every prompt to one token: refused as an option (the CLI, the RPC and
//     the Train form share the check), before any run is recorded;
//   prompts that are one token themselves (a one-word prompt, no bos, no chat template): those
//     examples are left out and counted in the log, and a dataset of nothing else is refused.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../native-runtime/errors.ts';
import { optionIssues, trainOptionIssues } from '../../native-runtime/training/options.ts';
import { prepareRun } from '../../native-runtime/training/trainer.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { modelWithoutBos, writeJsonl } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const dir = tempDir('reft-prompt-positions-');

const long = (i: number) => ({
  prompt: `Question ${i}: what is ${i} plus ${i}?`,
  completion: `It is ${2 * i}.`,
});
const oneWord = (w: string) => ({ prompt: w, completion: 'It is 2.' });

describe('examples with no intervention position', () => {
  it('--max-length below 3 is refused as an option, with its reason, in the CLI and the studio alike', () => {
    const [issue, ...more] = optionIssues({ maxLength: 2 });
    assert.deepEqual(more, []);
    assert.equal(issue.code, 'bad-max-length');
    const why = 'a shorter example keeps at most 1 prompt token, where no intervention can be placed';
    assert.equal(issue.cli, `--max-length must be an integer ≥ 3 (got 2): ${why}`);
    assert.equal(issue.message, `Max length must be an integer ≥ 3 (got 2): ${why}`);
    // The Train form's check (runs/check) and the run's (resolveTrainOptions) are the same one.
    const model = { numLayers: 4, hiddenSize: 64, maxPositions: 256 };
    assert.deepEqual(trainOptionIssues({ maxLength: 2 }, model), [issue]);
    assert.deepEqual(optionIssues({ maxLength: 3 }), []);
  });

  it('train --max-length 2: one line, and no run recorded', () => {
    const data = writeJsonl(join(dir, 'd.jsonl'), [long(1), long(2)]);
    const home = join(dir, 'home');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, ...args, '--data-dir', home], { encoding: 'utf8' });
    const r = run('train', '--model', modelDir('llama'), '--data', data, '--max-length', '2');
    assert.equal(r.status, 2); // bad usage: no model takes it
    assert.equal(
      r.stderr,
      'error: --max-length must be an integer ≥ 3 (got 2): a shorter example keeps at most 1 prompt token, where no intervention can be placed\n',
    );
    assert.deepEqual(JSON.parse(run('runs', 'list', '--json').stdout).runs, []);
  });

  it('one-token prompts are left out and counted; a dataset of nothing else is refused', async () => {
    const model = modelWithoutBos(join(dir, 'no-bos'));
    const out = join(dir, 'out'); // prepareRun writes nothing
    const mixed = writeJsonl(join(dir, 'mixed.jsonl'), [oneWord('a'), long(1), oneWord('b'), long(2)]);
    const run = await prepareRun({ model, data: mixed, out, chatTemplate: 'none', positions: 'f1+l1' });
    assert.deepEqual(run.skippedLines, [1, 3]);
    assert.deepEqual(
      run.train.slice(0, run.train.length).map((r) => r.line),
      [2, 4],
    );
    // Through the chat template the same prompts are long enough: nothing is left out.
    assert.deepEqual((await prepareRun({ model, data: mixed, out, chatTemplate: 'auto' })).skippedLines, []);

    const ones = writeJsonl(join(dir, 'ones.jsonl'), [oneWord('a'), oneWord('b')]);
    await assert.rejects(
      () => prepareRun({ model, data: ones, out, chatTemplate: 'none' }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.code === 'no-intervention-positions' &&
        e.message ===
          `${ones}: every example's prompt is 1 token, where no intervention can be placed: give the prompts 2 tokens or more`,
    );
  });
});
