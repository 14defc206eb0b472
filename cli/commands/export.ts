// `reft-studio export`: an adapter as a pyreft folder (what `pyreft.ReftModel.load(dir, model)`
// reads), or a run as a scale-out bundle (a ready-to-run pyreft training folder, adapters/bundle.ts).
// Both write atomically and check --out first (library/export-destination.ts): never in or around
// the data folder; an existing folder only when it is a previous export, and then only with --force.

import { join } from 'node:path';
import {
  checkRunDataKept,
  exportAdapter,
  runTrainingSource,
} from '../../electron/backend/library/adapters.ts';
import { checkExportDestination } from '../../electron/backend/library/export-destination.ts';
import { bundleRowsText } from '../../native-runtime/adapters/bundle.ts';
import { ConfigError } from '../../native-runtime/errors.ts';
import { FILE_LIMITS, readJsonObject } from '../../native-runtime/formats/json-file.ts';
import { plural } from '../../native-runtime/plural.ts';
import { type ArgValues, badValue, parseId, str, UsageError } from '../args.ts';
import { type Command, nextCommand } from '../command.ts';
import { dataFileOf } from '../data-flags.ts';
import { catchInterrupts } from '../interrupt.ts';
import { shellWord } from '../shell-word.ts';
import { makeBundleStoppable, type StoppedExport } from '../stoppable-bundle.ts';

function readConfigFile(path: string): Record<string, unknown> & { model: string } {
  // Capped, regular files only, and errors that never quote the file (json-file.ts).
  const c = readJsonObject(path, path, FILE_LIMITS.config, 'bad-config');
  if (typeof c.model !== 'string')
    throw new ConfigError('bad-config', `${path}: "model" (the model folder) is missing`);
  return c as Record<string, unknown> & { model: string };
}

/** The one line a stopped export prints: what its folder holds now. */
function stoppedLine(out: string, s: { stopped: StoppedExport }): string {
  if (s.stopped === 'nothing') return `export stopped; nothing was written to ${out}`;
  if (s.stopped === 'kept') return `export stopped; the previous export in ${out} is kept unchanged`;
  return `export stopped, but only after it was complete: ${out} holds the new bundle`;
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'export an adapter as a pyreft folder, or a run as a scale-out pyreft training bundle',
  usage:
    'export --adapter DIR|ID --format pyreft --out DIR [--force]  |  export --format bundle (--run ID | --config FILE) [--data ID|FILE] --out DIR [--force]',
  options: {
    adapter: { type: 'string', description: 'the adapter: a library id or a folder (--format pyreft)' },
    format: { type: 'string', value: 'pyreft|bundle', description: 'pyreft (default) or bundle' },
    out: { type: 'string', description: 'the folder to write' },
    force: { type: 'boolean', description: 'replace --out if it holds a previous export' },
    run: { type: 'string', value: 'ID', description: 'the library run to bundle (--format bundle)' },
    config: {
      type: 'string',
      description: 'a training config file to bundle instead of a run (--format bundle)',
    },
    data: {
      type: 'string',
      value: 'ID|FILE',
      description:
        "the training data for the bundle: a library dataset id or a JSONL/JSON/CSV/TSV file (default: the run's data)",
    },
  },
  examples: [
    'export --adapter 3 --format pyreft --out ./pirate-pyreft',
    'export --format bundle --run 7 --out ./bundle',
  ],
  async run(ctx) {
    const format = str(ctx.values, 'format') ?? 'pyreft';
    if (format !== 'pyreft' && format !== 'bundle') throw badValue('--format', 'pyreft or bundle', format);
    refuseOtherFormFlags(ctx.values, format);
    const out = str(ctx.values, 'out');
    if (!out) throw new UsageError('missing --out DIR');
    const force = ctx.values.force === true;
    if (format === 'pyreft') {
      const adapter = str(ctx.values, 'adapter');
      if (!adapter) throw new UsageError('missing --adapter DIR|ID');
      // A pyreft folder is small (an adapter's parameters: well under a second to write), so a
      // Ctrl-C or SIGTERM meanwhile lets it finish rather than end the process mid-write, which left
      // its temp folder beside --out: the write is synchronous, and the signal is heard after it.
      const ctrlC = catchInterrupts(() => {});
      let r: ReturnType<typeof exportAdapter>;
      try {
        r = await ctx.withLibrary((lib) => exportAdapter(lib, { adapter, out, force }));
      } finally {
        ctrlC.release();
      }
      ctx.print(
        { out: r.out, format, exact: r.exact, files: r.files },
        () =>
          `wrote pyreft folder ${r.out} (${plural(r.files.length, 'file')}${r.exact ? '; the original pyreft files byte for byte' : ''})`,
      );
      return 0;
    }
    if (format === 'bundle') {
      const runRef = str(ctx.values, 'run');
      const cfgFile = str(ctx.values, 'config');
      if (!!runRef === !!cfgFile) throw new UsageError('give either --run ID or --config FILE');
      const dataRef = str(ctx.values, 'data');
      const src = runRef
        ? await ctx.withLibrary((lib) => {
            const id = parseId(runRef, '--run');
            const s = runTrainingSource(lib, id);
            if (dataRef === undefined)
              checkRunDataKept(lib, id, s.data, 'give --data ID|FILE with rows to bundle');
            return s;
          })
        : { config: readConfigFile(cfgFile as string), data: null, heldOutRemoved: false };
      const data = (await dataFileOf(ctx, dataRef)) ?? src.data ?? undefined;
      const dest = checkExportDestination(out, { dataDir: ctx.dataDir, force, label: '--out' });
      // Ctrl-C (or SIGTERM) stops the write at once and leaves the folder as it was
      // (stoppable-bundle.ts); the line saying so is the only one printed.
      const ctrlC = catchInterrupts(() => {});
      let written: Awaited<ReturnType<typeof makeBundleStoppable>>;
      try {
        written = await makeBundleStoppable(
          { config: src.config, data, heldOutRemoved: src.heldOutRemoved, out: dest, force, asExport: true },
          ctrlC.signal,
        );
      } finally {
        ctrlC.release();
      }
      if ('stopped' in written) {
        ctx.print({ status: 'cancelled', out: dest, left: written.stopped }, () =>
          stoppedLine(dest, written),
        );
        return 130; // 128 + SIGINT, as the other interrupted commands
      }
      const r = written.result;
      ctx.print({ out: r.out, format, files: r.files, config: r.config }, () =>
        [
          `wrote a pyreft training bundle to ${r.out} (${bundleRowsText(r.config)})`,
          `  pip install pyreft`,
          `  cd ${shellWord(r.out)} && torchrun --nproc_per_node N train.py`,
          `  ${nextCommand(ctx.values, 'import', join(r.out, 'result'))}`,
        ].join('\n'),
      );
      return 0;
    }
    throw badValue('--format', 'pyreft or bundle', format);
  },
};

/** The flags only one --format takes (the usage line's two forms). */
const FORM_FLAGS = { pyreft: ['adapter'], bundle: ['run', 'config', 'data'] } as const;

/**
 * A flag of the other form is refused: `export --adapter 3 --run 7` exported adapter 3 and passed
 * over --run in silence, as `--format bundle` passed over --adapter.
 */
function refuseOtherFormFlags(values: ArgValues, format: 'pyreft' | 'bundle'): void {
  const other = format === 'pyreft' ? 'bundle' : 'pyreft';
  const given = FORM_FLAGS[other].find((f) => values[f] !== undefined);
  if (given) throw new UsageError(`--${given} is for --format ${other}; --format ${format} does not take it`);
}
