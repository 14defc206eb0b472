// The CUDA runtime pack against fake provider libraries (tests/fixtures/cuda-pack, real ELF files
// built by its build.sh): installing from a folder, a .nupkg and a .tgz, online from a local NuGet
// server (checksum, resume after a dropped connection, disk space), removal, what it reports missing,
// and the loader path: a process started with engineEnv loads ONNX Runtime from the pack and ORT
// looks for the CUDA provider there.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, relative, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { encodeZip } from '../../native-runtime/formats/zip.ts';
import {
  engineEnv,
  LAUNCH_MARKER,
  listPacks,
  ortPackage,
  packDir,
  packStatus,
  runtimesDir,
} from '../../native-runtime/runtime/cuda-pack.ts';
import { probeProvider } from '../../native-runtime/runtime/provider-probe.ts';
import { installCudaPack, removePack } from '../../native-runtime/runtime/runtime-install.ts';
import { jsonStream } from '../cli/json-stream.ts';
import { tempDir } from '../helpers/temp.ts';

const FAKE = fileURLToPath(new URL('../fixtures/cuda-pack/', import.meta.url));
const PROVIDER_DIR = join(FAKE, 'fake-provider');
const CUDA_DIR = join(FAKE, 'fake-cuda');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = tempDir('reft-pack-');
const VERSION = ortPackage().version;
// No real CUDA anywhere the search looks: only what a test puts there.
const cleanEnv = { PATH: process.env.PATH, HOME: tmp } as NodeJS.ProcessEnv;

function nupkg(version: string): Buffer {
  const file = (p: string) => new Uint8Array(readFileSync(p));
  return encodeZip([
    {
      name: 'Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec',
      data: new TextEncoder().encode(
        `<?xml version="1.0"?><package><metadata><id>Microsoft.ML.OnnxRuntime.Gpu.Linux</id><version>${version}</version></metadata></package>`,
      ),
    },
    { name: 'runtimes/linux-x64/native/libonnxruntime.so', data: new Uint8Array(16) },
    {
      name: 'runtimes/linux-x64/native/libonnxruntime_providers_shared.so',
      data: file(join(PROVIDER_DIR, 'libonnxruntime_providers_shared.so')),
    },
    {
      name: 'runtimes/linux-x64/native/libonnxruntime_providers_cuda.so',
      data: file(join(PROVIDER_DIR, 'libonnxruntime_providers_cuda.so')),
    },
    { name: 'runtimes/win-x64/native/libonnxruntime_providers_cuda.so', data: new Uint8Array(8) },
  ]);
}

