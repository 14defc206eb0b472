// Uploaded .zip files with bad or hostile contents, through the backend's RPC as the window sends
// them (in-process host, real engine 'files' process that unpacks, real files): each is refused in
// one line naming the zip, before or while inflating, and leaves nothing in the upload. Also the
// upload's own races: a finish sent twice, a discard while the zip is unpacking.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { strToU8, type Zippable, zipSync } from 'fflate';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, tempDir } from './helpers.ts';

const root = tempDir('upload-zips');
const dataDir = join(root, 'data');
let b: Backend;
const { call, callError } = inProcess(() => b);

before(() => {
  b = createBackend(dataDir, { seedDemo: false, watchHubCache: false });
});
after(() => b.close());

/** Begins an upload of one file and sends all its bytes; returns the id (not finished yet). */
async function send(name: string, bytes: Uint8Array, kind = 'adapter'): Promise<string> {
  const { uploadId } = await call('files/upload-begin', {
    kind,
    files: [{ path: name, size: bytes.length }],
  });
  for (let off = 0; off < bytes.length; off += 4 << 20) {
    const data = Buffer.from(bytes.subarray(off, off + (4 << 20))).toString('base64');
    await call('files/upload-chunk', { uploadId, path: name, offset: off, data });
  }
  return uploadId;
}

/** What finishing an upload of `zip` answers: the files, or the refusal's code and message. */
async function finishZip(zip: Uint8Array): Promise<{ uploadId: string; code?: string; message?: string }> {
  const uploadId = await send('upload.zip', zip);
  const r = await b.handle({ type: 'request', id: 0, method: 'files/upload-finish', params: { uploadId } });
  if (r.type === 'reply') return { uploadId };
  return { uploadId, code: r.error.code, message: r.error.message };
}

/** The files an upload's staging folder holds (the zip itself, or what was unpacked). */
function staged(uploadId: string): string[] {
  return readdirSync(join(dataDir, 'uploads', uploadId), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== 'upload.json')
    .map((e) => e.name)
    .sort();
}

/** Offsets of an entry's local header and central-directory record in a zip fflate wrote. */
function headersOf(zip: Uint8Array, name: string): { local: number; central: number } {
  const buf = Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  const at = (sig: number, lengthAt: number, nameAt: number) => {
    for (let p = 0; p + nameAt <= buf.length; p++) {
      if (buf.readUInt32LE(p) !== sig) continue;
      const len = buf.readUInt16LE(p + lengthAt);
      if (buf.toString('utf8', p + nameAt, p + nameAt + len) === name) return p;
    }
    throw new Error(`no ${name} in the zip`);
  };
  return { local: at(0x04034b50, 26, 30), central: at(0x02014b50, 28, 46) };
}

/** `zip` with `name`'s declared uncompressed size (local and central) set to `size`. */
function declaring(zip: Uint8Array, name: string, size: number): Uint8Array {
  const out = Buffer.from(zip);
  const h = headersOf(out, name);
  out.writeUInt32LE(size, h.local + 22);
  out.writeUInt32LE(size, h.central + 24);
  return out;
}

test('a zip bomb whose entry inflates past its declared size is stopped there, not cut silently', async () => {
  // 8 MB of zeros deflate to a few KB; the entry says it holds 1000 bytes. fflate used to cut the
  // file at 1000 bytes and accept the upload.
  const zip = declaring(zipSync({ 'weights.bin': new Uint8Array(8 << 20) }), 'weights.bin', 1000);
  const r = await finishZip(zip);
  assert.equal(r.code, 'bad-zip', JSON.stringify(r));
  assert.match(
    r.message ?? '',
    /upload\.zip is damaged: "weights\.bin" unpacks to more than its declared 1000 bytes/,
  );
  assert.deepEqual(staged(r.uploadId), ['upload.zip'], 'nothing unpacked is left');
  // A bomb declaring its real size is refused by the limits before anything is inflated.
  const honest = declaring(zipSync({ 'w.bin': new Uint8Array(1 << 20) }), 'w.bin', 2e9);
  assert.equal((await finishZip(honest)).code, 'too-large');
});

