// Starts the CLI again in a child process when the CUDA runtime pack needs a different library path
// (cuda-pack.ts: engineEnv) — the dynamic loader reads LD_LIBRARY_PATH only when a process starts, so
// the launcher (bin/reft-studio.js) calls this before anything loads ONNX Runtime — and for a
// command run with `--device webgpu`, whose native stderr the launcher reads to drop Dawn's notices
// (native-stderr.ts). The child inherits stdin and stdout; its exit code (or the signal that stopped
// it) becomes this process's, and the stop signals this process gets are passed on. The child in
// turn stops when the launcher is gone (killed, or its terminal closed): stopWithLauncher.

import { spawn } from 'node:child_process';
import { findCommand } from '../../cli/args.ts';
import { resolveDataDir } from '../../electron/backend/paths.ts';
import { stopWithParent } from '../parent-watch.ts';
import { engineEnv } from './cuda-pack.ts';
import { forwardNativeStderr, OWN_STDERR_FD } from './native-stderr.ts';

/** Set in the relaunched child's environment: the launcher's pid, which the child watches. */
export const LAUNCHER_PID = 'REFT_STUDIO_LAUNCHER_PID';

/**
 * How long a child whose launcher is gone may take to stop cleanly (a training step to finish and
 * its checkpoint to be written, serve to close) before it is killed.
 */
export const ORPHAN_GRACE_MS = 120_000;

/** The value of `--NAME X` or `--NAME=X` in argv (before any `--`), if any. */
function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

/** The --data-dir value in argv (`--data-dir X` or `--data-dir=X`), if any. */
export const dataDirFlag = (argv: string[]): string | undefined => flagValue(argv, '--data-dir');

/** How long the launcher waits, once its child has exited, for what is left in the child's stderr. */
const STDERR_DRAIN_MS = 2000;

/** The commands that take `--device` and open ONNX Runtime sessions on it. */
const SESSION_COMMANDS = [
  'train',
  'generate',
  'evaluate',
  'bench train',
  'bench prefill',
  'bench decode',
  'debug forward',
  'debug grad',
  'debug train',
  'runs resume',
];

/**
 * Whether argv runs a command whose native stderr the launcher filters (not in its own child): one
 * asked for WebGPU by name, on Linux, where Dawn's notices were seen. Only then is the cost of a
 * second process worth it; a CLI session that lands on WebGPU through `auto` or Settings still
 * prints the notices. (The studio's engine processes have their stderr read by the host anyway:
 * electron/backend/jobs/engine.ts.)
 */
export const filtersNativeStderr = (
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): boolean =>
  platform === 'linux' &&
  !env[OWN_STDERR_FD] &&
  flagValue(argv, '--device') === 'webgpu' &&
  findCommand(argv, SESSION_COMMANDS).name !== null;

/**
 * Runs `script argv` again as a child — under the pack's environment, and with its native stderr
 * filtered for a command asked for `--device webgpu` — and resolves with its exit code, or returns null at
 * once when this process can go on as it is (neither applies, or it is that child already).
 */
export function relaunchCli(script: string, argv: string[]): Promise<number> | null {
  let packEnv: NodeJS.ProcessEnv | null = null;
  try {
    packEnv = engineEnv(resolveDataDir(dataDirFlag(argv)));
  } catch {
    // a broken pack must not stop the CLI; `devices` and `runtime list` explain it
  }
  const filter = filtersNativeStderr(argv);
  if (!packEnv && !filter) return null;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
      env: {
        ...(packEnv ?? process.env),
        [LAUNCHER_PID]: String(process.pid),
        ...(filter ? { [OWN_STDERR_FD]: '3' } : {}),
      },
      // Filtered: the child's fd 2 is a pipe read here, its fd 3 this process's stderr.
      stdio: filter ? ['inherit', 'inherit', 'pipe', 2] : 'inherit',
    });
    // A closed stderr (`2>&1 | head`) drops the rest, as the CLI's own writer does.
    if (filter) process.stderr.on('error', () => {});
    const forwarded = child.stderr
      ? forwardNativeStderr(child.stderr, (s) => process.stderr.write(s))
      : Promise.resolve();
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
    child.on('exit', async (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      // The rest of its stderr, but not for ever: a process it started may hold the pipe open after
      // it is gone, and an open pipe would keep this launcher alive with it.
      const late = setTimeout(() => child.stderr?.destroy(), STDERR_DRAIN_MS);
      await forwarded;
      clearTimeout(late);
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1));
    });
  });
}

/**
 * In a CLI started by relaunchCli: once the launcher is gone, stop as for a Ctrl-C (a training
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
