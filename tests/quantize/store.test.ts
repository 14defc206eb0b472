// The converted-weights store and synthetic models: a conversion killed half-way resumes without
// redoing finished tensors and ends byte-identical to an uninterrupted one; a cancel is heard within
// a large tensor; a disk too small is
// refused before anything is written; removal deletes every form; synthetic quantized models never
// write their linear layers in float (the checkpoint's matrices are holes) and clean up after themselves.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import {
  buildSynthetic,
  syntheticShape,
  writeSyntheticCheckpoint,
} from '../../native-runtime/bench/synthetic.ts';
import { ReftError } from '../../native-runtime/errors.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBase, prepareBaseLogged, prepareTraining } from '../../native-runtime/quantize/base.ts';
import { parseQuantize } from '../../native-runtime/quantize/scheme.ts';
import { baseStoresFolder, ensureStore, STORE_FILE, storeDir } from '../../native-runtime/quantize/store.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { SMALL_SYNTHETIC } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

const spec = loadModelSpec(modelDir('llama'));
const int4 = parseQuantize('int4');

describe('base store', () => {
  it('a killed conversion resumes where it stopped and ends identical to a fresh one', async () => {
    const fresh = await ensureStore(spec, int4, { root: tempDir('reft-store-') });
    const root = tempDir('reft-store-');
    const stop = new AbortController();
    let seen = 0;
    await assert.rejects(
      ensureStore(spec, int4, {
        root,
        signal: stop.signal,
        syncEveryBytes: 1,
        onProgress: (p) => {
          seen = p.done;
          if (p.done === 10) stop.abort();
        },
      }),
      (e: unknown) => e instanceof ReftError && e.code === 'cancelled',
    );
    assert.equal(seen, 10);
    const dir = storeDir(root, spec.fingerprint, int4);
    assert.ok(existsSync(join(dir, `${STORE_FILE}.partial`)), 'the partial file is kept for resuming');
    assert.ok(!existsSync(join(dir, STORE_FILE)));
    const produced: string[] = [];
    await ensureStore(spec, int4, {
      root,
      produce: (slot) => {
        produced.push(slot.name);
        return false; // let the converter write it
      },
    });
    assert.ok(
      produced.length > 0 && !produced.includes('model.embed_tokens.weight'),
      'finished tensors were redone',
    );
    assert.deepEqual(readFileSync(join(dir, STORE_FILE)), readFileSync(join(fresh, STORE_FILE)));
    assert.deepEqual(readdirSync(dir).sort(), [STORE_FILE]);
  });

  it('a cancel that arrives as an event (Ctrl-C, the studio) stops the conversion between tensors', async () => {
    // A signal handler or a message runs only when the event loop turns: a timer stands for them.
    const root = tempDir('reft-store-');
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 0);
    let seen = 0;
    await assert.rejects(
      ensureStore(spec, int4, { root, signal: stop.signal, onProgress: (p) => (seen = p.done) }),
      (e: unknown) => e instanceof ReftError && e.code === 'cancelled',
    );
    assert.ok(seen < 5, `stopped after ${seen} tensors, not at the end`);
  });

  // Matrices large enough to take a while: an LM head of 65536 × 256 (67 MB in float32, two pieces of
  // 32 MB) and MLP matrices of 16384 × 256; Llama-3-8B's head is 2.1 GB, whose conversion a Ctrl-C
  // once waited for.
  let big: ModelSpec | null = null;
  const bigModel = async (): Promise<ModelSpec> => {
    if (big) return big;
    const model = join(tempDir('reft-store-big-'), 'model');
    await writeSyntheticCheckpoint('tinyllama-1.1b', model, {
      dtype: 'bfloat16',
      overrides: {
        ...SMALL_SYNTHETIC,
        hidden_size: 256,
        num_hidden_layers: 1,
        intermediate_size: 16384,
        vocab_size: 65536,
      },
    });
    big = loadModelSpec(model);
    return big;
  };

  it('a cancel is heard inside one large tensor, between its pieces, not after the whole of it', async () => {
    const big = await bigModel();
    const stop = new AbortController();
    let last = '';
    await assert.rejects(
      ensureStore(big, parseQuantize('int8'), {
        root: tempDir('reft-store-'),
        signal: stop.signal,
        onProgress: (p) => {
          last = p.tensor;
          // The tensor before the head is done: a cancel arrives (a timer stands for the signal).
          if (p.done === p.total - 2) setTimeout(() => stop.abort(), 0);
        },
      }),
      (e: unknown) => e instanceof ReftError && e.code === 'cancelled',
    );
    assert.equal(last, 'model.norm.weight', 'stopped in the head, not once it was all converted');
  });

  it("a cancel is heard inside one matrix of training's transposed copy", async () => {
    const base = await prepareBase(await bigModel(), parseQuantize('int8'), {
      dataDir: tempDir('reft-store-'),
    });
    const stop = new AbortController();
    let last = '';
    await assert.rejects(
      prepareTraining(base, {
        pack: true,
        signal: stop.signal,
        onProgress: (p) => {
          last = p.tensor;
          // Before the MLP's first matrix (seconds each at Llama-3-8B's size), a cancel arrives.
          if (p.tensor.endsWith('o_proj.weight.scales_t')) setTimeout(() => stop.abort(), 0);
        },
      }),
      (e: unknown) => e instanceof ReftError && e.code === 'cancelled',
    );
    assert.match(last, /o_proj\.weight\.scales_t$/, 'stopped in the next matrix, not once it was written');
  });

  it('refuses a conversion the disk cannot hold, before writing anything', async () => {
    const root = tempDir('reft-store-');
    await assert.rejects(
      ensureStore(spec, int4, { root, reserveBytes: 2 ** 60 }),
      (e: unknown) =>
        e instanceof ReftError && e.code === 'disk-full' && /needs .* GB .* free/.test(e.message),
    );
    assert.ok(!existsSync(join(storeDir(root, spec.fingerprint, int4), `${STORE_FILE}.partial`)));
  });

  it('every form of a model lies in its baseStoresFolder, which the library deletes with it', async () => {
    // Removing the model deletes that folder (tests/quantize/library.test.ts): all its forms go.
    const root = tempDir('reft-store-');
    const int8 = parseQuantize('int8');
    await ensureStore(spec, int4, { root });
    await ensureStore(spec, int8, { root });
    const folder = join(root, spec.fingerprint);
    assert.equal(baseStoresFolder(root, spec.fingerprint), folder);
    assert.deepEqual(
      readdirSync(folder)
        .map((f) => join(folder, f))
        .sort(),
      [storeDir(root, spec.fingerprint, int4), storeDir(root, spec.fingerprint, int8)].sort(),
    );
    // A fingerprint no store can have names no folder (nothing outside the stores is deleted).
    assert.equal(baseStoresFolder(root, '../..'), null);
  });
});