test('install from a folder: providers found below it, CUDA needs read from the provider', async () => {
  const data = join(tmp, 'folder');
  const m = await installCudaPack(data, { from: FAKE });
  assert.equal(m.ortVersion, VERSION);
  assert.equal(m.source.kind, 'folder');
  assert.equal(m.cudaMajor, 12);
  assert.deepEqual(m.needs, ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcudnn.so.9']);
  const dir = packDir(data);
  assert.deepEqual(readdirSync(join(dir, 'ort')).sort(), [
    'libonnxruntime.so.1',
    'libonnxruntime_providers_cuda.so',
    'libonnxruntime_providers_shared.so',
  ]);
  // The folder's fixtures tree also holds fake CUDA libraries, but not beside the providers.
  assert.equal(existsSync(join(dir, 'lib')), false);
  const st = packStatus(data, 'cuda', cleanEnv);
  assert.ok(st);
  assert.equal(st.ready, false);
  assert.deepEqual(
    st.missing.map((x) => x.name),
    m.needs,
  );
  assert.match(
    st.missing.find((x) => x.name === 'libcudnn.so.9')?.hint ?? '',
    /cuDNN 9 for CUDA 12.*nvidia-cudnn-cu12/,
  );
  // Found once a folder on LD_LIBRARY_PATH holds them.
  const withCuda = packStatus(data, 'cuda', { ...cleanEnv, LD_LIBRARY_PATH: CUDA_DIR });
  assert.equal(withCuda?.ready, true);
  const f = m.files.find((x) => x.path === 'ort/libonnxruntime_providers_cuda.so');
  assert.equal(
    f?.sha256,
    createHash('sha256')
      .update(readFileSync(join(PROVIDER_DIR, 'libonnxruntime_providers_cuda.so')))
      .digest('hex'),
  );
});

test('a relative --from is recorded as the absolute path it names, to read from any folder', async () => {
  // Before: recorded as given, so `runtime list --json` run elsewhere named another folder.
  const m = await installCudaPack(join(tmp, 'relative'), { from: relative(process.cwd(), FAKE) });
  assert.equal(m.source.location, resolve(FAKE));
});

test('a folder with CUDA libraries beside the providers makes a self-contained pack', async () => {
  const src = join(tmp, 'bundle-src');
  mkdirSync(src);
  cpSync(PROVIDER_DIR, src, { recursive: true });
  cpSync(CUDA_DIR, src, { recursive: true });
  const data = join(tmp, 'bundle');
  await installCudaPack(data, { from: src });
  const st = packStatus(data, 'cuda', cleanEnv);
  assert.equal(st?.ready, true, JSON.stringify(st?.missing));
  assert.ok(st?.libraries.every((l) => l.source === 'pack'));
  const env = engineEnv(data, cleanEnv);
  assert.ok(env);
  assert.deepEqual(env.LD_LIBRARY_PATH?.split(':'), [join(packDir(data), 'ort'), join(packDir(data), 'lib')]);
  assert.equal(env[LAUNCH_MARKER], packDir(data));
  // A process already started with it is not started again.
  assert.equal(engineEnv(data, env), null);
});

test('install from a .nupkg: the Linux x64 providers; a package of another version is refused', async () => {
  const file = join(tmp, 'ort.nupkg');
  writeFileSync(file, nupkg(VERSION));
  const data = join(tmp, 'nupkg');
  const m = await installCudaPack(data, { from: file });
  assert.equal(m.source.kind, 'archive');
  const size = readFileSync(join(packDir(data), 'ort/libonnxruntime_providers_cuda.so')).length;
  assert.equal(size, readFileSync(join(PROVIDER_DIR, 'libonnxruntime_providers_cuda.so')).length);

  const other = join(tmp, 'old.nupkg');
  writeFileSync(other, nupkg('1.20.0'));
  await assert.rejects(installCudaPack(data, { from: other }), {
    code: 'version-mismatch',
    message: /is ONNX Runtime 1\.20\.0; the app runs/,
  });
  // The installed pack is untouched and no staging folder is left.
  assert.equal(packStatus(data, 'cuda', cleanEnv)?.manifest.installedAt, m.installedAt);
  assert.deepEqual(readdirSync(join(data, 'runtimes')), ['cuda']);
});

test('install from a .tgz, and clear errors for bad sources', async () => {
  const file = join(tmp, 'pkg.tgz');
  await tar.c({ gzip: true, file, cwd: FAKE }, ['fake-provider']);
  const data = join(tmp, 'tgz');
  await installCudaPack(data, { from: file });
  assert.ok(existsSync(join(packDir(data), 'ort/libonnxruntime_providers_shared.so')));

  // A multi-platform package, another platform's providers first: only Linux x64's are installed,
  // from a .tgz, a .nupkg/.zip or the unpacked folder alike. A release archive's VERSION_NUMBER is
  // checked as a .nuspec's version is.
  const multi = join(tmp, 'multi');
  const junkLib = join(multi, 'runtimes/win-x64/native/libonnxruntime_providers_cuda.so');
  for (const d of ['runtimes/win-x64/native', 'bin/napi-v6/darwin/arm64', 'runtimes/linux-x64/native'])
    cpSync(PROVIDER_DIR, join(multi, d), { recursive: true });
  writeFileSync(junkLib, 'not this platform');
  writeFileSync(join(multi, 'bin/napi-v6/darwin/arm64/libonnxruntime_providers_shared.so'), 'nor this');
  const order = ['runtimes/win-x64', 'bin', 'runtimes/linux-x64'];
  const multiTgz = join(tmp, 'multi.tgz');
  await tar.c({ gzip: true, file: multiTgz, cwd: multi }, order);
  const multiZip = join(tmp, 'multi.zip');
  writeFileSync(
    multiZip,
    encodeZip(
      order
        .flatMap((d) => readdirSync(join(multi, d), { recursive: true }).map((f) => `${d}/${f}`))
        .filter((f) => f.endsWith('.so'))
        .map((f) => ({ name: f, data: new Uint8Array(readFileSync(join(multi, f))) })),
    ),
  );
  for (const from of [multiTgz, multiZip, multi]) {
    const d = join(tmp, `multi-${from.split('.').pop()}`);
    await installCudaPack(d, { from });
    for (const f of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'])
      assert.deepEqual(readFileSync(join(packDir(d), 'ort', f)), readFileSync(join(PROVIDER_DIR, f)), from);
    assert.deepEqual(readdirSync(packDir(d)).sort(), ['manifest.json', 'ort']);
  }
  const winOnly = join(tmp, 'win-only');
  cpSync(PROVIDER_DIR, join(winOnly, 'runtimes/win-x64/native'), { recursive: true });
  await assert.rejects(installCudaPack(join(tmp, 'win-only-data'), { from: winOnly }), {
    code: 'pack-incomplete',
  });
  const release = join(tmp, 'onnxruntime-linux-x64-gpu-1.20.0');
  cpSync(PROVIDER_DIR, join(release, 'lib'), { recursive: true });
  writeFileSync(join(release, 'VERSION_NUMBER'), '1.20.0\n');
  const releaseTgz = join(tmp, 'release.tgz');
  await tar.c({ gzip: true, file: releaseTgz, cwd: tmp }, ['onnxruntime-linux-x64-gpu-1.20.0']);
  await assert.rejects(installCudaPack(data, { from: releaseTgz }), {
    code: 'version-mismatch',
    message: /release\.tgz is ONNX Runtime 1\.20\.0; the app runs/,
  });
  writeFileSync(join(release, 'VERSION_NUMBER'), `${VERSION}\n`);
  await tar.c({ gzip: true, file: releaseTgz, cwd: tmp }, ['onnxruntime-linux-x64-gpu-1.20.0']);
  assert.equal((await installCudaPack(data, { from: releaseTgz })).source.location, releaseTgz);

  const junk = join(tmp, 'junk.bin');
  writeFileSync(junk, 'not an archive');
  await assert.rejects(installCudaPack(data, { from: junk }), { code: 'unknown-archive' });
  // The provider library itself instead of its folder.
  const lib = join(PROVIDER_DIR, 'libonnxruntime_providers_cuda.so');
  await assert.rejects(installCudaPack(data, { from: lib }), {
    message: `runtime install: ${lib} is a library, not a package: pass the folder holding it and libonnxruntime_providers_shared.so with --from`,
  });
  // In the words every command uses for a path that is not there (fs-errors.ts), not "does not exist".
  await assert.rejects(installCudaPack(data, { from: join(tmp, 'missing') }), {
    code: 'not-found',
    message: `runtime install: ${join(tmp, 'missing')}: no such file or folder`,
  });
  await assert.rejects(installCudaPack(data, { from: CUDA_DIR }), { code: 'pack-incomplete' });
  // Providers that are no Linux x64 library: said of the source, not of a temp copy.
  const wrongArch = join(tmp, 'wrong-arch');
  cpSync(PROVIDER_DIR, wrongArch, { recursive: true });
  const cudaLib = join(wrongArch, 'libonnxruntime_providers_cuda.so');
  const elf = readFileSync(cudaLib);
  elf.writeUInt16LE(183, 0x12); // EM_AARCH64
  writeFileSync(cudaLib, elf);
  await assert.rejects(installCudaPack(data, { from: wrongArch }), {
    code: 'bad-provider',
    message: `runtime install: the libonnxruntime_providers_cuda.so in ${wrongArch} is built for arm64 (ELF machine 183), not x64; the pack needs ONNX Runtime's Linux x64 GPU build`,
  });
  elf.writeUInt16LE(62, 0x12);
  writeFileSync(cudaLib, elf.subarray(0, 100));
  await assert.rejects(installCudaPack(data, { from: wrongArch }), {
    code: 'bad-provider',
    message: `runtime install: the libonnxruntime_providers_cuda.so in ${wrongArch} cannot be read (truncated ELF file)`,
  });
  writeFileSync(cudaLib, 'MZ a Windows DLL');
  await assert.rejects(installCudaPack(data, { from: wrongArch }), {
    message: /the libonnxruntime_providers_cuda\.so in .* is not an ELF library;/,
  });
  assert.deepEqual(readdirSync(runtimesDir(data)), ['cuda']);
  // A data folder the pack cannot be written into: one line naming the file in the way (the data
  // folder's path runs through it), not Node's errno text.
  const notDir = join(tmp, 'a-file');
  writeFileSync(notDir, '');
  await assert.rejects(installCudaPack(join(notDir, 'data'), { from: file }), {
    code: 'not-a-folder',
    message: `runtime install: ${notDir}: not a folder`,
  });
  // A file where the runtimes folder goes: said so, not "already exists".
  const fileThere = join(tmp, 'file-there');
  mkdirSync(fileThere);
  writeFileSync(join(fileThere, 'runtimes'), '');
  await assert.rejects(installCudaPack(fileThere, { from: file }), {
    message: `runtime install: ${join(fileThere, 'runtimes')}: not a folder`,
  });
});

test('a truncated .tgz is said as unreadable, its own error, with nothing left in the runtimes folder', async () => {
  // Bug: an archive cut short in its last bytes (its files unpacked, the gzip end missing) was
  // reported as "…/.cuda.TAG.tmp/.tgz: the folder is not empty": tar was still writing the files it
  // had begun when the cleanup removed the temporary folder, whose failure replaced the archive's
  // error and left that folder behind.
  const whole = join(tmp, 'whole.tgz');
  await tar.c({ gzip: true, file: whole, cwd: FAKE }, ['fake-provider', 'fake-cuda']);
  const bytes = readFileSync(whole);
  const data = join(tmp, 'truncated-tgz');
  const first = await installCudaPack(data, { from: PROVIDER_DIR });
  for (const cut of [30, Math.floor(bytes.length / 2)]) {
    const file = join(tmp, `truncated-${cut}.tgz`);
    writeFileSync(file, bytes.subarray(0, bytes.length - cut));
    await assert.rejects(installCudaPack(data, { from: file }), {
      code: 'bad-archive',
      message: `runtime install: cannot read ${file} (zlib: unexpected end of file)`,
    });
    assert.deepEqual(readdirSync(runtimesDir(data)), ['cuda'], `cut ${cut}`);
    assert.equal(packStatus(data, 'cuda', cleanEnv)?.manifest.installedAt, first.installedAt);
  }
});

// Permissions hold only for a user other than root: as root the CLI runs as the user nobody.
const nobodyIds = (() => {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' });
  const [u, g] = [id('-u'), id('-g')];
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout), gid: Number(g.stdout) } : null;
})();