test('a damaged zip is refused: a byte changed in a stored entry, a zip cut short, an empty file', async () => {
  const zip = zipSync({ 'config.json': strToU8('{"a": 1}'), 'notes.txt': strToU8('hello') }, { level: 0 });
  const flipped = Buffer.from(zip);
  const h = headersOf(flipped, 'notes.txt');
  flipped[h.local + 30 + 'notes.txt'.length] ^= 1; // 'hello' → 'iello': same size, other checksum
  const r = await finishZip(flipped);
  assert.equal(r.code, 'bad-zip', 'fflate never checked the CRC: the changed file was accepted');
  assert.match(r.message ?? '', /"notes\.txt" does not match its checksum/);
  assert.deepEqual(staged(r.uploadId), ['upload.zip']);

  for (const bytes of [zip.subarray(0, zip.length - 30), zip.subarray(0, 40), new Uint8Array(0)]) {
    const cut = await finishZip(bytes);
    assert.equal(cut.code, 'bad-zip', `${bytes.length} bytes`);
    assert.match(cut.message ?? '', /^upload\.zip is not a readable zip file: it is truncated or not a zip$/);
  }
  // The file list intact, an entry's data claimed past the end of the file.
  const long = Buffer.from(zip);
  const c = headersOf(long, 'notes.txt').central;
  long.writeUInt32LE(1 << 20, c + 20);
  long.writeUInt32LE(1 << 20, c + 24);
  const r2 = await finishZip(long);
  assert.equal(r2.code, 'bad-zip');
  assert.match(r2.message ?? '', /upload\.zip is truncated: "notes\.txt" is cut short/);
});

test('structural faults the torch.save reader always refused are refused in uploads too', async () => {
  // The upload path's own reader let these through (each unpacked; the data of the last two came
  // from outside the entries' area). It now shares torch's reader (zip-directory.ts), which checks
  // all of them.
  const zip = Buffer.from(zipSync({ 'a.txt': strToU8('hello'), 'b.txt': strToU8('world') }, { level: 0 }));
  const endAt = zip.length - 22;
  const cases: Array<[string, Buffer, RegExp]> = [];

  const split = Buffer.from(zip);
  split.writeUInt16LE(1, endAt + 4); // "this is disk 1"
  cases.push(['split', split, /^upload\.zip is not a readable zip file: it is split across several files$/]);

  const trailing = Buffer.concat([zip, Buffer.from('trailing bytes')]);
  cases.push([
    'trailing',
    trailing,
    /^upload\.zip is not a readable zip file: it is truncated or not a zip$/,
  ]);

  const renamed = Buffer.from(zip);
  renamed.write('c', headersOf(renamed, 'b.txt').local + 30); // the local header says c.txt
  cases.push([
    'renamed',
    renamed,
    /^upload\.zip is not a readable zip file: the names of "b\.txt" disagree$/,
  ]);

  // b.txt's directory record points to a copy of its local header and data in the zip's comment.
  const h = headersOf(zip, 'b.txt');
  const copy = zip.subarray(h.local, h.local + 30 + 'b.txt'.length + 'world'.length);
  const inComment = Buffer.concat([zip, copy]);
  inComment.writeUInt16LE(copy.length, endAt + 20);
  inComment.writeUInt32LE(zip.length, h.central + 42);
  cases.push(['in the comment', inComment, /^upload\.zip is not a readable zip file: "b\.txt" is missing$/]);

  // b.txt's deflated data declared 12 bytes longer, into the directory after it.
  const deflated = Buffer.from(zipSync({ 'a.txt': strToU8('hello'), 'b.txt': strToU8('world') }));
  const c = headersOf(deflated, 'b.txt').central;
  deflated.writeUInt32LE(deflated.readUInt32LE(c + 20) + 12, c + 20);
  cases.push(['into the directory', deflated, /^upload\.zip is truncated: "b\.txt" is cut short$/]);

  for (const [label, bytes, message] of cases) {
    const r = await finishZip(bytes);
    assert.equal(r.code, 'bad-zip', `${label}: ${JSON.stringify(r)}`);
    assert.match(r.message ?? '', message, label);
    assert.deepEqual(staged(r.uploadId), ['upload.zip'], label);
  }
});

