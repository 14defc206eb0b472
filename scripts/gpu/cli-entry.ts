// The CLI as one bundle for the GPU test machine (scripts/build-gpu-check.js): what bin/reft-studio.js
// does, without tsx. With the CUDA pack installed it first starts itself again under the pack's
// library path (launch.ts); the CLI itself loads only then.

import { relaunchForPack } from '../../native-runtime/runtime/launch.ts';

const argv = process.argv.slice(2);
const relaunched = relaunchForPack(process.argv[1], argv);
if (relaunched) process.exitCode = await relaunched;
else {
  const { main } = await import('../../cli/main.ts');
  process.exitCode = await main(argv);
}
