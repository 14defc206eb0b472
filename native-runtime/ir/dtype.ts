// Element types of graph values, with their ONNX TensorProto codes and byte sizes.

export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int8'
  | 'uint8'
  | 'bool'
  // Packed two per byte (low nibble first); only for weights read by DequantizeLinear.
  | 'uint4'
  | 'int4';

export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
  uint4: 21,
  int4: 22,
};

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
  uint4: 0.5,
  int4: 0.5,
};

export const isFloat = (d: DType): boolean =>
  d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
