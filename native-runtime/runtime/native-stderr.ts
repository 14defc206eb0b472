// Keeps Dawn's own notices off the CLI's stderr. Dawn (WebGPU inside onnxruntime-node) prints its
// warnings from native code straight to file descriptor 2 (dawn/common/Log.cpp, an fprintf for every
// one), e.g. "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000
// to 16 …" for each Vulkan adapter whose driver reports more than Dawn supports (lavapipe, RADV).
// ORT's log severity does not reach them, no Dawn toggle stops them, and a Node process cannot point
// its own fd 2 elsewhere. So the launcher (launch.ts) runs a command asked for `--device webgpu` as its child
// with fd 2 on a pipe it reads: the known notices are dropped, every other line (a driver's error, a
// crash) is passed on. The child's own writes to process.stderr go to fd 3, the launcher's stderr
// itself, so a terminal keeps its progress bar and what the CLI says comes at once. The studio's
// engine processes (electron/backend/jobs/engine.ts) have their fd 2 read the same way by the host.

import { writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { isatty, WriteStream } from 'node:tty';

/** Set in the child's environment: the fd that stands for the launcher's stderr. */
export const OWN_STDERR_FD = 'REFT_STUDIO_STDERR_FD';

/** Lines Dawn prints that say nothing a user can act on: our one-line adapter warning says what matters. */
const NATIVE_NOISE = [
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
];

export const isNativeNoise = (line: string): boolean => NATIVE_NOISE.some((re) => re.test(line));

/**
 * Passes `from` on to `write` line by line, without the noise; resolves once `from` has ended (a last
 * line without a newline included).
 */
export function forwardNativeStderr(from: Readable, write: (s: string) => void): Promise<void> {
  let pending = '';
  const pass = (line: string) => {
    if (!isNativeNoise(line.replace(/\r$/, ''))) write(`${line}\n`);
  };
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) pass(l);
  });
  return new Promise((resolve) => {
    from.on('close', () => {
      if (pending) write(isNativeNoise(pending) ? '' : pending);
      resolve();
    });
  });
}

/**
 * Writes all of `buf` to `fd`, waiting while it is full. The fd is the launcher's stderr, which Node
 * (libuv) set non-blocking when it is a pipe: once the reader falls 64 kB behind, a write takes part
 * of the buffer or fails with EAGAIN, and the rest would be lost.
 */
function writeAllSync(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/**
 * In the launcher's child: process.stderr (and so console.error) writes to the launcher's stderr,
 * the fd its environment names, instead of fd 2. Called before anything writes to stderr.
 */
export function useLauncherStderr(): void {
  const fd = Number(process.env[OWN_STDERR_FD]);
  // Not passed on: the processes this one starts have no such fd.
  delete process.env[OWN_STDERR_FD];
  if (!Number.isInteger(fd) || fd <= 2) return;
  // A terminal stays one (the progress bar needs its width); anything else is written synchronously,
  // as Node writes its own stderr to files and pipes, so nothing is lost at exit.
  const stream = isatty(fd)
    ? new WriteStream(fd)
    : new Writable({
        write(chunk: Buffer, _enc, done) {
          try {
            writeAllSync(fd, chunk);
            done();
          } catch (e) {
            done(e as Error);
          }
        },
      });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => stream });
}
