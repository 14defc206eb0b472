// The dynamic section of a 64-bit little-endian ELF shared library: which libraries it needs
// (DT_NEEDED), its soname and its search path. The CUDA runtime pack reads this from ONNX Runtime's
// CUDA provider to say exactly which CUDA/cuDNN libraries (and which major versions) it needs,
// instead of guessing from the provider's version. Reads only the headers and the dynamic strings,
// never the whole file (the CUDA provider is several hundred MB).

import { closeSync, openSync, readSync } from 'node:fs';
import { FormatError } from '../errors.ts';

export interface ElfDynamic {
  needed: string[];
  soname: string | null;
  /** DT_RUNPATH, else DT_RPATH; null when neither is set. */
  runpath: string | null;
}

const PT_LOAD = 1,
  PT_DYNAMIC = 2;
const DT_NULL = 0n,
  DT_NEEDED = 1n,
  DT_STRTAB = 5n,
  DT_SONAME = 14n,
  DT_RPATH = 15n,
  DT_RUNPATH = 29n;

const ET_DYN = 3,
  EM_X86_64 = 62;
const MACHINES: Record<number, string> = { 3: 'x86', 40: 'arm', 183: 'arm64', 243: 'RISC-V' };

/**
 * Why the file at `path` is not a Linux x64 shared library (64-bit little-endian ELF, x86-64, a
 * shared object), in words without the path; null when it is one.
 */
export function notLinuxX64Library(path: string): string | null {
  const eh = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, eh, 0, eh.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 4 || eh.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF library';
  if (n < eh.length) return 'a truncated ELF file';
  if (eh[4] !== 2 || eh[5] !== 1) return 'not a 64-bit little-endian ELF library';
  const machine = eh.readUInt16LE(0x12);
  if (machine !== EM_X86_64)
    return `built for ${MACHINES[machine] ?? 'another processor'} (ELF machine ${machine}), not x64`;
  if (eh.readUInt16LE(0x10) !== ET_DYN) return 'not a shared library';
  return null;
}

export function readElfDynamic(path: string): ElfDynamic {
  const fd = openSync(path, 'r');
  try {
    const read = (offset: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      const n = readSync(fd, buf, 0, length, offset);
      if (n < length) throw new FormatError('elf-truncated', `${path}: truncated ELF file`);
      return buf;
    };
    const eh = read(0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46) throw new FormatError('not-elf', `${path}: not an ELF file`);
    if (eh[4] !== 2 || eh[5] !== 1)
      throw new FormatError('elf-unsupported', `${path}: not a 64-bit little-endian ELF file`);
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const ph = read(phoff, phentsize * phnum);
    const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
    let dyn: { offset: number; size: number } | null = null;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const type = ph.readUInt32LE(o);
      const offset = ph.readBigUInt64LE(o + 8);
      const vaddr = ph.readBigUInt64LE(o + 16);
      const filesz = ph.readBigUInt64LE(o + 32);
      if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
      else if (type === PT_DYNAMIC) dyn = { offset: Number(offset), size: Number(filesz) };
    }
    if (!dyn) return { needed: [], soname: null, runpath: null };
    const d = read(dyn.offset, dyn.size);
    const entries: [bigint, bigint][] = [];
    let strtab = -1n;
    for (let o = 0; o + 16 <= d.length; o += 16) {
      const tag = d.readBigInt64LE(o);
      const val = d.readBigUInt64LE(o + 8);
      if (tag === DT_NULL) break;
      if (tag === DT_STRTAB) strtab = val;
      entries.push([tag, val]);
    }
    // DT_STRTAB is a virtual address: map it to a file offset through the loadable segment holding it.
    const seg = loads.find((s) => strtab >= s.vaddr && strtab < s.vaddr + s.filesz);
    if (!seg) throw new FormatError('elf-malformed', `${path}: dynamic string table outside the file`);
    const strOff = Number(strtab - seg.vaddr + seg.offset);
    const str = (index: bigint): string => {
      const chunks: Buffer[] = [];
      for (let pos = strOff + Number(index); ; pos += 256) {
        const b = Buffer.alloc(256);
        const n = readSync(fd, b, 0, 256, pos);
        const end = b.subarray(0, n).indexOf(0);
        if (end >= 0 || n < 256) {
          chunks.push(b.subarray(0, end >= 0 ? end : n));
          return Buffer.concat(chunks).toString('utf8');
        }
        chunks.push(b);
      }
    };
    const out: ElfDynamic = { needed: [], soname: null, runpath: null };
    let rpath: string | null = null;
    for (const [tag, val] of entries) {
      if (tag === DT_NEEDED) out.needed.push(str(val));
      else if (tag === DT_SONAME) out.soname = str(val);
      else if (tag === DT_RUNPATH) out.runpath = str(val);
      else if (tag === DT_RPATH) rpath = str(val);
    }
    out.runpath ??= rpath;
    return out;
  } finally {
    closeSync(fd);
  }
}