test('a previous pack that cannot be deleted: the new one is installed and said so, with a warning', {
  skip: process.getuid?.() === 0 && !nobodyIds ? 'root, and no user nobody to run as' : false,
}, () => {
  // Bug: the swap put the new pack in place, then deleting the old one (a folder the user cannot
  // write) failed, and the command ended in "error: …/.cuda.TAG.old/ort: permission denied" with
  // exit code 1 while the new pack was installed and in use.
  const root = tempDir('reft-pack-ro-');
  const data = join(root, 'data');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/reft-studio.js'), '--data-dir', data, ...args], {
      encoding: 'utf8',
      timeout: 120_000,
      ...(nobodyIds ?? {}),
    });
  const own = (dir: string) => {
    if (!nobodyIds) return;
    chownSync(dir, nobodyIds.uid, nobodyIds.gid);
    for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
      chownSync(join(e.parentPath, e.name), nobodyIds.uid, nobodyIds.gid);
  };
  chmodSync(root, 0o755);
  mkdirSync(data);
  own(data);
  assert.equal(run('runtime', 'install', 'cuda', '--from', FAKE).status, 0);
  const first = packStatus(data, 'cuda', cleanEnv)?.manifest.installedAt;
  for (const d of ['', 'ort']) chmodSync(join(packDir(data), d), 0o555);
  const r = run('runtime', 'install', 'cuda', '--from', FAKE);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^installed the CUDA pack/m);
  const aside = readdirSync(runtimesDir(data)).find((n) => n.endsWith('.old'));
  assert.ok(
    aside,
    `no .old folder in ${readdirSync(runtimesDir(data), { withFileTypes: true }).map((e) => e.name)}\n${r.stderr}`,
  );
  assert.match(
    r.stderr,
    new RegExp(
      `the previous pack could not be deleted \\(.*permission denied\\): delete ${join(runtimesDir(data), aside)} to free its space`,
    ),
  );
  // The new pack is the one in place (not ready here only for want of CUDA's own libraries).
  assert.notEqual(packStatus(data, 'cuda', cleanEnv)?.manifest.installedAt, first);
  for (const d of ['', 'ort']) chmodSync(join(runtimesDir(data), aside, d), 0o755);
});

