// Writes a synthetic model (quantize's builder: random weights in a published shape) into a lasting
// folder, so the GPU check builds each shape once and every bench reads it with --model:
//   node dist/gpu/build-model.mjs tinyllama-1.1b bf16 /opt/g/models/tinyllama-bf16
// (bench --synthetic would write and delete the 2–16 GB of weights once per workload.)

import { existsSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildSynthetic, type SyntheticName } from '../../native-runtime/bench/synthetic.ts';

const [name, dt, out] = process.argv.slice(2);
const dtype = ({ fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' } as const)[dt as 'fp32'];
if (!name || !dtype || !out) {
  console.error('usage: build-model.mjs tinyllama-1.1b|llama3-8b fp32|fp16|bf16 OUT_DIR');
  process.exit(2);
}
if (existsSync(out)) console.log(`${out} exists`);
else {
  const t0 = performance.now();
  // 'cuda': half-precision weights stay as written (no float32 store).
  const m = await buildSynthetic(name as SyntheticName, { dataDir: dirname(out), dtype, device: 'cuda' });
  renameSync(m.dir, out); // out of the builder's temporary folder, which it deletes at exit
  console.log(
    `${out}: ${name} ${dt}, ${(m.spec.params / 1e9).toFixed(2)}B parameters, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
