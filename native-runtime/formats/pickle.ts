// Python pickles, the subset torch.save uses for state dicts (protocol 2), read and written here
// without Python.
//
// Reader: a pickle VM that never executes code. GLOBAL / STACK_GLOBAL may only name the allow-listed
// callables below; anything else (os.system, builtins.eval, torch._utils._rebuild_tensor_v3, ...)
// stops the load with FormatError 'forbidden-global' naming it. REDUCE only "calls" those
// allow-listed names, each of which we implement ourselves as plain data construction. Opcodes that
// instantiate arbitrary classes (INST, OBJ, NEWOBJ, EXT*) are refused the same way.
// Writer: emits the exact opcode stream Python's pickler (protocol 2) produces for torch.save of an
// OrderedDict of tensors: same memo numbering, MARK/SETITEMS batching, persistent-id storages.
// Left out: text (protocol 0) opcodes, floats other than BINFLOAT, bytes objects.

import { FormatError } from '../errors.ts';
import type { SafetensorsDtype } from './safetensors.ts';

// ---------------------------------------------------------------------------------------------
// Values the VM produces

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
/** dict or collections.OrderedDict (both keep insertion order). `state` holds BUILD's argument. */
export class PyDict {
  readonly map = new Map<DictKey, PyValue>();
  state: PyValue | undefined;
  constructor(readonly ordered: boolean) {}
}
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}
/** A storage named by a persistent id: ('storage', torch.<X>Storage, key, location, numel). */
export class StorageRef {
  constructor(
    readonly dtype: SafetensorsDtype,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}
/** The arguments of torch._utils._rebuild_tensor_v2, not yet tied to data. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
}
type DictKey = string | number | bigint | boolean | null;
export type PyValue = DictKey | PyValue[] | PyTuple | PyDict | PyGlobal | StorageRef | TensorRef;

/** torch storage class name ↔ dtype. Only these storages may appear in a file we load. */
export const STORAGE_CLASSES: Record<string, SafetensorsDtype> = {
  FloatStorage: 'F32',
  BFloat16Storage: 'BF16',
  HalfStorage: 'F16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
};
const ALLOWED_CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
]);

function isAllowedGlobal(module: string, name: string): boolean {
  // Own entries only: `name in STORAGE_CLASSES` would also accept torch.constructor / torch.__proto__.
  if (module === 'torch' && Object.hasOwn(STORAGE_CLASSES, name)) return true;
  return ALLOWED_CALLABLES.has(`${module}.${name}`);
}

// ---------------------------------------------------------------------------------------------
// Reader

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

/**
 * Runs the allow-listed pickle VM over `data`. `label` names the file in errors
 * (e.g. "pickle in intkey_x.bin names forbidden global 'os.system'").
 */