test('an unpacked package of another version is refused as its archive is', async () => {
  // Bug: the .nupkg was refused, the same package unpacked into a folder was installed (and recorded
  // as the app's ONNX Runtime version).
  const nugetFolder = join(tmp, 'unpacked-nupkg');
  cpSync(PROVIDER_DIR, join(nugetFolder, 'runtimes/linux-x64/native'), { recursive: true });
  const nuspec = (v: string) =>
    `<?xml version="1.0"?><package><metadata><id>Microsoft.ML.OnnxRuntime.Gpu.Linux</id><version>${v}</version></metadata></package>`;
  writeFileSync(join(nugetFolder, 'Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec'), nuspec('1.20.0'));
  const release = join(tmp, 'onnxruntime-linux-x64-gpu-1.21.0');
  cpSync(PROVIDER_DIR, join(release, 'lib'), { recursive: true });
  writeFileSync(join(release, 'VERSION_NUMBER'), '1.21.0\n');
  const data = join(tmp, 'unpacked-data');
  for (const [from, stated] of [
    [nugetFolder, '1.20.0'],
    [release, '1.21.0'],
  ])
    await assert.rejects(installCudaPack(data, { from }), {
      code: 'version-mismatch',
      message: `runtime install: ${basename(from)} is ONNX Runtime ${stated}; the app runs ${VERSION} and needs the same version`,
    });
  // Refused: not even an empty runtimes folder is left behind.
  assert.equal(existsSync(runtimesDir(data)), false);
  writeFileSync(join(nugetFolder, 'Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec'), nuspec(VERSION));
  assert.equal((await installCudaPack(data, { from: nugetFolder })).source.kind, 'folder');
});

test('runtime list and remove', async () => {
  const data = join(tmp, 'remove');
  await installCudaPack(data, { from: PROVIDER_DIR });
  assert.deepEqual(
    listPacks(data, cleanEnv).map((p) => p.name),
    ['cuda'],
  );
  assert.equal(await removePack(data, 'cuda'), true);
  assert.equal(await removePack(data, 'cuda'), false);
  assert.deepEqual(listPacks(data, cleanEnv), []);
  // A manifest edited by hand into something else: no pack (the CLI's devices and runtime list
  // crashed on it), and it can still be removed.
  await installCudaPack(data, { from: PROVIDER_DIR });
  const manifest = join(packDir(data), 'manifest.json');
  const good = JSON.parse(readFileSync(manifest, 'utf8'));
  for (const broken of [{}, { ...good, needs: undefined }, { ...good, files: 'x' }, [], null]) {
    writeFileSync(manifest, JSON.stringify(broken));
    assert.deepEqual(listPacks(data, cleanEnv), [], JSON.stringify(broken));
    assert.equal(engineEnv(data, cleanEnv), null);
  }
  assert.equal(await removePack(data, 'cuda'), true);
  for (const bad of ['../x', '..', '.', '.lock', ''])
    await assert.rejects(removePack(data, bad), { code: 'bad-name' }, bad);
  // `..` is the data folder itself: it is never taken for a pack, whatever it holds.
  writeFileSync(join(data, 'manifest.json'), '{}');
  await assert.rejects(removePack(data, '..'), { code: 'bad-name' });
  assert.ok(existsSync(join(data, 'manifest.json')));
});

test('a cancelled or killed install loses nothing: a pack moved aside is put back, leftovers are swept', async () => {
  const data = join(tmp, 'killed');
  const first = await installCudaPack(data, { from: PROVIDER_DIR });
  // Cancel while copying: the previous pack stays, and nothing is left beside it.
  const ac = new AbortController();
  let staging = '';
  await assert.rejects(
    installCudaPack(data, {
      from: PROVIDER_DIR,
      signal: ac.signal,
      onProgress: () => {
        staging ||= readdirSync(runtimesDir(data)).find((n) => n.startsWith('.')) ?? '';
        ac.abort();
      },
    }),
    { code: 'cancelled' },
  );
  assert.match(staging, /^\.cuda\.[0-9a-f]{12}\.tmp$/);
  assert.equal(packStatus(data, 'cuda', cleanEnv)?.manifest.installedAt, first.installedAt);
  assert.deepEqual(readdirSync(runtimesDir(data)), ['cuda']);
  // Killed between the swap's two renames (the pack moved aside), and another killed mid-copy.
  const hour = new Date(Date.now() - 3600_000);
  const aside = join(runtimesDir(data), staging.replace(/\.tmp$/, '.old'));
  renameSync(packDir(data), aside);
  utimesSync(aside, hour, hour);
  const leftover = join(runtimesDir(data), '.cuda.0123456789ab.tmp');
  mkdirSync(join(leftover, 'ort'), { recursive: true });
  utimesSync(leftover, hour, hour);
  assert.ok(engineEnv(data, cleanEnv), 'the pack is found again');
  assert.deepEqual(
    listPacks(data, cleanEnv).map((p) => p.manifest.installedAt),
    [first.installedAt],
  );
  assert.deepEqual(readdirSync(runtimesDir(data)), ['cuda']);
  // An install killed a moment ago (its lock names a dead process): the next one takes the lock over
  // and deletes what it left at once, not ten minutes later.
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(join(runtimesDir(data), '.lock'), `${dead}\nan install of the CUDA pack\n`);
  const fresh = join(runtimesDir(data), '.cuda.ba5eba11f00d.tmp');
  mkdirSync(join(fresh, 'lib'), { recursive: true });
  writeFileSync(join(fresh, 'lib/libcublasLt.so.12'), Buffer.alloc(4096));
  await installCudaPack(data, { from: PROVIDER_DIR });
  assert.deepEqual(readdirSync(runtimesDir(data)), ['cuda']);
});

