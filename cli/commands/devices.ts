// `reft-studio devices`: GPUs, drivers and every ONNX Runtime execution provider with its state and,
// when it cannot run here, why (native-runtime/runtime/devices.ts does the work).

import { MIB, memoryGiB } from '../../native-runtime/byte-size.ts';
import { plural } from '../../native-runtime/plural.ts';
import type { ThreadChoice } from '../../native-runtime/runtime/cpu-threads.ts';
import { detectDevices } from '../../native-runtime/runtime/devices.ts';
import { computeLabel } from '../../native-runtime/runtime/gpus.ts';
import { type Command, table } from '../command.ts';

const threads = (n: number) => plural(n, 'thread');
const THREADS_FROM: Record<ThreadChoice['from'], (n: number) => string> = {
  REFT_STUDIO_THREADS: (n) => `${threads(n)} (REFT_STUDIO_THREADS, the Settings page's CPU threads)`,
  cores: (n) => `${threads(n)}, one per core`,
  onnxruntime: () => 'one thread per core as ONNX Runtime counts them',
};

export const devicesCommand: Command = {
  name: 'devices',
  summary: 'GPUs, drivers and execution providers: which run here, and why the others do not',
  usage: 'devices',
  examples: ['devices', 'devices --json'],
  async run(ctx) {
    const r = await detectDevices({ dataDir: ctx.dataDir });
    ctx.print({ ...r }, () => {
      const lines: string[] = [];
      const { cpu } = r;
      lines.push(
        `CPU: ${cpu.model ?? 'unknown'}, ${cpu.logicalCpus} logical CPUs; ONNX Runtime's CPU kernels run on ${THREADS_FROM[cpu.from](cpu.threads)}`,
        r.nvidia.gpus.length
          ? r.nvidia.gpus
              .map(
                (g) =>
                  `GPU ${g.index}: ${g.name}${g.memoryMb ? `, ${memoryGiB(g.memoryMb * MIB)}` : ''}${g.computeCapability ? `, ${computeLabel(g.computeCapability)}` : ''} (NVIDIA driver ${r.nvidia.driverVersion ?? '?'}${r.nvidia.driverCudaVersion ? `, CUDA ≤ ${r.nvidia.driverCudaVersion}` : ''})`,
              )
              .join('\n')
          : `NVIDIA: ${r.nvidia.note ?? 'no GPU'}`,
      );
      // Which one CUDA runs on, where there is a choice (gpu-choice.ts).
      // (A chosen GPU that does not exist is the CUDA row's reason below.)
      const listed = r.nvidia.gpus.some((g) => g.index === r.gpu?.index);
      if (r.gpu && listed && (r.nvidia.gpus.length > 1 || r.gpu.from === 'REFT_STUDIO_GPU'))
        lines.push(
          `CUDA runs on GPU ${r.gpu.index ?? '?'} (${r.gpu.from === 'default' ? 'the first; REFT_STUDIO_GPU=N or Settings → GPU picks another' : "REFT_STUDIO_GPU, the Settings page's GPU"})`,
        );
      if (r.platform === 'linux')
        lines.push(
          `Vulkan: ${r.vulkan.loader ? 'loader found' : 'no loader (libvulkan.so.1)'}; drivers: ${r.vulkan.drivers.map((d) => d.library.replace(/^.*\//, '')).join(', ') || 'none'}`,
        );
      lines.push(
        `CUDA pack: ${r.cudaPack ? `${r.cudaPack.dir} (ONNX Runtime ${r.cudaPack.manifest.ortVersion}, CUDA ${r.cudaPack.manifest.cudaMajor ?? '?'})` : 'not installed'}`,
        '',
        table(
          ['PROVIDER', 'STATE', 'WHY'],
          r.providers.map((p) => [
            p.name,
            p.state +
              (p.software ? ' (software)' : '') +
              (p.needsRestart ? ' (after restart)' : '') +
              (p.name === 'webgpu' && p.state === 'available' ? (p.half ? ', fp16' : ', fp32 only') : ''),
            p.reason ?? '',
          ]),
        ),
        '',
        `--device auto runs on: ${r.auto}`,
      );
      return lines.join('\n');
    });
    return 0;
  },
};
