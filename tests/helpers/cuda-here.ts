// How a request for CUDA is refused on this machine when its runtime pack is missing (session.ts
// cudaMissing): with no NVIDIA driver or GPU that comes first, else the pack's advice. Tests that ask
// for CUDA run on machines of both kinds (scripts/gpu-check.sh runs some on a GPU).

import { detectNvidia } from '../../native-runtime/runtime/gpus.ts';

/** The start of the reason, as a RegExp source (the fallback line after "cuda: "). */
export async function cudaMissingHere(): Promise<string> {
  return (await detectNvidia()).driverLoaded
    ? 'the CUDA runtime pack is not installed'
    : 'no NVIDIA GPU: no NVIDIA driver loaded';
}
