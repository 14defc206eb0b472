// A minimal Parquet writer for test fixtures: string columns only (BYTE_ARRAY, UTF8), one row group (or as many as asked),
// one PLAIN-encoded uncompressed data page (v1) per column and row group; a column is OPTIONAL when it holds a null
// (definition levels as RLE runs). Enough for hyparquet to read; not a general writer.

type Field = [id: number, type: number, write: (w: Writer) => void];

const T = { I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

class Writer {
  bytes: number[] = [];
  varint(n: number): void {
    let v = BigInt(n);
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }
  zigzag(n: number): void {
    const v = BigInt(n);
    this.varint(Number(v >= 0n ? v << 1n : (-v << 1n) - 1n));
  }
  binary(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes.push(...b);
  }
  struct(fields: Field[]): void {
    let last = 0;
    for (const [id, type, write] of fields) {
      const delta = id - last;
      if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
      else {
        this.bytes.push(type);
        this.zigzag(id);
      }
      write(this);
      last = id;
    }
    this.bytes.push(0);
  }
  list(type: number, items: ((w: Writer) => void)[]): void {
    if (items.length < 15) this.bytes.push((items.length << 4) | type);
    else {
      this.bytes.push(0xf0 | type);
      this.varint(items.length);
    }
    for (const it of items) it(this);
  }
}

const i32 = (id: number, v: number): Field => [id, T.I32, (w) => w.zigzag(v)];
const i64 = (id: number, v: number): Field => [id, T.I64, (w) => w.zigzag(v)];
const str = (id: number, s: string): Field => [id, T.BINARY, (w) => w.binary(Buffer.from(s))];
const struct = (id: number, f: Field[]): Field => [id, T.STRUCT, (w) => w.struct(f)];

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Definition levels (bit width 1) as RLE runs, with the 4-byte length prefix of data page v1. */
function defLevels(present: boolean[]): number[] {
  const w = new Writer();
  let i = 0;
  while (i < present.length) {
    let j = i;
    while (j < present.length && present[j] === present[i]) j++;
    w.varint((j - i) << 1);
    w.bytes.push(present[i] ? 1 : 0);
    i = j;
  }
  return [...le32(w.bytes.length), ...w.bytes];
}

/** One column chunk: its page header and PLAIN data (definition levels first when optional). */
function columnChunk(values: (string | null)[], optional: boolean): Buffer {
  const encoded = values.filter((v): v is string => v !== null).map((v) => Buffer.from(v));
  const parts: Buffer[] = optional ? [Buffer.from(defLevels(values.map((v) => v !== null)))] : [];
  for (const b of encoded) parts.push(Buffer.from(le32(b.length)), b);
  const data = Buffer.concat(parts);
  const header = new Writer();
  header.struct([
    i32(1, 0), // DATA_PAGE
    i32(2, data.length),
    i32(3, data.length),
    struct(5, [i32(1, values.length), i32(2, 0), i32(3, 3), i32(4, 3)]),
  ]);
  return Buffer.concat([Buffer.from(header.bytes), data]);
}

/**
 * A Parquet file of string columns; `rowsPerGroup` splits the rows into row groups (default: one),
 * as real writers do for large files.
 */
export function writeParquet(
  columns: Record<string, (string | null)[]>,
  o: { rowsPerGroup?: number } = {},
): Uint8Array {
  const names = Object.keys(columns);
  const numRows = columns[names[0]]?.length ?? 0;
  const optional = new Map(names.map((n) => [n, columns[n].some((v) => v === null)]));
  const per = Math.max(1, o.rowsPerGroup ?? numRows);
  const out: Buffer[] = [Buffer.from('PAR1')];
  let at = 4;
  const groups: { rows: number; chunks: { name: string; offset: number; size: number }[] }[] = [];
  for (let r0 = 0; r0 < numRows || (r0 === 0 && numRows === 0); r0 += per) {
    const rows = Math.min(per, numRows - r0);
    const chunks = names.map((name) => {
      const chunk = columnChunk(columns[name].slice(r0, r0 + rows), optional.get(name) ?? false);
      out.push(chunk);
      at += chunk.length;
      return { name, offset: at - chunk.length, size: chunk.length };
    });
    groups.push({ rows, chunks });
    if (numRows === 0) break;
  }
  const meta = new Writer();
  meta.struct([
    i32(1, 1),
    [
      2,
      T.LIST,
      (w) =>
        w.list(T.STRUCT, [
          (x) => x.struct([str(4, 'schema'), i32(5, names.length)]),
          ...names.map(
            (name) => (x: Writer) =>
              x.struct([i32(1, 6), i32(3, optional.get(name) ? 1 : 0), str(4, name), i32(6, 0)]),
          ),
        ]),
    ],
    i64(3, numRows),
    [
      4,
      T.LIST,
      (w) =>
        w.list(
          T.STRUCT,
          groups.map(
            (g) => (x: Writer) =>
              x.struct([
                [
                  1,
                  T.LIST,
                  (y) =>
                    y.list(
                      T.STRUCT,
                      g.chunks.map(
                        (c) => (z: Writer) =>
                          z.struct([
                            i64(2, c.offset),
                            struct(3, [
                              i32(1, 6),
                              [2, T.LIST, (q) => q.list(T.I32, [(r) => r.zigzag(0), (r) => r.zigzag(3)])],
                              [3, T.LIST, (q) => q.list(T.BINARY, [(r) => r.binary(Buffer.from(c.name))])],
                              i32(4, 0),
                              i64(5, g.rows),
                              i64(6, c.size),
                              i64(7, c.size),
                              i64(9, c.offset),
                            ]),
                          ]),
                      ),
                    ),
                ],
                i64(
                  2,
                  g.chunks.reduce((s, c) => s + c.size, 0),
                ),
                i64(3, g.rows),
              ]),
          ),
        ),
    ],
  ]);
  out.push(Buffer.from(meta.bytes), Buffer.from(le32(meta.bytes.length)), Buffer.from('PAR1'));
  return new Uint8Array(Buffer.concat(out));
}