test('Cancel stops unpacking or copying at once, from a .tgz, a .zip or a folder', async () => {
  // Bug: Cancel was looked at only after the whole archive or folder was unpacked (an offline bundle
  // of CUDA libraries takes minutes), so the page kept saying "Unpacking" long after Cancel.
  const src = join(tmp, 'cancel-src');
  cpSync(PROVIDER_DIR, src, { recursive: true });
  for (const lib of ['libcublas.so.12', 'libcublasLt.so.12', 'libcudart.so.12'])
    writeFileSync(join(src, lib), randomBytes(1 << 21));
  const tgz = join(tmp, 'cancel.tgz');
  await tar.c({ gzip: true, file: tgz, cwd: tmp }, ['cancel-src']);
  const zip = join(tmp, 'cancel.zip');
  writeFileSync(
    zip,
    encodeZip(
      readdirSync(src)
        .sort()
        .map((f) => ({ name: `native/${f}`, data: new Uint8Array(readFileSync(join(src, f))) })),
    ),
  );
  for (const from of [tgz, zip, src]) {
    const data = join(tmp, `cancel-${from.split(/[./]/).pop()}`);
    const ac = new AbortController();
    let after = 0;
    await assert.rejects(
      installCudaPack(data, {
        from,
        signal: ac.signal,
        onProgress: () => {
          if (ac.signal.aborted) after++;
          ac.abort();
        },
      }),
      { code: 'cancelled' },
      from,
    );
    assert.ok(after <= 1, `${from}: ${after} progress reports after Cancel`);
    assert.equal(existsSync(runtimesDir(data)), false, `${from}: nothing left behind`);
  }
});

test('a write that fails while a .tgz is unpacked is said as such, not as a broken provider', () => {
  // Bug: tar only warns about an entry it cannot write (a full disk) and went on; the truncated
  // providers were then refused as "not an ELF library". A file-size limit fails the write the same
  // way (EFBIG) without filling a disk.
  const src = join(tmp, 'fsize', 'pkg');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'libcublasLt.so.12'), randomBytes(4 << 20));
  cpSync(PROVIDER_DIR, src, { recursive: true });
  const tgz = join(tmp, 'fsize.tgz');
  tar.c({ gzip: true, file: tgz, cwd: join(tmp, 'fsize'), sync: true }, ['pkg']);
  const data = join(tmp, 'fsize-data');
  const r = spawnSync(
    '/bin/sh',
    [
      '-c',
      `ulimit -f 2048; exec "$0" "$@"`,
      process.execPath,
      join(ROOT, 'bin/reft-studio.js'),
      'runtime',
      'install',
      'cuda',
      '--from',
      tgz,
      '--data-dir',
      data,
      '--quiet',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr,
    `error: runtime install: cannot write the pack into ${runtimesDir(data)} while unpacking ${tgz} (a file is larger than the disk or a limit allows)\n`,
  );
  // Nothing left behind, not even the runtimes folder the install made.
  assert.equal(existsSync(runtimesDir(data)), false);
});

test('installs and removals take turns: the second is refused in one line naming the first', async () => {
  const data = join(tmp, 'turns');
  await installCudaPack(data, { from: PROVIDER_DIR });
  // Others started while one runs, in one process (the studio's Settings page): refused.
  let others: Promise<unknown>[] = [];
  await installCudaPack(data, {
    from: FAKE,
    onProgress: () => {
      if (others.length === 0)
        others = [installCudaPack(data, { from: PROVIDER_DIR }), removePack(data, 'cuda')].map((p) =>
          p.then(
            () => assert.fail('not refused'),
            (e) => e,
          ),
        );
    },
  });
  const refused = await Promise.all(others);
  assert.equal(refused.length, 2);
  for (const e of refused as { code: string; message: string }[]) {
    assert.equal(e.code, 'busy');
    assert.match(
      e.message,
      new RegExp(
        `^runtime (install|remove): an install of the CUDA pack is already running \\(process ${process.pid}\\); try again when it has finished$`,
      ),
    );
  }
  assert.equal(packStatus(data, 'cuda', cleanEnv)?.manifest.source.location, resolve(FAKE));
  assert.deepEqual(readdirSync(runtimesDir(data)), ['cuda']);
  // Another process installing (here one that only holds the lock): the CLI says who, in one line,
  // and the sweep of every process looking for packs leaves that install's folders alone, even a
  // pack it has moved aside (which keeps its old mtime).
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  try {
    writeFileSync(join(runtimesDir(data), '.lock'), `${other.pid}\nan install of the CUDA pack\n`);
    const aside = join(runtimesDir(data), '.cuda.0123456789ab.old');
    renameSync(packDir(data), aside);
    const hour = new Date(Date.now() - 3600_000);
    utimesSync(aside, hour, hour);
    assert.equal(engineEnv(data, cleanEnv), null);
    assert.deepEqual(readdirSync(runtimesDir(data)).sort(), ['.cuda.0123456789ab.old', '.lock']);
    renameSync(aside, packDir(data));
    for (const args of [
      ['install', 'cuda', '--from', FAKE],
      ['remove', 'cuda'],
    ]) {
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'bin/reft-studio.js'), 'runtime', ...args, '--data-dir', data],
        { encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        r.stderr,
        `error: runtime ${args[0]}: an install of the CUDA pack is already running (process ${other.pid}); try again when it has finished\n`,
      );
    }
  } finally {
    other.kill();
  }
  // Its process gone, the lock is taken over.
  await new Promise((r) => other.once('exit', r));
  assert.equal(await removePack(data, 'cuda'), true);
  assert.deepEqual(readdirSync(runtimesDir(data)), []);
});

// --- online, from a local NuGet server --------------------------------------------------------

