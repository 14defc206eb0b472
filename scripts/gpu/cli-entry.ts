// The CLI as one bundle for the GPU test machine (scripts/build-gpu-check.js): what bin/reft-studio.js
// does, without tsx. With the CUDA pack installed it first starts itself again under the pack's
// library path (launch.ts), and so does a command run with `--device webgpu` (its native stderr filtered,
// native-stderr.ts); the CLI itself loads only then.

import { relaunchCli } from '../../native-runtime/runtime/launch.ts';
import { useLauncherStderr } from '../../native-runtime/runtime/native-stderr.ts';

const argv = process.argv.slice(2);
const relaunched = relaunchCli(process.argv[1], argv);
if (relaunched) process.exitCode = await relaunched;
else {
  useLauncherStderr();
  const { main } = await import('../../cli/main.ts');
  process.exitCode = await main(argv);
}
