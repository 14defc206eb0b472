// Allocation failures as ONNX Runtime words them on each provider become one line that names the
// memory and what to change; other failures are left alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeOutOfMemory, outOfMemoryCause } from './out-of-memory.ts';

test('every wording of an allocation failure is recognised', () => {
  const cases: [string, string][] = [
    [
      "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. Name:'/m' Status Message: /onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 17179869184",
      'Failed to allocate memory for requested buffer of size 17179869184',
    ],
    [
      'Non-zero status code returned while running Gemm node. Status Message: bad allocation',
      'bad allocation',
    ],
    ['std::bad_alloc', 'std::bad_alloc'],
    [
      'CUDA failure 2: out of memory ; GPU=0 ; hostname=h ; file=/onnxruntime/core/providers/cuda/cuda_allocator.cc ; line=50 ; expr=cudaMalloc((void**)&p, size);',
      'CUDA failure 2: out of memory',
    ],
    ['CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0', 'CUBLAS_STATUS_ALLOC_FAILED'],
    ['CUDA error cudaErrorMemoryAllocation:out of memory', 'cudaErrorMemoryAllocation'],
    ['WebGPU: OutOfMemory while creating a buffer', 'OutOfMemory'],
  ];
  for (const [message, cause] of cases) assert.equal(outOfMemoryCause(message), cause, message);
});

test('the line names the memory, the graph and what to change; other failures are not touched', () => {
  const gpu = describeOutOfMemory('CUDA failure 2: out of memory ; GPU=0', 'cuda', 'reft-train');
  assert.match(
    gpu ?? '',
    /^the GPU's memory ran out while running 'reft-train' \(ONNX Runtime: CUDA failure 2: out of memory\)/,
  );
  assert.match(gpu ?? '', /smaller batch/);
  assert.match(gpu ?? '', /--quantize int8 or int4/);
  assert.match(describeOutOfMemory('bad allocation', 'cpu', 'g') ?? '', /^the computer's memory ran out/);
  assert.match(
    describeOutOfMemory('OutOfMemory', 'webgpu', 'g') ?? '',
    /^the GPU's memory \(WebGPU\) ran out/,
  );
  assert.match(
    describeOutOfMemory('bad allocation', 'dml', 'g') ?? '',
    /^the GPU's memory \(DirectML\) ran out/,
  );
  assert.equal(describeOutOfMemory('Invalid rank for input: x Got: 2 Expected: 3', 'cpu', 'g'), null);
  assert.equal(
    describeOutOfMemory('Failed to load library libonnxruntime_providers_cuda.so', 'cuda', 'g'),
    null,
  );
});