let server: Server;
let base = '';
const pkg = nupkg(VERSION);
const state = {
  dropFirst: false,
  ranges: [] as string[],
  hash: '',
  size: pkg.length as number | undefined,
  hits: 0,
  /** How a range request is answered: as asked, or wrongly (see the range test). */
  rangeReply: 'asked' as 'asked' | 'shifted' | 'other-total' | 'no-header' | 'whole',
  /** Sends half the package and then nothing more (a download to cancel). */
  stall: false,
};

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    const id = 'microsoft.ml.onnxruntime.gpu.linux';
    if (url === `/reg/${id}/${VERSION}.json`) {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          catalogEntry: `${base}/catalog/${id}.${VERSION}.json`,
          packageContent: `${base}/flat/${id}.nupkg`,
        }),
      );
    } else if (url === `/catalog/${id}.${VERSION}.json`) {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ packageHash: state.hash, packageHashAlgorithm: 'SHA512', packageSize: state.size }),
      );
    } else if (url === `/flat/${id}.nupkg`) {
      state.hits++;
      const range = req.headers.range;
      if (range) state.ranges.push(range);
      let start = range ? Number(/bytes=(\d+)-/.exec(range)?.[1]) : 0;
      if (start >= pkg.length) {
        res.writeHead(416, { 'content-range': `bytes */${pkg.length}` });
        res.end();
        return;
      }
      const reply = range ? state.rangeReply : 'whole';
      if (reply === 'whole') start = 0;
      if (reply === 'shifted') start -= 100;
      const headers: Record<string, string | number> = { 'content-length': pkg.length - start };
      const total = reply === 'other-total' ? pkg.length + 1 : pkg.length;
      if (reply !== 'whole' && reply !== 'no-header')
        headers['content-range'] = `bytes ${start}-${pkg.length - 1}/${total}`;
      res.writeHead(reply === 'whole' ? 200 : 206, headers);
      if (state.stall) {
        res.write(pkg.subarray(start, start + Math.floor((pkg.length - start) / 2)));
        return;
      }
      if (state.dropFirst) {
        state.dropFirst = false;
        // Half the file, then (once the client has had time to store it) the connection dies.
        res.write(pkg.subarray(start, start + Math.floor((pkg.length - start) / 2)), () =>
          setTimeout(() => res.destroy(), 300),
        );
        return;
      }
      res.end(pkg.subarray(start));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('base64');

test('online: a dropped download resumes with a Range request and installs after the checksum', async () => {
  const data = join(tmp, 'online');
  state.hash = sha512(pkg);
  state.dropFirst = true;
  state.ranges = [];
  await assert.rejects(installCudaPack(data, { source: `${base}/reg/` }), { code: 'interrupted' });
  const part = join(data, `runtimes/downloads/microsoft.ml.onnxruntime.gpu.linux.${VERSION}.nupkg.part`);
  const kept = readFileSync(part).length;
  assert.ok(kept > 0 && kept < pkg.length, `partial file kept (${kept} bytes)`);
  assert.equal(existsSync(packDir(data)), false);
  const phases = new Set<string>();
  // No staging folder while downloading: one older than the sweep's 10 minutes (a slow download)
  // would be deleted by any other process listing packs.
  const stagingDuringDownload: string[] = [];
  const m = await installCudaPack(data, {
    source: `${base}/reg/`,
    onProgress: (p) => {
      phases.add(p.phase);
      if (p.phase === 'download')
        stagingDuringDownload.push(...readdirSync(join(data, 'runtimes')).filter((n) => n.endsWith('.tmp')));
    },
  });
  assert.deepEqual(stagingDuringDownload, []);
  assert.deepEqual(state.ranges, [`bytes=${kept}-`]);
  assert.equal(m.source.kind, 'nuget');
  assert.equal(m.source.sha512, state.hash);
  assert.ok(phases.has('download') && phases.has('extract') && phases.has('verify'));
  // The downloaded archive is not kept once the pack is in place.
  assert.deepEqual(readdirSync(join(data, 'runtimes/downloads')), []);
});

test('online: a resumed download checks the reply: another range is refused, a whole file restarts', async () => {
  state.hash = sha512(pkg);
  const partIn = (data: string) =>
    join(data, `runtimes/downloads/microsoft.ml.onnxruntime.gpu.linux.${VERSION}.nupkg.part`);
  const interrupted = (name: string, bytes: Buffer) => {
    const data = join(tmp, `range-${name}`);
    mkdirSync(join(data, 'runtimes/downloads'), { recursive: true });
    writeFileSync(partIn(data), bytes);
    return data;
  };
  const half = pkg.subarray(0, 1000);
  // 206 with a range that does not start where the part ends, of another file, or unstated.
  for (const reply of ['shifted', 'other-total', 'no-header'] as const) {
    const data = interrupted(reply, half);
    state.rangeReply = reply;
    await assert.rejects(installCudaPack(data, { source: `${base}/reg/` }), {
      code: 'bad-range',
      message: new RegExp(
        `^127\\.0\\.0\\.1:\\d+ answered the resumed download of Microsoft\\.ML\\.OnnxRuntime\\.Gpu\\.Linux ${VERSION} with (bytes \\d+-\\d+/\\d+|no Content-Range) instead of bytes 1000-${pkg.length - 1}/${pkg.length}; the partial file was deleted, run the command again to download it from the start$`,
      ),
    });
    assert.equal(existsSync(partIn(data)), false, reply);
    // The next run starts from zero.
    state.rangeReply = 'asked';
    state.ranges = [];
    await installCudaPack(data, { source: `${base}/reg/` });
    assert.deepEqual(state.ranges, []);
  }
  // 200 with the whole file: written from the start, not appended.
  state.rangeReply = 'whole';
  const whole = interrupted('whole', half);
  await installCudaPack(whole, { source: `${base}/reg/` });
  state.rangeReply = 'asked';
  // A part as long as the package, its size unknown to the catalog: the server has nothing after it
  // (416), so the part's checksum decides, instead of refusing with HTTP 416 on every run.
  state.size = undefined;
  try {
    const complete = interrupted('complete', pkg);
    const hits = state.hits;
    await installCudaPack(complete, { source: `${base}/reg/` });
    assert.equal(state.hits, hits + 1);
    // The same with a part longer than the file: started again from zero.
    const longer = interrupted('longer', Buffer.concat([pkg, Buffer.from('more')]));
    state.ranges = [];
    await installCudaPack(longer, { source: `${base}/reg/` });
    assert.deepEqual(state.ranges, [`bytes=${pkg.length + 4}-`]);
  } finally {
    state.size = pkg.length;
  }
});

test('online: a checksum mismatch deletes the file and installs nothing; too little disk space refuses', async () => {
  const data = join(tmp, 'badsum');
  state.hash = sha512(Buffer.from('something else'));
  await assert.rejects(installCudaPack(data, { source: `${base}/reg/` }), { code: 'checksum-mismatch' });
  assert.equal(existsSync(packDir(data)), false);
  // Nothing to resume: neither the downloads folder nor the runtimes folder the install made stays.
  assert.equal(existsSync(runtimesDir(data)), false);

  state.hash = sha512(pkg);
  state.size = 2 ** 52; // the catalog says the package is 4 PB
  const hits = state.hits;
  await assert.rejects(installCudaPack(join(tmp, 'full'), { source: `${base}/reg/` }), {
    code: 'disk-full',
    message: /not enough disk space/,
  });
  assert.equal(state.hits, hits, 'nothing downloaded');
  assert.equal(existsSync(runtimesDir(join(tmp, 'full'))), false, 'refused for space: no empty folder left');
  state.size = pkg.length;
  await assert.rejects(installCudaPack(join(tmp, 'nf'), { source: `${base}/nothing/` }), {
    code: 'not-found',
  });
  // Not a URL, or an empty --from (not a request to download): one line, nothing fetched.
  for (const source of ['', 'notaurl', 'ftp://example.org/reg/'])
    await assert.rejects(installCudaPack(join(tmp, 'nf'), { source }), {
      code: 'bad-source',
      message: `the NuGet source "${source}" (--source or REFT_STUDIO_NUGET_SOURCE) is not an http(s) URL of a NuGet v3 registration`,
    });
  await assert.rejects(installCudaPack(join(tmp, 'nf'), { from: '', source: `${base}/reg/` }), {
    message: 'runtime install: --from needs a file or folder',
  });
  assert.equal(state.hits, hits, 'nothing downloaded');
});

test("online: Ctrl-C cancels the CLI's install and leaves the partial download, nothing else", async () => {
  const data = join(tmp, 'ctrl-c');
  state.hash = sha512(pkg);
  state.stall = true;
  const cli = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/reft-studio.js'),
      'runtime',
      'install',
      'cuda',
      '--source',
      `${base}/reg/`,
      '--data-dir',
      data,
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  cli.stderr.on('data', (d) => {
    err += d;
  });
  cli.stdout.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => cli.on('close', (code) => r(code)));
  // Its progress events are on stderr: stopped once the download is seen moving.
  await new Promise<void>((resolve) =>
    cli.stderr.on('data', () => {
      if (/"label":"download"/.test(err)) resolve();
    }),
  );
  cli.kill('SIGINT');
  const code = await exited;
  state.stall = false;
  assert.equal(code, 130, err);
  assert.deepEqual(jsonStream(out, err).result, { status: 'cancelled' });
  // No lock, no staging folder; the partial download is kept to resume.
  assert.deepEqual(readdirSync(runtimesDir(data)), ['downloads']);
  assert.deepEqual(readdirSync(join(runtimesDir(data), 'downloads')), [
    `microsoft.ml.onnxruntime.gpu.linux.${VERSION}.nupkg.part`,
  ]);
});

