// Starts the CLI again in a child process when the CUDA runtime pack needs a different library path
// (cuda-pack.ts: engineEnv). The dynamic loader reads LD_LIBRARY_PATH only when a process starts, so
// the launcher (bin/reft-studio.js) calls this before anything loads ONNX Runtime. The child inherits
// stdio; its exit code (or the signal that stopped it) becomes this process's, and the stop signals
// this process gets are passed on. The child in turn stops when the launcher is gone (killed, or its
// terminal closed): stopWithLauncher.

import { spawn } from 'node:child_process';
import { resolveDataDir } from '../../electron/backend/paths.ts';
import { stopWithParent } from '../parent-watch.ts';
import { engineEnv } from './cuda-pack.ts';

/** Set in the relaunched child's environment: the launcher's pid, which the child watches. */
export const LAUNCHER_PID = 'REFT_STUDIO_LAUNCHER_PID';

/**
 * How long a child whose launcher is gone may take to stop cleanly (a training step to finish and
 * its checkpoint to be written, serve to close) before it is killed.
 */
export const ORPHAN_GRACE_MS = 120_000;

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
    const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
      env: { ...env, [LAUNCHER_PID]: String(process.pid) },
      stdio: 'inherit',
    });
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

/**
 * In a CLI started by relaunchForPack: once the launcher is gone, stop as for a Ctrl-C (a training
 * pauses at the end of its step with a checkpoint; serve shuts down), and be killed only if that
 * takes longer than ORPHAN_GRACE_MS. Nothing otherwise would end the child: it keeps running
 * orphaned, with nobody to see its output or press Ctrl-C.
 */
export function stopWithLauncher(graceMs = ORPHAN_GRACE_MS): void {
  const launcher = Number(process.env[LAUNCHER_PID]);
  // Not passed on to the processes this one starts; and one inherited from elsewhere is not ours.
  delete process.env[LAUNCHER_PID];
  if (launcher > 0 && launcher === process.ppid) stopWithParent(launcher, { signal: 'SIGINT', graceMs });
}

function signalNumber(s: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s];
}
