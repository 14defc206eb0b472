// ONNX serialization: the IR (ir/graph.ts) to ModelProto bytes. A minimal protobuf writer, since the
// schema subset we emit is small and fixed (field numbers from onnx/onnx.proto). Weights are never
// copied: initializers with external data point into the safetensors files (location/offset/length).

import { DTYPE_BYTES, ONNX_DTYPE } from '../ir/dtype.ts';
import type { AttrValue, Graph, Node, Value } from '../ir/graph.ts';

class PbWriter {
  chunks: Uint8Array[] = [];
  len = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.len += b.length;
  }
  varint(n: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(n));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  int(field: number, n: number | bigint): void {
    this.tag(field, 0);
    this.varint(n);
  }
  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
  }
  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }
  float(field: number, f: number): void {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(f, 0);
    this.push(b);
  }
  message(field: number, build: (w: PbWriter) => void): void {
    const w = new PbWriter();
    build(w);
    this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    return Buffer.concat(this.chunks, this.len);
  }
}

function writeTensor(
  w: PbWriter,
  v: { name: string; dtype: Value['dtype']; shape: readonly (number | string)[]; data: Value['data'] },
): void {
  for (const d of v.shape) w.int(1, d as number);
  w.int(2, ONNX_DTYPE[v.dtype]);
  w.string(8, v.name);
  const data = v.data!;
  if (data.kind === 'inline') {
    const a = data.data;
    w.bytes(9, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  } else {
    const entry = (k: string, val: string) =>
      w.message(13, (e) => {
        e.string(1, k);
        e.string(2, val);
      });
    entry('location', data.location);
    entry('offset', String(data.offset));
    entry('length', String(data.length));
    w.int(14, 1); // data_location = EXTERNAL
  }
}

function writeValueInfo(w: PbWriter, v: Value): void {
  w.string(1, v.name);
  w.message(2, (t) =>
    t.message(1, (tt) => {
      tt.int(1, ONNX_DTYPE[v.dtype]);
      tt.message(2, (s) => {
        for (const d of v.shape) {
          s.message(1, (dim) => {
            if (typeof d === 'number') dim.int(1, d);
            else if (d !== '?') dim.string(2, d);
          });
        }
      });
    }),
  );
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

function writeAttr(w: PbWriter, name: string, a: AttrValue): void {
  w.string(1, name);
  w.int(20, ATTR_TYPE[a.type]);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'floats':
      for (const f of a.value) w.float(7, f);
      break;
    case 'ints':
      for (const i of a.value) w.int(8, i);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, { name: '', ...a.value }));
      break;
    case 'graph':
      w.message(6, (g) => writeGraph(g, a.value, false));
      break;
  }
}

function writeNode(w: PbWriter, n: Node): void {
  for (const v of n.inputs) w.string(1, v ? v.name : '');
  for (const v of n.outputs) w.string(2, v.name);
  w.string(3, n.name);
  w.string(4, n.op);
  if (n.domain) w.string(7, n.domain);
  for (const [k, a] of Object.entries(n.attrs)) w.message(5, (aw) => writeAttr(aw, k, a));
}

function writeGraph(w: PbWriter, g: Graph, isMain: boolean): void {
  for (const n of g.nodes) w.message(1, (nw) => writeNode(nw, n));
  w.string(2, g.name);
  if (isMain) for (const v of g.initializers) w.message(5, (tw) => writeTensor(tw, v));
  for (const v of g.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
}

/** Serializes a graph as an ONNX ModelProto (IR version 10). */
export function encodeModel(g: Graph, producer = 'reft-studio'): Uint8Array {
  const w = new PbWriter();
  w.int(1, 10);
  w.string(2, producer);
  w.message(7, (gw) => writeGraph(gw, g, true));
  for (const [domain, version] of g.opsets) {
    w.message(8, (o) => {
      if (domain) o.string(1, domain);
      o.int(2, version);
    });
  }
  return w.finish();
}

/** Bytes that an initializer will occupy in memory (for RSS accounting). */
export function initializerBytes(v: Value): number {
  return v.shape.reduce<number>((p, d) => p * (d as number), 1) * DTYPE_BYTES[v.dtype];
}