// --- the loader path ------------------------------------------------------------------------

test('a process started with engineEnv runs ONNX Runtime from the pack, and ORT loads the provider there', async () => {
  const data = join(tmp, 'loader');
  const src = join(tmp, 'loader-src');
  mkdirSync(src);
  cpSync(PROVIDER_DIR, src, { recursive: true });
  cpSync(CUDA_DIR, src, { recursive: true });
  await installCudaPack(data, { from: src });
  const env = engineEnv(data, process.env);
  assert.ok(env);
  // Which libonnxruntime.so.1 a child process maps once onnxruntime-node is loaded.
  const code = `require(${JSON.stringify(join(ROOT, 'node_modules/onnxruntime-node'))}); const m = require('fs').readFileSync('/proc/self/maps','utf8'); console.log(/\\s(\\/\\S*libonnxruntime\\.so\\.1)$/m.exec(m)[1]);`;
  const r = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8' });
  assert.equal(r.stdout.trim(), join(packDir(data), 'ort/libonnxruntime.so.1'), r.stderr);
  // ORT then opens the pack's provider library (the fake one lacks ORT's entry point: it says so by path).
  const p = await probeProvider('cuda', { env });
  assert.equal(p.ok, false);
  assert.match(
    p.reason ?? '',
    new RegExp(`${packDir(data)}/ort/libonnxruntime_providers_shared\\.so: undefined symbol`),
  );
  // Without the pack environment, ORT finds no CUDA provider at all.
  const bare = await probeProvider('cuda', { env: cleanEnv });
  assert.equal(
    bare.reason,
    'cuda: the CUDA provider libraries are not installed (run `reft-studio runtime install cuda`)',
  );
});

