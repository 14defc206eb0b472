// Hand-made torch.save files that torch never writes, for the hostile-input tests: tensors whose
// strides make a few stored bytes claim a huge shape (a "tensor bomb").

import { encodeZip } from '../../native-runtime/formats/zip.ts';

export interface ViewSpec {
  name: string;
  shape: number[];
  stride: number[];
}

function unicode(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([0x8c, b.length]), b]);
}

function int(n: number): Buffer {
  if (n <= 0xff) return Buffer.from([0x4b, n]);
  if (n <= 0xffff) return Buffer.from([0x4d, n & 0xff, n >> 8]);
  const b = Buffer.alloc(5);
  b[0] = 0x4a;
  b.writeInt32LE(n, 1);
  return b;
}

function tuple(items: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x28]), ...items, Buffer.from([0x74])]);
}

const orderedDict = Buffer.concat([
  Buffer.from('ccollections\nOrderedDict\n', 'latin1'),
  Buffer.from([0x29, 0x52]),
]);

/**
 * A torch.save zip whose state dict maps each view to ONE stored float32 value (storage numel 1),
 * with the given shape and strides: stride 0 repeats that value over the whole shape.
 */
export function viewsOfOneValue(stem: string, views: ViewSpec[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80, 2]), orderedDict];
  for (const v of views) {
    const storage = Buffer.concat([
      tuple([
        unicode('storage'),
        Buffer.from('ctorch\nFloatStorage\n', 'latin1'),
        unicode('0'),
        unicode('cpu'),
        int(1),
      ]),
      Buffer.from([0x51]), // BINPERSID
    ]);
    parts.push(
      unicode(v.name),
      Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n', 'latin1'),
      tuple([
        storage,
        int(0),
        tuple(v.shape.map(int)),
        tuple(v.stride.map(int)),
        Buffer.from([0x89]),
        orderedDict,
      ]),
      Buffer.from([0x52, 0x73]), // REDUCE, SETITEM
    );
  }
  parts.push(Buffer.from([0x2e]));
  const value = Buffer.alloc(4);
  value.writeFloatLE(0.5);
  return encodeZip([
    { name: `${stem}/data.pkl`, data: Buffer.concat(parts) },
    { name: `${stem}/byteorder`, data: Buffer.from('little') },
    { name: `${stem}/data/0`, data: value },
    { name: `${stem}/version`, data: Buffer.from('3\n') },
  ]);
}
