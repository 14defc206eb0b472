// The same parity through the command line: `reft-studio debug forward` on every fixture model
// (no adapter, golden_forward batch) and `debug grad` on one ReFT case, run as a real child process.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { MODEL_ARCHS, maxAbsDiffMasked, modelDir, REFT, relErr } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));
const tmp = tempDir('reft-cli-debug-');
const cli = (...args: string[]) =>
  JSON.parse(execFileSync(process.execPath, [BIN, ...args, '--json'], { encoding: 'utf8' }));

describe('reft-studio debug forward', () => {
  for (const arch of MODEL_ARCHS) {
    it(`${arch}: logits match golden_forward`, () => {
      const dir = modelDir(arch);
      const out = join(tmp, `${arch}.safetensors`);
      const res = cli(
        'debug',
        'forward',
        '--model',
        dir,
        '--batch',
        join(dir, 'golden_forward.safetensors'),
        '--out',
        out,
      );
      assert.equal(res.out, out);
      const got = loadSafetensors(out).get('logits')!;
      const golden = loadSafetensors(join(dir, 'golden_forward.safetensors'));
      const err = maxAbsDiffMasked(
        got.data as Float32Array,
        golden.get('logits')!.data as Float32Array,
        golden.get('attention_mask')!.data as BigInt64Array,
        got.shape[2],
      );
      assert.ok(err <= (arch === 'llama-bf16' ? 2e-3 : 1e-4), `error ${err}`);
    });
  }
});

describe('reft-studio debug grad', () => {
  it('llama-loreft-f2l2: gradients match pyreft', () => {
    const c = join(REFT, 'llama-loreft-f2l2');
    const out = join(tmp, 'grad.safetensors');
    const res = cli(
      'debug',
      'grad',
      '--model',
      modelDir('llama'),
      '--adapter',
      join(c, 'pyreft_init'),
      '--batch',
      join(c, 'golden_reft.safetensors'),
      '--out',
      out,
    );
    const golden = loadSafetensors(join(c, 'golden_reft.safetensors'));
    assert.ok(Math.abs(res.loss - (golden.get('loss')!.data as Float32Array)[0]) < 1e-4);
    const got = loadSafetensors(out);
    const key = 'layer_1_comp_block_output_unit_pos_nunit_1#0';
    assert.ok(
      relErr(
        got.get(`grad/${key}/rotate_layer`)!.data as Float32Array,
        golden.get(`grad/${key}/R`)!.data as Float32Array,
      ) < 1e-4,
    );
    assert.ok(
      relErr(
        got.get(`grad/${key}/weight`)!.data as Float32Array,
        golden.get(`grad/${key}/learned_source.weight`)!.data as Float32Array,
      ) < 1e-4,
    );
  });

  // LoReFT (R given by the file without its torch base) and NodiReFT (a bias the forward never reads).
  for (const name of ['llama-loreft-f2l2', 'llama-nodireft'])
    it(`debug train on ${name}: losses [N+1] from the golden loss, final/ under the names debug grad uses`, () => {
      // cli.md: `final/<key>/<name>` (same names as `debug grad`): an external check pairs each final
      // tensor with its gradient and its golden value, so a name only one of them writes is a mismatch.
      const c = join(REFT, name);
      const args = ['--model', modelDir('llama'), '--adapter', join(c, 'pyreft_init')];
      const batch = ['--batch', join(c, 'golden_reft.safetensors')];
      const gradOut = join(tmp, `${name}-grad.safetensors`);
      const trainOut = join(tmp, `${name}-train.safetensors`);
      cli('debug', 'grad', ...args, ...batch, '--out', gradOut);
      const res = cli('debug', 'train', ...args, ...batch, '--steps', '2', '--lr', '5e-3', '--out', trainOut);
      const got = loadSafetensors(trainOut);
      assert.deepEqual(got.get('losses')!.shape, [3]);
      assert.equal(res.losses.length, 3);
      const loss0 = (
        loadSafetensors(join(c, 'golden_reft.safetensors')).get('loss')!.data as Float32Array
      )[0];
      assert.ok(Math.abs(res.losses[0] - loss0) < 1e-4, `first loss ${res.losses[0]} vs ${loss0}`);
      const tensorNames = (keys: Iterable<string>, prefix: string) =>
        [...keys]
          .filter((k) => k.startsWith(prefix))
          .map((k) => k.slice(prefix.length))
          .sort();
      assert.deepEqual(
        tensorNames(got.keys(), 'final/'),
        tensorNames(loadSafetensors(gradOut).keys(), 'grad/'),
      );
    });

  it('a missing adapter folder fails with one clear line', () => {
    const c = join(REFT, 'llama-loreft-f2l2');
    assert.throws(
      () =>
        execFileSync(
          process.execPath,
          [
            BIN,
            'debug',
            'grad',
            '--model',
            modelDir('llama'),
            '--adapter',
            join(tmp, 'nope'),
            '--batch',
            join(c, 'golden_reft.safetensors'),
            '--out',
            join(tmp, 'x.safetensors'),
          ],
          { encoding: 'utf8', stdio: 'pipe' },
        ),
      (e: { status: number; stderr: string }) =>
        e.status !== 0 && /^error: .*nope/m.test(e.stderr) && e.stderr.trim().split('\n').length === 1,
    );
  });
});
