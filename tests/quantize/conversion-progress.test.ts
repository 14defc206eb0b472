// What a conversion of the base weights tells a person: a line as it starts (0%), every tenth, and
// at its end (100%), in words — "to 8 bits", "for training (an 8-bit transposed copy)" — never the
// scheme's spelling ("int8-b32") or the layout's name ("backward"). Lines began at the end of the
// first tensor (40% for a small model), stopped at 90% (the header and padding were not counted),
// and the training layout read "converting the base weights to int8-b32 backward".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { conversionLabel, prepareBaseLogged } from '../../native-runtime/quantize/base.ts';
import { formInWords } from '../../native-runtime/quantize/scheme.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const llama = loadModelSpec(modelDir('llama'));

test('each conversion says 0% as it starts and 100% as it ends, in plain words', async () => {
  const logs: string[] = [];
  await prepareBaseLogged(llama, 'int4', {
    dataDir: tempDir('conversion-words-'),
    training: true,
    pack: true,
    log: (m) => logs.push(m),
  });
  const lines = (label: string) =>
    logs.filter((m) => m.startsWith(`${label}: `)).map((m) => m.slice(label.length + 2));
  for (const label of [
    'converting the base weights to 4 bits',
    'converting the base weights for training (an 8-bit transposed copy)',
  ]) {
    const shown = lines(label);
    assert.match(shown[0] ?? '', /^0% of \d+ KB$/, `${label}\n${logs.join('\n')}`);
    assert.match(shown.at(-1) ?? '', /^100% of \d+ KB$/, `${label}\n${logs.join('\n')}`);
  }
  assert.ok(!logs.some((m) => /int\d-b\d|backward/.test(m)), logs.join('\n'));
});

test('forms in words: the default blocks by their bits, other spellings named', () => {
  assert.equal(formInWords('int8-b32'), '8 bits');
  assert.equal(formInWords('int4-b32'), '4 bits');
  assert.equal(formInWords('int4-b64'), '4 bits (int4-b64)');
  assert.equal(formInWords('int8-b32-zp'), '8 bits (int8-b32-zp)');
  assert.equal(formInWords('fp32'), '32 bits');
  assert.equal(conversionLabel({ form: 'fp32' }), 'converting the base weights to 32 bits');
});