test('the CLI installs, lists and removes, and restarts itself under the pack environment', () => {
  const data = join(tmp, 'cli');
  const cliIn = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/reft-studio.js'), ...args, '--data-dir', data, '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
      env,
    });
  const cli = (...args: string[]) => cliIn(process.env, ...args);
  const i = cli('runtime', 'install', 'cuda', '--from', FAKE);
  assert.equal(i.status, 0, i.stderr);
  // runtime install --json: the result is stdout's one object, the progress events are on stderr.
  const { result: installed, events } = jsonStream(i.stdout, i.stderr);
  assert.equal(installed.installed.cudaMajor, 12);
  assert.ok(events.some((e) => e.event === 'progress' && e.kind === 'transfer' && e.label === 'verify'));
  const d = cli('devices');
  assert.equal(d.status, 0, d.stderr);
  // The launcher started the CLI again with the pack's library path: ORT was loaded from the pack.
  assert.equal(JSON.parse(d.stdout).ortLibrary, join(packDir(data), 'ort/libonnxruntime.so.1'));
  // A pack whose CUDA does not start (the fake providers): generation asked for CUDA still runs, on
  // the CPU, through the session built for CUDA (the in-graph decoding loop: decodeLoopPays), with
  // the tokens a plain CPU session gives.
  const model = join(ROOT, 'tests/fixtures/golden/models/llama');
  const gen = (device: string, env = process.env) =>
    cliIn(
      env,
      'generate',
      '--model',
      model,
      '--prompt',
      'hello',
      '--greedy',
      '--max-new-tokens',
      '12',
      '--device',
      device,
    );
  const onCuda = gen('cuda');
  assert.equal(onCuda.status, 0, onCuda.stderr);
  assert.match(onCuda.stdout + onCuda.stderr, /device 'cuda' unavailable/);
  const onCpu = gen('cpu');
  assert.equal(onCpu.status, 0, onCpu.stderr);
  const result = (out: string) => JSON.parse(out.trim().split('\n').pop() ?? '{}');
  assert.deepEqual(result(onCuda.stdout).tokens, result(onCpu.stdout).tokens);
  assert.equal(result(onCpu.stdout).tokens.length, 12);
  // The CUDA-built session decodes in the graph (8 tokens a run once it fell back to the CPU).
  assert.deepEqual([result(onCuda.stdout).device, result(onCuda.stdout).tokensPerRun], ['cpu', 8]);
  assert.equal(result(onCpu.stdout).tokensPerRun, 1);
  // A GPU chosen in Settings that this machine cannot have: CUDA is not tried, and the session is
  // the CPU's own (no decoding loop), with the reason on the console.
  const badGpu = gen('cuda', { ...process.env, REFT_STUDIO_GPU: 'first' });
  assert.equal(badGpu.status, 0, badGpu.stderr);
  assert.match(badGpu.stdout + badGpu.stderr, /REFT_STUDIO_GPU/);
  assert.deepEqual([result(badGpu.stdout).device, result(badGpu.stdout).tokensPerRun], ['cpu', 1]);
  assert.deepEqual(result(badGpu.stdout).tokens, result(onCpu.stdout).tokens);
  // Automatic base weights on a GPU too small for the checkpoint's bf16 weights: 8-bit codes (the
  // GPU's memory from nvidia-smi: here a stand-in on PATH reporting half a MiB, the fixture's bf16
  // weights are 509 KB). Said in the log; the run goes on (on the CPU, as CUDA does not start).
  const bf16 = join(ROOT, 'tests/fixtures/golden/models/llama-bf16');
  // The environment of a CLI run with a stand-in nvidia-smi on PATH answering `gpuLine`.
  const withSmi = (name: string, gpuLine: string) => {
    const dir = join(tmp, `smi-${name}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'nvidia-smi'),
      `#!/bin/sh\ncase "$1" in\n  --query-gpu*) echo "${gpuLine}";;\n  *) echo "CUDA Version: 13.0";;\nesac\n`,
      { mode: 0o755 },
    );
    return { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  };
  // `generate` of the bf16 fixture on CUDA in that environment.
  const generateBf16With = (env: NodeJS.ProcessEnv, tokens: number) =>
    cliIn(
      env,
      'generate',
      '--model',
      bf16,
      '--prompt',
      'hello',
      '--greedy',
      '--max-new-tokens',
      String(tokens),
      '--device',
      'cuda',
    );
  const tiny = generateBf16With(withSmi('tiny', '0, Tiny GPU, 0.5, 580.95.05'), 4);
  assert.equal(tiny.status, 0, tiny.stderr);
  assert.match(
    tiny.stderr,
    /base weights: int8 \(automatic\): in bfloat16 they would take 509 KB of this GPU's 524 KB/,
  );
  // The codes compute in the checkpoint's bf16 on CUDA (MatMulNBits has bf16 kernels there); the CPU
  // this run falls back to has none, so it computes in float32 there.
  assert.match(tiny.stderr, /computing in bfloat16/);
  assert.equal(result(tiny.stdout).tokens.length, 4);
  // The graph was built with the decoding loop for CUDA; on the CPU a loop over quantized codes runs
  // unpacked kernels (decodeLoopFits: ~36× slower per token), so the fallen-back session is rebuilt
  // without it.
  assert.deepEqual([result(tiny.stdout).device, result(tiny.stdout).tokensPerRun], ['cpu', 1]);
  // A GPU before Ampere (a T4: compute capability 7.5) has no bfloat16 kernels: the bf16 checkpoint
  // computes in float32 there, and the log says why.
  const t4Env = withSmi('t4', '0, Tesla T4, 15360, 580.95.05, 7.5');
  const t4 = generateBf16With(t4Env, 2);
  assert.equal(t4.status, 0, t4.stderr);
  assert.match(
    t4.stderr,
    /computing in float32: this GPU \(compute capability 7\.5\) has no bfloat16 kernels/,
  );
  assert.doesNotMatch(t4.stderr, /computing in bfloat16/);
  // models inspect says the same of that GPU.
  const inspect = cliIn(t4Env, 'models', 'inspect', bf16);
  assert.equal(inspect.status, 0, inspect.stderr);
  const gpuRow = JSON.parse(inspect.stdout).autoWeights.find((a: { device: string }) => a.device === 'cuda');
  assert.deepEqual([gpuRow.form, gpuRow.dtype], ['none', 'float32']);
  const l = cli('runtime', 'list');
  assert.deepEqual(
    JSON.parse(l.stdout).packs.map((p: { name: string }) => p.name),
    ['cuda'],
  );
  assert.equal(cli('runtime', 'remove', 'cuda').status, 0);
  const again = cli('runtime', 'remove', 'cuda');
  assert.notEqual(again.status, 0);
  assert.match(JSON.parse(again.stdout).error.message, /no runtime pack "cuda" is installed/);
  assert.equal(cli('runtime', 'install', 'tensorrt').status, 2);
});
