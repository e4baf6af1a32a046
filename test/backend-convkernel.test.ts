// The choice of the forward convolution kernel (src/backend/convKernel.ts): the order each policy and call gets,
// and the line a run logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convKernelOrder, describeConvKernels, describeKernelPath, setConvPolicy } from '../src/backend/convKernel';
import type { ConvCall, ConvPolicy } from '../src/backend/convKernel';

const big: ConvCall = { plain: true, inC: 64, pixels: 50 * 16 * 16 };
const small: ConvCall = { plain: true, inC: 64, pixels: 64 };
const wasm: ConvPolicy = { native: null, xnor: true, minPixels: 512 };

test('pure wasm: XNOR-popcount only for plain calls with ≥ 8 channels and ≥ minPixels output pixels, then XNNPACK', () => {
  assert.deepEqual(convKernelOrder(wasm, big), ['xnor', 'xnnpack']);
  assert.deepEqual(convKernelOrder(wasm, small), ['xnnpack']);
  assert.deepEqual(convKernelOrder(wasm, { ...big, inC: 3 }), ['xnnpack']);
  assert.deepEqual(convKernelOrder(wasm, { ...big, plain: false }), ['xnnpack']);
  assert.deepEqual(convKernelOrder({ ...wasm, minPixels: 0 }, small), ['xnor', 'xnnpack']);
  assert.deepEqual(convKernelOrder({ ...wasm, xnor: false }, big), ['xnnpack']);
});

test('native: int8 (or XNOR, or none) first, then oneDNN float, then the wasm order; not-plain calls go to wasm', () => {
  assert.deepEqual(convKernelOrder({ ...wasm, native: 'int8' }, big), [
    'onednn-int8',
    'onednn-float',
    'xnor',
    'xnnpack',
  ]);
  assert.deepEqual(convKernelOrder({ ...wasm, native: 'int8' }, small), ['onednn-int8', 'onednn-float', 'xnnpack']);
  assert.deepEqual(convKernelOrder({ ...wasm, native: 'float' }, big), ['onednn-float', 'xnor', 'xnnpack']);
  assert.deepEqual(convKernelOrder({ ...wasm, native: 'xnor' }, big), ['xnor', 'onednn-float', 'xnnpack']);
  assert.deepEqual(convKernelOrder({ ...wasm, native: 'xnor' }, small), ['onednn-float', 'xnnpack']);
  assert.deepEqual(convKernelOrder({ ...wasm, native: 'int8' }, { ...big, plain: false }), ['xnnpack']);
});

test('the logged line names the ±1 kernel and the float one of the policy in force', () => {
  assert.equal(describeConvKernels({ ...wasm, native: 'int8' }), 'Conv2D: ±1 × ±1 by oneDNN int8, else oneDNN float');
  assert.equal(describeConvKernels(wasm), 'Conv2D: ±1 × ±1 by XNOR-popcount (≥ 512 output pixels), else XNNPACK float');
  assert.equal(describeConvKernels({ ...wasm, xnor: false }), 'Conv2D: XNNPACK float');
  const before = setConvPolicy({});
  try {
    setConvPolicy({ native: null, xnor: true, minPixels: 512 });
    assert.equal(
      describeKernelPath('wasm', 'native kernels disabled (BNN_NATIVE=0)'),
      'path=wasm (native kernels disabled (BNN_NATIVE=0); Conv2D: ±1 × ±1 by XNOR-popcount (≥ 512 output pixels), else XNNPACK float)',
    );
  } finally {
    setConvPolicy(before);
  }
});