test('entries that would leave the folder, links, names twice or as file and folder are refused first', async () => {
  const cases: Array<[string, Zippable | Uint8Array, string, RegExp]> = [
    ['..', { '../escape.txt': strToU8('x') }, 'bad-path', /"\.\.\/escape\.txt"/],
    ['absolute', { '/etc/cron.d/x': strToU8('x') }, 'bad-path', /only relative paths/],
    ['backslash', { 'a\\..\\..\\x': strToU8('x') }, 'bad-path', /only relative paths/],
    [
      'symlink',
      // A Unix symlink (made by Unix, mode 0120777): fflate wrote its target as a file's text.
      { 'adapter/model.bin': [strToU8('/etc/passwd'), { os: 3, attrs: (0o120777 << 16) >>> 0 }] },
      'bad-zip',
      /holds a symbolic link \("adapter\/model\.bin"\)/,
    ],
    [
      'file and folder',
      { a: strToU8('file'), 'a/b.txt': strToU8('inside') },
      'bad-zip',
      /holds "a" as both a file and a folder/,
    ],
  ];
  for (const [label, files, code, message] of cases) {
    const r = await finishZip(files instanceof Uint8Array ? files : zipSync(files as Zippable));
    assert.equal(r.code, code, label);
    assert.match(r.message ?? '', message, label);
    assert.doesNotMatch(r.message ?? '', /\n/);
    assert.deepEqual(staged(r.uploadId), ['upload.zip'], label);
  }
  assert.ok(!existsSync(join(dataDir, 'escape.txt')) && !existsSync(join(dataDir, 'uploads', 'escape.txt')));
  // The same name twice (fflate cannot write it: rename b.txt to a.txt in place).
  const twice = Buffer.from(zipSync({ 'a.txt': strToU8('one'), 'b.txt': strToU8('two') }));
  const h = headersOf(twice, 'b.txt');
  twice.write('a', h.local + 30);
  twice.write('a', h.central + 46);
  const r = await finishZip(twice);
  assert.equal(r.code, 'bad-zip');
  assert.match(r.message ?? '', /holds "a\.txt" twice/);
});

test('a zip unpacks whole: stored and deflated entries, empty files and folders, macOS forks skipped', async () => {
  const weights = randomBytes(300_000);
  const zip = zipSync({
    'my-adapter/': {},
    'my-adapter/config.json': [strToU8('{"rank": 4}'), { level: 9 }],
    'my-adapter/weights.bin': [weights, { level: 0 }],
    'my-adapter/empty.txt': new Uint8Array(0),
    '__MACOSX/my-adapter/._config.json': new Uint8Array(40),
  });
  const uploadId = await send('adapter.zip', zip);
  const r = await call('files/upload-finish', { uploadId });
  assert.deepEqual(r.files, ['my-adapter/config.json', 'my-adapter/empty.txt', 'my-adapter/weights.bin']);
  const dir = join(dataDir, 'uploads', uploadId, 'files', 'my-adapter');
  assert.deepEqual(readFileSync(join(dir, 'weights.bin')), weights);
  assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), '{"rank": 4}');
  // Finishing again answers the same; more chunks are refused.
  assert.deepEqual((await call('files/upload-finish', { uploadId })).files, r.files);
  const more = { uploadId, path: 'adapter.zip', offset: zip.length, data: '' };
  assert.equal((await callError('files/upload-chunk', more)).code, 'upload-finished');
});

test('a finish sent twice at once unpacks once; both get the files', async () => {
  const zip = zipSync({ 'd/a.bin': randomBytes(2 << 20), 'd/b.txt': strToU8('b'.repeat(4 << 20)) });
  const uploadId = await send('twice.zip', zip);
  const [one, two] = await Promise.all([
    call('files/upload-finish', { uploadId }),
    call('files/upload-finish', { uploadId }),
  ]);
  assert.deepEqual(one.files, ['d/a.bin', 'd/b.txt']);
  assert.deepEqual(two.files, one.files);
  assert.deepEqual(staged(uploadId), ['a.bin', 'b.txt']);
});

test('a discard while the zip unpacks stops it and leaves no folder behind', async () => {
  const zip = zipSync({
    'big/a.bin': [randomBytes(24 << 20), { level: 0 }],
    'big/b.txt': strToU8('row\n'.repeat(4 << 20)),
  });
  const uploadId = await send('big.zip', zip);
  const finishing = b.handle({ type: 'request', id: 0, method: 'files/upload-finish', params: { uploadId } });
  // A chunk during the unpacking is refused like one after it.
  const chunk = { uploadId, path: 'big.zip', offset: zip.length, data: '' };
  assert.equal((await callError('files/upload-chunk', chunk)).code, 'upload-finished');
  await call('files/upload-discard', { uploadId });
  const r = await finishing;
  // The discard waited for the engine to stop, so nothing writes into the folder after it is gone.
  console.log(`# the finish answered: ${r.type === 'error' ? r.error.code : 'the files'}`);
  if (r.type === 'error') assert.equal(r.error.code, 'cancelled', JSON.stringify(r.error));
  assert.ok(!existsSync(join(dataDir, 'uploads', uploadId)));
  assert.equal((await callError('files/upload-finish', { uploadId })).code, 'not-found');
});
