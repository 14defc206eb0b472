// Preloaded with `node --import` into a CLI child process: rewords the trainer's log lines about its
// phases (the data summary, the conversion of the base weights, the loading) in the source as it is
// loaded, so that a test can show that nothing but the lines' text depends on their words
// (tests/cli/ctrl-c-phases.test.ts). The hooks run in the loader's own thread.

import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

/** file (its URL's end) → [the words, their rewording] */
const REWORDED = {
  'native-runtime/training/trainer.ts': [
    ['`data: ', '`dataset ready: '],
    ["'loading the model into ONNX Runtime'", "'opening the ONNX Runtime session'"],
  ],
  'native-runtime/quantize/base.ts': [['converting the base weights', 'rewriting the base weights']],
};

if (isMainThread) register(import.meta.url);

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  const file = Object.keys(REWORDED).find((f) => url.endsWith(f));
  if (!file || loaded.source == null) return loaded;
  let source = String(loaded.source);
  for (const [words, reworded] of REWORDED[file]) {
    if (!source.includes(words)) throw new Error(`${file} no longer says ${words}: update this rewording`);
    source = source.replaceAll(words, reworded);
  }
  return { ...loaded, source };
}