describe('synthetic models', () => {
  it('their shapes, read without writing them, hold the published parameter counts', () => {
    // The memory tests size TinyLlama and Llama-3-8B by syntheticShape: it must be the real models'.
    assert.equal(syntheticShape('tinyllama-1.1b').params, 1_100_048_384);
    assert.equal(syntheticShape('llama3-8b').params, 8_030_261_248);
    assert.deepEqual(
      [syntheticShape('tinyllama-1.1b').numLayers, syntheticShape('llama3-8b').numKvHeads],
      [22, 8],
    );
  });

  it('int4: linear layers only ever exist as codes; the model generates; dispose removes it', async () => {
    const dataDir = tempDir('reft-synth-');
    const m = await buildSynthetic('llama3-8b', {
      dataDir,
      scheme: int4,
      overrides: { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 2, vocab_size: 1000 },
    });
    assert.equal(m.spec.base?.form, 'int4-b32');
    assert.equal(m.spec.numKvHeads, 8);
    assert.equal(m.spec.rope?.scaling?.type, 'llama3');
    const ckpt = join(m.dir, 'model.safetensors');
    const st = statSync(ckpt);
    // The checkpoint's matrices are holes: far fewer blocks allocated than its length.
    const matrices = m.spec.numLayers * (4 * 128 * 128 + 3 * 128 * 256) + 1000 * 128;
    if (st.blocks !== undefined && process.platform === 'linux')
      assert.ok(
        st.blocks * 512 < st.size - matrices * 4 * 0.5,
        `${st.blocks * 512} bytes allocated of ${st.size}`,
      );
    const gen = await Generator.load(m.spec);
    const r = await gen.generate([[1, 2, 3]], { greedy: true, maxNewTokens: 3, eosTokenIds: [] });
    assert.equal(r.tokens[0].length, 3);
    await gen.session.session.release();
    m.dispose();
    assert.ok(!existsSync(m.dir));
  });

  it('int4: the same seed writes the same codes (benchmark losses compare between runs)', async () => {
    const build = (seed: number) =>
      buildSynthetic('llama3-8b', {
        dataDir: tempDir('reft-synth-'),
        scheme: int4,
        seed,
        overrides: { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, vocab_size: 256 },
      });
    const stores = [];
    for (const seed of [3, 3, 4]) {
      const m = await build(seed);
      const dir = m.spec.base!.dir!;
      stores.push(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
      m.dispose();
    }
    const same = (a: Buffer[], b: Buffer[]) => a.length === b.length && a.every((x, i) => x.equals(b[i]));
    assert.ok(stores[0].length > 0);
    assert.ok(same(stores[0], stores[1]), 'seed 3 twice');
    assert.ok(!same(stores[0], stores[2]), 'seeds 3 and 4');
  });
});

test('a conversion left by a killed process is taken over, and the log says so once', async () => {
  const dataDir = tempDir('reft-store-');
  const dir = storeDir(join(dataDir, 'bases'), spec.fingerprint, parseQuantize('int8'));
  // What a killed converter leaves: its lock, naming a process that no longer runs.
  const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'convert.lock'), `${dead}\nconverting weights\n`);
  const lines: string[] = [];
  await prepareBaseLogged(spec, 'int8', { dataDir, log: (m) => lines.push(m) });
  const notice = `a conversion left by a stopped process (pid ${dead}) is taken over and continued`;
  assert.deepEqual(
    lines.filter((l) => l.includes('stopped process')),
    [notice],
  );
  assert.equal(lines[0], notice, 'said before the progress lines');
  assert.match(lines.at(-1) ?? '', /: 100% of /);
  assert.ok(existsSync(join(dir, STORE_FILE)) && !existsSync(join(dir, 'convert.lock')));
  // A conversion with no lock left over says nothing of the kind.
  const quiet: string[] = [];
  await prepareBaseLogged(spec, 'int4', { dataDir, log: (m) => quiet.push(m) });
  assert.ok(quiet.length > 0 && quiet.every((l) => !l.includes('stopped process')));
});
