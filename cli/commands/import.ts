// `reft-studio import DIR`: a pyreft folder (config.json + intkey_*.bin [+ reft_studio.json]) or a
// studio adapter folder into the adapter library. Never executes code from the folder; a failure
// leaves the library as it was (no row, no folder). A folder imported before is not added twice
// ("already in the library", exit 0, as `models add` says of a folder added before) unless --name
// gives the second one a name of its own. The work is electron/backend/library/adapters.ts.

import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { tagsToAdd } from '../../electron/backend/library/tags.ts';
import { checkArgument, positionsFlag, str, UsageError } from '../args.ts';
import { type Command, formatBytes } from '../command.ts';
import { shortFingerprint } from '../model-cell.ts';

export const importCommand: Command = {
  name: 'import',
  summary: 'import a pyreft (or studio) adapter folder into the adapter library',
  usage: 'import DIR [--name NAME] [--model ID|DIR] [--positions f1+l1] [--force-base] [--tag TAG]...',
  options: {
    name: {
      type: 'string',
      description: 'the name in the library (default: from the folder); a new name imports it again',
    },
    model: {
      type: 'string',
      description: 'the base model (library id or folder) when the folder does not name one',
    },
    positions: {
      type: 'string',
      description: 'intervention positions when pyreft did not record them (f1+l1, l3, ...)',
    },
    'force-base': {
      type: 'boolean',
      description: 'accept a base model of the same shape but other weights',
    },
    tag: {
      type: 'string',
      multiple: true,
      description: 'a tag to add (repeat, or separate with commas, for several)',
    },
  },
  examples: ['import ./pyreft-adapter --model 1 --tag pirate'],
  async run(ctx) {
    const dir = ctx.args[0];
    if (!dir) throw new UsageError('missing DIR (a pyreft folder or a studio adapter folder)');
    const tags = Array.isArray(ctx.values.tag) ? ctx.values.tag : undefined;
    const positions = positionsFlag(ctx.values);
    // A tag no adapter could have is bad usage, as `adapters tag` refuses it, before the folder is read.
    if (tags) checkArgument(() => tagsToAdd(tags));
    const r = await ctx.withLibrary((lib) =>
      importAdapter(lib, {
        path: dir,
        name: str(ctx.values, 'name'),
        model: str(ctx.values, 'model'),
        positions,
        forceBase: ctx.values['force-base'] === true,
        tags,
      }),
    );
    // "note: " is for people; an event is a note already.
    for (const n of r.notes) ctx.progress.log(ctx.json ? n : `note: ${n}`);
    const a = r.adapter;
    const m = a.manifest as { layers?: number[]; rank?: number; positions?: string };
    ctx.print({ adapter: a, kind: r.kind, notes: r.notes, created: r.created }, () =>
      r.created
        ? [
            `imported adapter ${a.id} "${a.name}" from a ${r.kind} folder`,
            `type: ${a.type}, layers ${m.layers?.join(', ')}, rank ${m.rank}, positions ${m.positions}`,
            // Named as `adapters list` names it (model-cell.ts).
            `base model: ${a.baseModelName ?? `${shortFingerprint(a.baseModelFingerprint)}… (not in the library)`}`,
            `size: ${formatBytes(a.sizeBytes)}  path: ${a.path}`,
          ].join('\n')
        : `already in the library: adapter ${a.id} "${a.name}", imported before (nothing added; give another --name to add a second one)${
            Array.isArray(tags) && tags.length ? `; its tags now: ${a.tags.join(', ')}` : ''
          }`,
    );
    return 0;
  },
};
