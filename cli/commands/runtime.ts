// `reft-studio runtime install|list|remove`: runtime packs in the data folder (today: ONNX Runtime's
// CUDA provider). Work in native-runtime/runtime/runtime-install.ts and cuda-pack.ts.

import { CancelledError, ReftError } from '../../native-runtime/errors.ts';
import { plural } from '../../native-runtime/plural.ts';
import {
  engineEnv,
  LAUNCH_MARKER,
  listPacks,
  type PackManifest,
  type PackStatus,
} from '../../native-runtime/runtime/cuda-pack.ts';
import { installCudaPack, removePack } from '../../native-runtime/runtime/runtime-install.ts';
import { str, UsageError } from '../args.ts';
import { type Command, formatBytes, nextCommand, table } from '../command.ts';
import { catchInterrupts } from '../interrupt.ts';
import type { TransferTask } from '../progress/reporter.ts';
import { shellWord } from '../shell-word.ts';

function describe(p: PackStatus): string {
  const state = p.ready ? (p.active ? 'ready, in use' : 'ready') : 'incomplete';
  const lines = [
    `${p.name}: ${state} — ONNX Runtime ${p.manifest.ortVersion}, CUDA ${p.manifest.cudaMajor ?? '?'}, ${p.dir}`,
  ];
  for (const q of p.problems) lines.push(`  problem: ${q}`);
  for (const m of p.missing)
    lines.push(`  missing ${m.name}${m.required ? '' : ' (recommended)'}: install ${m.hint}`);
  return lines.join('\n');
}

export const runtimeCommands: Command[] = [
  {
    name: 'runtime install',
    summary:
      "install a runtime pack (cuda: ONNX Runtime's CUDA provider, online from NuGet or --from a file/folder)",
    usage: 'runtime install cuda [--from FILE|DIR] [--source NUGET_REGISTRATION_URL]',
    options: {
      from: {
        type: 'string',
        description: 'install from a downloaded .nupkg/.zip/.tgz or a folder (offline)',
      },
      source: { type: 'string', description: 'another NuGet registration URL to download from' },
    },
    examples: [
      'runtime install cuda',
      'runtime install cuda --from ./Microsoft.ML.OnnxRuntime.Gpu.Linux.nupkg',
    ],
    stream: true,
    async run(ctx) {
      const name = ctx.args[0];
      if (name === undefined) throw new UsageError('runtime install: missing NAME (known: cuda)');
      if (name !== 'cuda') throw new UsageError(`runtime install: unknown runtime "${name}" (known: cuda)`);
      // One transfer task per phase (download, extract or copy, verify), each in bytes.
      let phase: { name: string; task: TransferTask } | null = null;
      // Ctrl-C cancels as Settings' Cancel does: the download stops at once, the other phases
      // between steps, and nothing is left behind (no temp folder, no lock); a second one exits.
      const ctrlC = catchInterrupts((msg) => ctx.progress.log(msg), {
        first: 'cancelling the install (Ctrl-C again within 2 s to stop at once)',
        stop: 'stopping now',
      });
      ctrlC.onStopNow(() => {
        ctx.progress.close();
        process.exit(130);
      });
      let m: PackManifest;
      try {
        m = await installCudaPack(ctx.dataDir, {
          from: str(ctx.values, 'from'),
          source: str(ctx.values, 'source'),
          signal: ctrlC.signal,
          onWarning: (text) => ctx.progress.log(text, 'warn'),
          onProgress: (p) => {
            if (phase?.name !== p.phase) {
              phase?.task.done();
              phase = { name: p.phase, task: ctx.progress.transfer({ label: p.phase, totalBytes: p.total }) };
            }
            phase.task.update(p.bytes, p.total);
          },
        });
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        (phase as { task: TransferTask } | null)?.task.done();
        ctx.print(
          { status: 'cancelled' },
          () =>
            'runtime install cancelled; the installed pack (if any) is unchanged, and the same command resumes a partial download',
        );
        return 130;
      } finally {
        ctrlC.release();
      }
      (phase as { task: TransferTask } | null)?.task.done();
      const status = listPacks(ctx.dataDir).find((p) => p.name === 'cuda');
      ctx.print({ installed: m, status }, () =>
        [
          `installed the CUDA pack (ONNX Runtime ${m.ortVersion}, ${plural(m.files.length, 'file')}, ${formatBytes(m.files.reduce((s, f) => s + f.bytes, 0))})`,
          status ? describe(status) : '',
          `the studio and the CLI use it from their next start; check with \`${nextCommand(ctx.values, 'devices')}\``,
        ]
          .filter(Boolean)
          .join('\n'),
      );
      return 0;
    },
  },
  {
    name: 'runtime list',
    summary: 'list installed runtime packs and what each still needs',
    usage: 'runtime list',
    examples: ['runtime list'],
    async run(ctx) {
      const packs = listPacks(ctx.dataDir);
      ctx.print({ packs }, () =>
        packs.length
          ? [
              table(
                ['NAME', 'ORT', 'CUDA', 'STATE', 'SIZE'],
                packs.map((p) => [
                  p.name,
                  p.manifest.ortVersion,
                  p.manifest.cudaMajor,
                  p.ready ? (p.active ? 'ready, in use' : 'ready') : 'incomplete',
                  formatBytes(p.manifest.files.reduce((s, f) => s + f.bytes, 0)),
                ]),
              ),
              ...packs.filter((p) => !p.ready).map(describe),
            ].join('\n')
          : `no runtime packs: \`${nextCommand(ctx.values, 'runtime', 'install', 'cuda')}\` adds the CUDA provider`,
      );
      return 0;
    },
  },
  {
    name: 'runtime env',
    summary:
      'print the environment an engine process gets from the installed CUDA pack (sh export lines: eval "$(reft-studio runtime env)")',
    usage: 'runtime env',
    examples: ['runtime env', 'runtime env --data-dir ./studio-data'],
    async run(ctx) {
      const { [LAUNCH_MARKER]: _started, ...current } = process.env;
      const env = engineEnv(ctx.dataDir, current);
      const vars = env
        ? { LD_LIBRARY_PATH: env.LD_LIBRARY_PATH ?? '', [LAUNCH_MARKER]: env[LAUNCH_MARKER] ?? '' }
        : {};
      ctx.print(
        { env: vars },
        () =>
          Object.entries(vars)
            .map(([k, v]) => `export ${k}=${shellWord(v)}`)
            .join('\n') || '# no usable CUDA runtime pack: nothing to set',
      );
      return 0;
    },
  },
  {
    name: 'runtime remove',
    summary: 'remove an installed runtime pack',
    usage: 'runtime remove NAME',
    examples: ['runtime remove cuda'],
    async run(ctx) {
      const name = ctx.args[0];
      if (!name) throw new UsageError('runtime remove: missing NAME (see `reft-studio runtime list`)');
      const removed = await removePack(ctx.dataDir, name);
      if (!removed)
        throw new ReftError('not-found', `runtime remove: no runtime pack "${name}" is installed`);
      ctx.print({ name, removed }, () => `removed the ${name} runtime pack`);
      return 0;
    },
  },
];
