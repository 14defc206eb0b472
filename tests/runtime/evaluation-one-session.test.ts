// A loss or compare evaluation runs the base model on the adapter's own session (its interventions
// given no positions: runner.ts `base`), not on a second session. ONNX Runtime maps every external
// initializer for each session, so a base session mapped the weights file again and RSS — what the
// OOM killer ranks by and task managers show — counted the weights once more (a 1.1B model's loss
// evaluation peaked at 14 GB RSS for 5.8 GB PSS). Counted here as the sizes of the process's
// mappings of the weights file while the evaluation ends; the base's numbers must stay the base
// model's own. Linux only (/proc/self/smaps). Real ORT, the Llama fixture read in place.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateAdapter } from '../../native-runtime/evaluation/evaluate.ts';
import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { readDataset } from '../../native-runtime/training/data.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { adapterFor } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';
import { writeJsonl } from '../training/helpers.ts';

const MODEL = modelDir('llama');
const WEIGHTS = join(MODEL, 'model.safetensors');

/** Bytes of this process's mappings of `file` (every mapping counted, as RSS counts them). */
function mappedBytes(file: string): number {
  let kb = 0;
  let on = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) on = head[1] === file;
    else if (on) kb += Number(/^Size:\s+(\d+) kB/.exec(line)?.[1] ?? 0);
  }
  return kb * 1024;
}

test('loss and compare evaluations map the weights once: the base runs on the adapter’s session', {
  skip: process.platform === 'linux' ? false : 'reads /proc/self/smaps (Linux only)',
  timeout: 120_000,
}, async () => {
  const root = tempDir('eval-one-session-');
  const adapter = adapterFor(MODEL, join(root, 'adapter'));
  const data = writeJsonl(join(root, 'd.jsonl'), [
    { prompt: 'Question 1: what is 1 plus 1?', completion: ' 2' },
    { prompt: 'Question 2: what is 2 plus 2?', completion: ' 4' },
    { prompt: 'Question 3: what is 3 plus 3?', completion: ' 6' },
  ]);
  const size = statSync(WEIGHTS).size;
  const run = async (kind: 'loss' | 'compare') => {
    let mapped = 0;
    const report = await evaluateAdapter({
      model: MODEL,
      adapter,
      data,
      kind,
      maxNewTokens: 4,
      dataDir: join(root, 'data'),
      // The last example counted: every session the evaluation opened is still open.
      onProgress: (done, total) => {
        if (done === total) mapped = mappedBytes(WEIGHTS);
      },
    });
    // One session's mappings: each tensor's range rounded to pages, so a little over the file.
    assert.ok(mapped > 0 && mapped < 1.5 * size, `${kind}: ${mapped} bytes mapped for a ${size}-byte file`);
    return report;
  };
  const loss = await run('loss');
  const cmp = await run('compare');

  // The base's numbers are the base model's: those of a session without the adapter.
  const base = await ModelRunner.load(MODEL, null);
  try {
    const own = await base.datasetLoss(readDataset(data), { chat: false });
    // Within float rounding: ORT fuses the intervened graph's ops a little differently.
    assert.ok(
      Math.abs(loss.metrics.baseLoss - own.loss) < 1e-6 * own.loss,
      `${loss.metrics.baseLoss} vs ${own.loss}`,
    );
    assert.notEqual(loss.metrics.loss, own.loss, 'the adapter changes the loss: the two are not one run');
    const answers = await base.generate(
      cmp.samples.map((s) => s.prompt),
      { maxNewTokens: 4, greedy: true, chat: false },
    );
    assert.deepEqual(
      cmp.samples.map((s) => s.baseOutput),
      answers.map((a) => a.text),
    );
  } finally {
    await base.release();
  }
});
