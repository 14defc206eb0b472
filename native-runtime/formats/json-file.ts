// Reading small files a user's folder hands us (config.json, generation_config.json, a safetensors
// index, tokenizer files, adapter manifests) with two guarantees:
//   - bounded: only regular files, and at most `maxBytes` of them are read (a 50 MB config.json or a
//     symlink to /dev/zero is refused before it costs memory);
//   - quiet: no error message ever quotes the file's contents. V8's JSON.parse errors quote the start
//     of the text, which for a symlink to a private file (/etc/shadow) would leak a line of it into
//     logs and RPC replies; we report the position only.
// Leaves out: what the JSON must contain (each reader checks its own fields).

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { FormatError } from '../errors.ts';

const MiB = 1024 * 1024;

/** Size caps per kind of file, generous next to what real checkpoints ship. */
export const FILE_LIMITS = {
  /** config.json / generation_config.json / pyreft config.json / reft_studio.json / manifest.json */
  config: 1 * MiB,
  /** model.safetensors.index.json: one line per tensor (DeepSeek-V3's is about 9 MB). */
  index: 64 * MiB,
  /** tokenizer.json: the largest public vocabularies are about 35 MB. */
  tokenizer: 256 * MiB,
} as const;

/**
 * Opens a file for reading, refusing anything but a regular file ('not-a-file'). O_NONBLOCK makes
 * opening a FIFO return at once instead of waiting for a writer that never comes (a named pipe in
 * a model folder stalled `models add` and the whole server with it); on a regular file it changes
 * nothing. `label` names the file in errors ('missing-file' when it cannot be opened).
 */
export function openRegularFile(path: string, label: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new FormatError(
      'missing-file',
      `${label}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new FormatError('not-a-file', `${label}: not a regular file`);
  }
  return fd;
}

function tooLarge(label: string, maxBytes: number, size?: number): FormatError {
  return new FormatError(
    'file-too-large',
    size === undefined
      ? `${label}: more than the ${maxBytes} bytes allowed`
      : `${label}: ${size} bytes is more than the ${maxBytes} allowed`,
  );
}

/**
 * Reads a regular file of at most `maxBytes`. `label` names it in errors ('missing-file',
 * 'not-a-file', 'file-too-large'); the file's contents never appear in a message.
 */
export function readFileCapped(path: string, maxBytes: number, label: string): Buffer {
  const fd = openRegularFile(path, label);
  try {
    const st = fstatSync(fd);
    if (st.size > maxBytes) throw tooLarge(label, maxBytes, st.size);
    // Read at most maxBytes + 1 whatever fstat said (a file growing under us is still bounded).
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    if (n > maxBytes) throw tooLarge(label, maxBytes);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const COLON = 0x3a;

/**
 * The bytes of a JSON file before the first `"key":` in it, read a chunk at a time, so that a large
 * file whose key comes early (a tokenizer.json's "model", its vocabulary, comes last) is never read
 * whole; null when no such key comes. The key is found in the bytes, not the JSON: the same name as a
 * key of a nested object before it also ends the head (the caller's parse of the head then fails).
 * Refuses what readFileCapped refuses, with the same errors, whatever its size says.
 */
export function readJsonUntilKey(path: string, maxBytes: number, label: string, key: string): Buffer | null {
  const needle = Buffer.from(JSON.stringify(key));
  const fd = openRegularFile(path, label);
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw tooLarge(label, maxBytes, size);
    let buf = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1));
    let n = 0;
    let from = 0; // no match starts before this
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw tooLarge(label, maxBytes);
        const bigger = Buffer.alloc(Math.min(n * 4, maxBytes + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) return null;
      n += got;
      const filled = buf.subarray(0, n);
      let at = filled.indexOf(needle, from);
      for (; at >= 0; at = filled.indexOf(needle, at + 1)) {
        let i = at + needle.length;
        while (i < n && JSON_SPACE.has(filled[i])) i++;
        if (i === n) break; // the colon, if any, is in the part not read yet
        if (filled[i] === COLON) return filled.subarray(0, at);
      }
      from = at >= 0 ? at : Math.max(0, n - needle.length + 1);
    }
  } finally {
    closeSync(fd);
  }
}

/** Why JSON.parse failed, without the text it quotes: "unexpected input at position 12". */
export function jsonSyntaxError(e: unknown): string {
  const m = e instanceof Error ? e.message : '';
  const at = /at position (\d+)/.exec(m)?.[1];
  if (at !== undefined) return `unexpected input at position ${at}`;
  if (/end of (JSON )?input/i.test(m)) return 'unexpected end of input';
  // V8's "Unexpected token '}', "…" is not valid JSON" has no position: the character, not the text.
  const token = /^Unexpected token '(.)'/su.exec(m)?.[1];
  return token !== undefined ? `unexpected '${token}'` : 'malformed JSON';
}

/** Parses JSON text; a syntax error becomes FormatError `code` naming `label` and the position only. */
export function parseJsonText(text: string, label: string, code = 'bad-json'): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(code, `${label}: not valid JSON (${jsonSyntaxError(e)})`);
  }
}

/** readFileCapped + parseJsonText. */
export function readJsonFile(path: string, label: string, maxBytes: number, code = 'bad-json'): unknown {
  return parseJsonText(readFileCapped(path, maxBytes, label).toString('utf8'), label, code);
}

/** readJsonFile that must hold a JSON object (not an array, not null). */
export function readJsonObject(
  path: string,
  label: string,
  maxBytes: number,
  code = 'bad-json',
): Record<string, unknown> {
  const v = readJsonFile(path, label, maxBytes, code);
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new FormatError(code, `${label}: expected a JSON object`);
  return v as Record<string, unknown>;
}
