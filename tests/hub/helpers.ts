// Shared by the hub tests: the CLI as a child process (async, so a LocalHub in this process keeps
// answering), a Hugging Face cache layout written by hand, and the fixture repositories.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../backend/helpers.ts';
import { modelDir } from '../helpers/fixtures.ts';

export const BIN = fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], env: Record<string, string>): ChildProcess {
  const clean = { ...process.env };
  for (const k of [
    'HF_TOKEN',
    'HF_HOME',
    'HF_HUB_CACHE',
    'HUGGINGFACE_HUB_CACHE',
    'HF_ENDPOINT',
    'HF_TOKEN_PATH',
  ])
    delete clean[k];
  return spawn(process.execPath, [BIN, ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const p = startCli(args, env);
  return collect(p);
}

export function collect(p: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  p.stdout?.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  p.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The files of a golden fixture model plus files a real repository has and a model does not need. */
export function fixtureRepoFiles(arch: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(modelDir(arch))) out[f] = readFileSync(join(modelDir(arch), f));
  out['README.md'] = Buffer.from(`# tiny ${arch}\n`);
  out['onnx/model.onnx'] = Buffer.alloc(2048, 7);
  return out;
}

/** Writes snapshots/<commit>/<files> as symlinks into blobs/ (and refs/<ref>), as huggingface_hub does. */
export function writeCacheSnapshot(
  cacheDir: string,
  repo: string,
  files: Record<string, Buffer>,
  opts: { ref?: string | null; commit?: string; missing?: string[] } = {},
): string {
  const root = join(cacheDir, `models--${repo.replace('/', '--')}`);
  const commit =
    opts.commit ?? createHash('sha1').update(repo).update(Object.keys(files).join()).digest('hex');
  const snap = join(root, 'snapshots', commit);
  for (const [path, data] of Object.entries(files)) {
    const etag = createHash('sha256').update(data).digest('hex');
    const blob = join(root, 'blobs', etag);
    mkdirSync(dirname(blob), { recursive: true });
    if (!opts.missing?.includes(path)) writeFileSync(blob, data);
    const link = join(snap, path);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), blob), link);
  }
  if (opts.ref !== null) {
    mkdirSync(join(root, 'refs'), { recursive: true });
    writeFileSync(join(root, 'refs', opts.ref ?? 'main'), commit);
  }
  return snap;
}

export function fileSize(p: string): number {
  return statSync(p).size;
}

/** Waits (bounded) until a file in `dir` whose name ends with `suffix` holds `bytes` bytes. */
export function waitForFile(dir: string, suffix: string, bytes: number): Promise<boolean> {
  return waitFor(`a ${suffix} file of ${bytes} bytes in ${dir}`, async () => {
    try {
      return readdirSync(dir).some((f) => f.endsWith(suffix) && statSync(join(dir, f)).size >= bytes);
    } catch {
      return false;
    }
  });
}
