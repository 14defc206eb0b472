#!/usr/bin/env node
// Launcher for the `reft-studio` command: registers the TypeScript loader (tsx) so the CLI runs
// straight from a fresh clone, then hands over to cli/main.ts. When the CUDA runtime pack is
// installed, the CLI first starts itself again with the library path the pack needs
// (native-runtime/runtime/launch.ts): the loader reads it only at process start; so does a command
// run with `--device webgpu`, whose native stderr this launcher reads to drop Dawn's notices
// (native-stderr.ts). That child stops cleanly if this launcher dies (stopWithLauncher).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const argv = process.argv.slice(2);
const { relaunchCli, stopWithLauncher } = await import('../native-runtime/runtime/launch.ts');
const { useLauncherStderr } = await import('../native-runtime/runtime/native-stderr.ts');
const relaunched = relaunchCli(fileURLToPath(import.meta.url), argv);
if (relaunched) process.exitCode = await relaunched;
else {
  useLauncherStderr();
  stopWithLauncher();
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(argv);
}
