import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeStateDictPickle, loadPickle, PyDict, TensorRef } from './pickle.ts';
import { parseZip } from './zip.ts';

const REFT = 'tests/fixtures/golden/reft';
const LOREFT_BIN = `${REFT}/gpt2-loreft-f1l1/pyreft_init/intkey_layer_1_comp_block_output_unit_pos_nunit_1#0.bin`;
const NOREFT_BIN = `${REFT}/llama-noreft/pyreft_init/intkey_layer_2_comp_block_output_unit_pos_nunit_1#0.bin`;

function dataPkl(path: string): Buffer {
  const z = parseZip(readFileSync(path), path);
  return z.read(z.records.find((r) => r.name.endsWith('/data.pkl'))!.name);
}

function errOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  assert.fail('expected an error');
}

/** A protocol-2 pickle calling module.name(*args) with one string argument. */
function evilPickle(module: string, name: string): Buffer {
  const cmd = Buffer.from('echo pwned');
  return Buffer.concat([
    Buffer.from([0x80, 2]),
    Buffer.from(`c${module}\n${name}\n`, 'latin1'),
    Buffer.from([0x58]),
    Buffer.from(Uint32Array.of(cmd.length).buffer),
    cmd,
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1 REDUCE STOP
  ]);
}

test('loads a torch state dict pickle into tensor references', () => {
  const v = loadPickle(dataPkl(LOREFT_BIN), 'x.bin');
  assert.ok(v instanceof PyDict && v.ordered);
  assert.deepEqual([...v.map.keys()], ['weight', 'bias', 'rotate_layer']);
  const w = v.map.get('weight') as TensorRef;
  assert.ok(w instanceof TensorRef);
  assert.deepEqual(
    [w.storage.dtype, w.storage.key, w.storage.numel, w.size, w.stride, w.offset],
    ['F32', '0', 256, [4, 64], [64, 1], 0],
  );
});

test('reads the _metadata state that nn.Module.state_dict attaches', () => {
  const v = loadPickle(dataPkl(NOREFT_BIN), 'x.bin') as PyDict;
  const md = (v.state as PyDict).map.get('_metadata') as PyDict;
  assert.deepEqual([...md.map.keys()], ['', 'proj_layer', 'learned_source', 'dropout', 'act_fn']);
});

test('the writer emits the same bytes as torch.save (with and without _metadata)', () => {
  const lo = encodeStateDictPickle([
    { name: 'weight', dtype: 'F32', shape: [4, 64] },
    { name: 'bias', dtype: 'F32', shape: [4] },
    { name: 'rotate_layer', dtype: 'F32', shape: [64, 4] },
  ]);
  assert.deepEqual(lo, dataPkl(LOREFT_BIN));
  const no = encodeStateDictPickle(
    [
      { name: 'embed_dim', dtype: 'I64', shape: [] },
      { name: 'interchange_dim', dtype: 'I64', shape: [] },
      { name: 'proj_layer.weight', dtype: 'F32', shape: [4, 64] },
      { name: 'proj_layer.bias', dtype: 'F32', shape: [4] },
      { name: 'learned_source.weight', dtype: 'F32', shape: [4, 64] },
      { name: 'learned_source.bias', dtype: 'F32', shape: [4] },
    ],
    { metadata: ['', 'proj_layer', 'learned_source', 'dropout', 'act_fn'] },
  );
  assert.deepEqual(no, dataPkl(NOREFT_BIN));
});

test('large shapes, many tensors and big ints survive a write/read cycle', () => {
  const tensors = Array.from({ length: 300 }, (_, i) => ({
    name: `t${i}`,
    dtype: 'BF16' as const,
    shape: [70000 + i, 3],
  }));
  const v = loadPickle(encodeStateDictPickle(tensors), 'x') as PyDict;
  assert.equal(v.map.size, 300);
  const t = v.map.get('t299') as TensorRef;
  assert.deepEqual(
    [t.size, t.stride, t.storage.numel, t.storage.key, t.storage.dtype],
    [[70299, 3], [3, 1], 210897, '299', 'BF16'],
  );
});

test('GLOBAL naming anything off the allow-list is refused before it is used', () => {
  const e = errOf(() => loadPickle(evilPickle('os', 'system'), 'intkey_x.bin'));
  assert.equal(e.code, 'forbidden-global');
  assert.match(e.message, /pickle in intkey_x\.bin names forbidden global 'os\.system'/);
  assert.equal(errOf(() => loadPickle(evilPickle('builtins', 'eval'), 'f')).code, 'forbidden-global');
  assert.equal(
    errOf(() => loadPickle(evilPickle('torch._utils', '_rebuild_tensor_v3'), 'f')).code,
    'forbidden-global',
  );
});

test('names the allow-list tables inherit (torch.constructor, torch.__proto__) are refused', () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    const e = errOf(() => loadPickle(evilPickle('torch', name), 'f.bin'));
    assert.equal(e.code, 'forbidden-global', `torch.${name}: ${e.message}`);
  }
});

test('STACK_GLOBAL, INST and NEWOBJ are held to the same allow-list', () => {
  const sg = Buffer.concat([
    Buffer.from([0x80, 4, 0x8c, 9]),
    Buffer.from('posix'.padEnd(9, ' ')),
    Buffer.from([0x8c, 6]),
    Buffer.from('system'),
    Buffer.from([0x93, 0x2e]),
  ]);
  const e = errOf(() => loadPickle(sg, 'f.bin'));
  assert.equal(e.code, 'forbidden-global');
  assert.match(e.message, /'posix {4}\.system'/);
  const inst = Buffer.concat([
    Buffer.from([0x80, 2, 0x28]),
    Buffer.from('isubprocess\nPopen\n', 'latin1'),
    Buffer.from([0x2e]),
  ]);
  assert.match(errOf(() => loadPickle(inst, 'f')).message, /subprocess\.Popen/);
  const newobj = Buffer.concat([
    Buffer.from([0x80, 2]),
    Buffer.from('ccollections\nOrderedDict\n', 'latin1'),
    Buffer.from([0x29, 0x81, 0x2e]),
  ]);
  assert.equal(errOf(() => loadPickle(newobj, 'f')).code, 'forbidden-global');
});

test('allowed names used the wrong way and malformed streams are bad-pickle', () => {
  // calling a storage class
  const call = Buffer.concat([
    Buffer.from([0x80, 2]),
    Buffer.from('ctorch\nFloatStorage\n', 'latin1'),
    Buffer.from([0x29, 0x52, 0x2e]),
  ]);
  assert.equal(errOf(() => loadPickle(call, 'f')).code, 'bad-pickle');
  assert.equal(errOf(() => loadPickle(Buffer.from([0x80, 2, 0x4b]), 'f')).code, 'bad-pickle'); // cut mid-opcode
  assert.equal(errOf(() => loadPickle(Buffer.from([0x80, 2, 0x68, 7, 0x2e]), 'f')).code, 'bad-pickle'); // unknown memo
  assert.equal(errOf(() => loadPickle(Buffer.from([0x80, 2, 0x56, 0x2e]), 'f')).code, 'bad-pickle'); // text opcode
  // a persistent id that is not a storage tuple
  assert.equal(errOf(() => loadPickle(Buffer.from([0x80, 2, 0x4b, 1, 0x51, 0x2e]), 'f')).code, 'bad-pickle');
});