export function loadPickle(data: Uint8Array, label: string): PyValue {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bad = (msg: string) => new FormatError('bad-pickle', `pickle in ${label}: ${msg}`);
  const forbidden = (what: string) =>
    new FormatError(
      'forbidden-global',
      `pickle in ${label} names forbidden global '${what}'; only tensors and OrderedDicts may be loaded`,
    );
  let stack: Slot[] = [];
  const metastack: Slot[][] = [];
  const memo = new Map<number, PyValue>();
  let p = 0;

  const need = (n: number) => {
    if (p + n > buf.length) throw bad(`ends in the middle of an opcode at byte ${p}`);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) throw bad('stack underflow');
    const v = stack.pop() as Slot;
    if (v === MARK) throw bad('unexpected MARK');
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw bad('stack underflow');
    return v;
  };
  const popMark = (): PyValue[] => {
    const items = stack as PyValue[];
    const prev = metastack.pop();
    if (!prev) throw bad('no MARK to pop to');
    stack = prev;
    return items;
  };
  const readLine = (): string => {
    const end = buf.indexOf(0x0a, p);
    if (end < 0) throw bad('unterminated text argument');
    const s = buf.toString('latin1', p, end);
    p = end + 1;
    return s;
  };
  const makeGlobal = (module: string, name: string): PyGlobal => {
    if (!isAllowedGlobal(module, name)) throw forbidden(`${module}.${name}`);
    return new PyGlobal(module, name);
  };
  const setItems = (d: PyValue, items: PyValue[]) => {
    if (!(d instanceof PyDict)) throw bad('SETITEM(S) on a value that is not a dict');
    if (items.length % 2) throw bad('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (k !== null && typeof k === 'object') throw bad('dict key that is not a plain value');
      d.map.set(k, items[i + 1]);
    }
  };

  for (;;) {
    need(1);
    const op = buf[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (buf[p] > 5) throw bad(`unsupported protocol ${buf[p]}`);
        p += 1;
        break;
      case 0x95: // FRAME (protocol 4): just a length hint
        need(8);
        p += 8;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw bad(`STOP with ${stack.length} values on the stack`);
        return pop();
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(buf.readInt32LE(p));
        p += 4;
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(buf[p]);
        p += 1;
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(buf.readUInt16LE(p));
        p += 2;
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement
        need(1);
        const n = buf[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[p + i]);
        if (n > 0 && buf[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(buf.readDoubleBE(p));
        p += 8;
        break;
      case 0x58: {
        // BINUNICODE
        need(4);
        const n = buf.readUInt32LE(p);
        p += 4;
        need(n);
        stack.push(buf.toString('utf8', p, p + n));
        p += n;
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        need(1);
        const n = buf[p++];
        need(n);
        stack.push(buf.toString('utf8', p, p + n));
        p += n;
        break;
      }
      case 0x8d: {
        // BINUNICODE8
        need(8);
        const n = Number(buf.readBigUInt64LE(p));
        p += 8;
        need(n);
        stack.push(buf.toString('utf8', p, p + n));
        p += n;
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        {
          // evaluate popMark() before touching `stack`: it replaces the stack array
          const items = popMark();
          stack.push(new PyTuple(items));
        }
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        if (stack.length < n) throw bad('stack underflow');
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(new PyTuple(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) throw bad('APPEND to a value that is not a list');
        l.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) throw bad('APPENDS to a value that is not a list');
        l.push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict(false));
        break;
      case 0x64: {
        // DICT
        const d = new PyDict(false);
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(buf[p++], top());
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(buf.readUInt32LE(p), top());
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        let idx: number;
        if (op === 0x68) {
          need(1);
          idx = buf[p++];
        } else {
          need(4);
          idx = buf.readUInt32LE(p);
          p += 4;
        }
        if (!memo.has(idx)) throw bad(`memo index ${idx} was never set`);
        stack.push(memo.get(idx) as PyValue);
        break;
      }
      case 0x63: {
        // GLOBAL: module\nname\n — checked before anything is created
        const module = readLine();
        const name = readLine();
        stack.push(makeGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          throw bad('STACK_GLOBAL needs two strings');
        stack.push(makeGlobal(module, name));
        break;
      }
      case 0x69: {
        // INST: module\nname\n then instantiation; refused outright
        const module = readLine();
        const name = readLine();
        throw forbidden(`${module}.${name}`);
      }
      case 0x6f: // OBJ
      case 0x81: // NEWOBJ
      case 0x92: // NEWOBJ_EX
        throw forbidden('object construction (OBJ/NEWOBJ)');
      case 0x82:
      case 0x83:
      case 0x84: // EXT1/2/4: globals from the copyreg extension registry
        throw forbidden('copyreg extension');
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        const made = callAllowed(fn, args, bad);
        stack.push(made);
        break;
      }
      case 0x62: {
        // BUILD: only OrderedDict state (torch's _metadata attribute) is accepted
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict)) throw bad('BUILD on a value that is not a dict');
        obj.state = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        stack.push(persistentLoad(pid, bad));
        break;
      }
      default:
        throw bad(`unsupported opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}

function intOf(v: PyValue): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function intTuple(v: PyValue): number[] | undefined {
  if (!(v instanceof PyTuple)) return undefined;
  const out: number[] = [];
  for (const x of v.items) {
    const n = intOf(x);
    if (n === undefined || n < 0) return undefined;
    out.push(n);
  }
  return out;
}

function callAllowed(fn: PyValue, args: PyValue, bad: (m: string) => FormatError): PyValue {
  if (!(fn instanceof PyGlobal)) throw bad('REDUCE on a value that is not a callable');
  if (!(args instanceof PyTuple)) throw bad('REDUCE arguments are not a tuple');
  const a = args.items;
  const qual = `${fn.module}.${fn.name}`;
  switch (qual) {
    case 'collections.OrderedDict':
      if (a.length !== 0) throw bad('OrderedDict called with arguments');
      return new PyDict(true);
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride, requiresGrad] = a;
      const sz = intTuple(size);
      const st = intTuple(stride);
      const off = intOf(offset);
      if (
        !(storage instanceof StorageRef) ||
        off === undefined ||
        off < 0 ||
        !sz ||
        !st ||
        sz.length !== st.length ||
        typeof requiresGrad !== 'boolean' ||
        a.length < 6 ||
        a.length > 7
      ) {
        throw bad('malformed _rebuild_tensor_v2 arguments');
      }
      return new TensorRef(storage, off, sz, st, requiresGrad);
    }
    case 'torch._utils._rebuild_parameter': {
      const [data, requiresGrad] = a;
      if (!(data instanceof TensorRef) || typeof requiresGrad !== 'boolean')
        throw bad('malformed _rebuild_parameter arguments');
      return new TensorRef(data.storage, data.offset, data.size, data.stride, requiresGrad);
    }
    default:
      throw bad(`${qual} cannot be called`);
  }
}

function persistentLoad(pid: PyValue, bad: (m: string) => FormatError): StorageRef {
  if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
    throw bad("persistent id is not a ('storage', class, key, location, numel) tuple");
  }
  const [, cls, key, location, numel] = pid.items;
  const n = intOf(numel);
  if (!(cls instanceof PyGlobal) || cls.module !== 'torch' || !Object.hasOwn(STORAGE_CLASSES, cls.name))
    throw bad('persistent id names no storage class');
  if (typeof key !== 'string' || typeof location !== 'string' || n === undefined || n < 0)
    throw bad('malformed storage persistent id');
  return new StorageRef(STORAGE_CLASSES[cls.name], key, location, n);
}

// ---------------------------------------------------------------------------------------------
// Writer

const STORAGE_OF: Partial<Record<SafetensorsDtype, string>> = Object.fromEntries(
  Object.entries(STORAGE_CLASSES).map(([k, v]) => [v, k]),
);

/** Python pickler (protocol 2) with the memo behaviour torch.save shows. */
class Pickler {
  private out: number[] = [];
  private memoSize = 0;
  /** memo of objects Python would find by identity: globals and interned strings */
  private memo = new Map<string, number>();

  bytes(): Buffer {
    return Buffer.from(this.out);
  }
  op(...b: number[]): void {
    for (const x of b) this.out.push(x);
  }
  private u32(n: number): void {
    this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  put(): void {
    const i = this.memoSize++;
    if (i < 256) this.op(0x71, i);
    else {
      this.op(0x72);
      this.u32(i);
    }
  }
  private get(i: number): void {
    if (i < 256) this.op(0x68, i);
    else {
      this.op(0x6a);
      this.u32(i);
    }
  }
  private putKey(key: string): void {
    this.memo.set(key, this.memoSize);
    this.put();
  }
  global(module: string, name: string): void {
    const key = `g:${module}.${name}`;
    const at = this.memo.get(key);
    if (at !== undefined) {
      this.get(at);
      return;
    }
    this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
    this.putKey(key);
  }
  /** `interned`: the same Python object recurs (string constants), so later uses are BINGETs. */
  str(s: string, interned = false): void {
    const key = `s:${s}`;
    if (interned) {
      const at = this.memo.get(key);
      if (at !== undefined) {
        this.get(at);
        return;
      }
    }
    const b = Buffer.from(s, 'utf8');
    this.op(0x58);
    this.u32(b.length);
    this.op(...b);
    if (interned) this.putKey(key);
    else this.put();
  }
  int(n: number): void {
    if (n >= 0 && n <= 0xff) this.op(0x4b, n);
    else if (n >= 0 && n <= 0xffff) this.op(0x4d, n & 0xff, n >> 8);
    else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.op(0x4a);
      this.u32(n >>> 0);
    } else {
      // LONG1, minimal two's complement as Python's encode_long writes it
      let v = BigInt(n);
      const bytes: number[] = [];
      do {
        bytes.push(Number(v & 0xffn));
        v >>= 8n;
      } while (
        !(v === 0n && (bytes[bytes.length - 1] & 0x80) === 0) &&
        !(v === -1n && bytes[bytes.length - 1] & 0x80)
      );
      this.op(0x8a, bytes.length, ...bytes);
    }
  }
  bool(b: boolean): void {
    this.op(b ? 0x88 : 0x89);
  }
  /** A tuple whose elements are written by `items` (count = n). */
  tuple(n: number, items: () => void): void {
    if (n === 0) {
      this.op(0x29); // EMPTY_TUPLE is never memoized
      return;
    }
    if (n <= 3) {
      items();
      this.op(0x84 + n);
    } else {
      this.op(0x28);
      items();
      this.op(0x74);
    }
    this.put();
  }
  /** Python's _batch_setitems: MARK ... SETITEMS per 1000 items, a lone SETITEM for one. */
  setItems(items: Array<() => void>): void {
    for (let i = 0; i < items.length; i += 1000) {
      const batch = items.slice(i, i + 1000);
      if (batch.length > 1) {
        this.op(0x28);
        for (const it of batch) it();
        this.op(0x75);
      } else {
        batch[0]();
        this.op(0x73);
      }
    }
  }
  orderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // EMPTY_TUPLE REDUCE
    this.put();
  }
}

export interface PickledTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface StatePickleOptions {
  /**
   * Module prefixes for the state dict's `_metadata` attribute (each gets {'version': 1}), as
   * nn.Module.state_dict() attaches; omitted when undefined (plain OrderedDicts have none).
   */
  metadata?: string[];
}

/**
 * The data.pkl of torch.save(OrderedDict(tensors)): tensor i uses storage key String(i), contiguous
 * strides, requires_grad False. Returns the pickle bytes.
 */
export function encodeStateDictPickle(tensors: PickledTensor[], opts: StatePickleOptions = {}): Buffer {
  const pk = new Pickler();
  pk.op(0x80, 2);
  pk.orderedDict();
  const items = tensors.map((t, i) => () => {
    const cls = STORAGE_OF[t.dtype];
    if (!cls)
      throw new FormatError(
        'bad-dtype',
        `tensor ${t.name}: dtype ${t.dtype} cannot be written to a torch file`,
      );
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    pk.str(t.name);
    pk.global('torch._utils', '_rebuild_tensor_v2');
    pk.tuple(6, () => {
      pk.tuple(5, () => {
        pk.str('storage', true);
        pk.global('torch', cls);
        pk.str(String(i));
        pk.str('cpu', true);
        pk.int(numel);
      });
      pk.op(0x51); // BINPERSID
      pk.int(0);
      pk.tuple(t.shape.length, () => {
        for (const s of t.shape) pk.int(s);
      });
      pk.tuple(stride.length, () => {
        for (const s of stride) pk.int(s);
      });
      pk.bool(false);
      pk.orderedDict(); // backward hooks
    });
    pk.op(0x52); // REDUCE
    pk.put();
  });
  if (items.length) pk.setItems(items);
  if (opts.metadata) {
    // state = {'_metadata': OrderedDict(prefix -> {'version': 1})}, then BUILD
    pk.op(0x7d);
    pk.put();
    pk.str('_metadata');
    pk.orderedDict();
    pk.setItems(
      opts.metadata.map((prefix) => () => {
        pk.str(prefix);
        pk.op(0x7d);
        pk.put();
        pk.setItems([
          () => {
            pk.str('version', true);
            pk.int(1);
          },
        ]);
      }),
    );
    pk.op(0x73, 0x62); // SETITEM (state dict) BUILD
  }
  pk.op(0x2e);
  return pk.bytes();
}
