// The graph IR: Values (tensors flowing between nodes), Nodes (one ONNX op each) and Graphs.
// Deliberately protobuf-free (serialization lives in formats/onnx.ts), like onnx-ir's _core.
// A Value has at most one producer and knows its uses, which the autodiff walker and the passes need.
// Shapes use numbers for static dims and strings for symbolic ones ('B', 'T'; forms in dims.ts);
// '?' means unknown.

import type { DType } from './dtype.ts';

export type Dim = number | string;
export type Shape = Dim[];

/** Constant tensor data held in memory (small tensors, adapter parameters, tables). */
export interface InlineData {
  kind: 'inline';
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;
}

/** Tensor data referenced in place inside a file (safetensors weights): never copied to disk. */
export interface ExternalData {
  kind: 'external';
  /** Path relative to the model folder (ORT's external-data base folder). */
  location: string;
  offset: number;
  length: number;
}

export type TensorData = InlineData | ExternalData;

export type AttrValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'tensor'; value: { dtype: DType; shape: number[]; data: InlineData } }
  | { type: 'graph'; value: Graph };

let nextValueId = 0;

export class Value {
  readonly id = nextValueId++;
  name: string;
  dtype: DType;
  shape: Shape;
  producer: Node | null = null;
  /** Index among the producer's outputs. */
  index = 0;
  readonly uses: Node[] = [];
  /** Set for initializers (weights, constants stored as graph initializers). */
  data: TensorData | null = null;
  /** Known constant value of small int64 tensors (shape vectors, axes) for shape inference. */
  constValue: number[] | null = null;

  constructor(dtype: DType, shape: Shape, name?: string) {
    this.dtype = dtype;
    this.shape = shape;
    this.name = name ?? `v${this.id}`;
  }

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `%${this.name}: ${this.dtype}[${this.shape.join(',')}]`;
  }
}

export class Node {
  op: string;
  domain: string;
  inputs: (Value | null)[];
  outputs: Value[];
  attrs: Record<string, AttrValue>;
  name: string;

  constructor(
    op: string,
    inputs: (Value | null)[],
    outputs: Value[],
    attrs: Record<string, AttrValue> = {},
    domain = '',
  ) {
    this.op = op;
    this.domain = domain;
    this.inputs = inputs;
    this.outputs = outputs;
    this.attrs = attrs;
    this.name = `n${outputs[0]?.id ?? nextValueId}_${op}`;
    outputs.forEach((o, i) => {
      o.producer = this;
      o.index = i;
    });
    for (const v of inputs) v?.uses.push(this);
  }

  attrInt(name: string, dflt?: number): number {
    const a = this.attrs[name];
    if (a === undefined) {
      if (dflt === undefined) throw new Error(`${this.op}: missing attribute ${name}`);
      return dflt;
    }
    return a.value as number;
  }

  attrInts(name: string): number[] | undefined {
    return this.attrs[name]?.value as number[] | undefined;
  }
}

export class Graph {
  name: string;
  inputs: Value[] = [];
  outputs: Value[] = [];
  nodes: Node[] = [];
  /** Values with data that become graph initializers. */
  initializers: Value[] = [];
  /** Opset versions per domain used by the nodes. */
  opsets: Map<string, number> = new Map([['', 21]]);

  constructor(name: string) {
    this.name = name;
  }
}
