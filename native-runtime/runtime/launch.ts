// Starts the CLI again in a child process when the CUDA runtime pack needs a different library path
// (cuda-pack.ts: engineEnv). The dynamic loader reads LD_LIBRARY_PATH only when a process starts, so
// the launcher (bin/reft-studio.js) calls this before anything loads ONNX Runtime. The child inherits
// stdio; its exit code (or the signal that stopped it) becomes this process's.

import { spawn } from 'node:child_process';
import { resolveDataDir } from '../../electron/backend/paths.ts';
import { engineEnv } from './cuda-pack.ts';

/** The --data-dir value in argv (`--data-dir X` or `--data-dir=X`), if any. */
export function dataDirFlag(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === '--data-dir') return argv[i + 1];
    if (argv[i].startsWith('--data-dir=')) return argv[i].slice('--data-dir='.length);
  }
  return undefined;
}

/**
 * Runs `script argv` again under the pack's environment and resolves with its exit code, or returns
 * null at once when this process can go on as it is (no pack, or already started with it).
 */
export function relaunchForPack(script: string, argv: string[]): Promise<number> | null {
  let env: NodeJS.ProcessEnv | null = null;
  try {
    env = engineEnv(resolveDataDir(dataDirFlag(argv)));
  } catch {
    return null; // a broken pack must not stop the CLI; `devices` and `runtime list` explain it
  }
  if (!env) return null;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, script, ...argv], { env, stdio: 'inherit' });
    // Ctrl-C on a terminal reaches the whole foreground process group, the child included: passing
    // it on as well would make one press two (and the CLI stops at once on a second Ctrl-C).
    const terminal = [process.stdin, process.stdout, process.stderr].some((s) => s.isTTY);
    const forward = (sig: NodeJS.Signals) => () => {
      if (!(sig === 'SIGINT' && terminal)) child.kill(sig);
    };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    child.on('error', (e) => {
      process.stderr.write(`error: cannot start the engine process: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1));
    });
  });
}

function signalNumber(s: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s];
}
