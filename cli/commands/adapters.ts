// `reft-studio adapters list|show|rm|tag`: trained adapters in the library.

import {
  getAdapter,
  listAdapters,
  removeAdapter,
  tagAdapter,
} from '../../electron/backend/library/adapters.ts';
import { parseId, str, UsageError } from '../args.ts';
import { type Command, formatBytes, formatTime, table } from '../command.ts';

export const adaptersCommands: Command[] = [
  {
    name: 'adapters list',
    summary: 'list trained adapters',
    usage: 'adapters list [--tag TAG]',
    options: { tag: { type: 'string' } },
    async run(ctx) {
      const adapters = await ctx.withLibrary((lib) => listAdapters(lib, { tag: str(ctx.values, 'tag') }));
      ctx.print({ adapters }, () =>
        adapters.length
          ? table(
              ['ID', 'NAME', 'TYPE', 'TAGS', 'SIZE', 'CREATED'],
              adapters.map((a) => [
                a.id,
                a.name,
                a.type,
                a.tags.join(',') || '-',
                formatBytes(a.sizeBytes),
                formatTime(a.createdAt),
              ]),
            )
          : 'no adapters yet',
      );
      return 0;
    },
  },
  {
    name: 'adapters show',
    summary: 'show an adapter and its manifest',
    usage: 'adapters show ID',
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const a = await ctx.withLibrary((lib) => getAdapter(lib, id));
      ctx.print(
        { ...a },
        () =>
          `adapter ${a.id} "${a.name}" (${a.type})\npath: ${a.path}\nbase model: ${a.baseModelFingerprint.slice(0, 16)}\n` +
          `tags: ${a.tags.join(', ') || '-'}\nrun: ${a.runId ?? '-'}\nmanifest: ${JSON.stringify(a.manifest)}`,
      );
      return 0;
    },
  },
  {
    name: 'adapters rm',
    summary: 'remove an adapter (its folder too, if it is inside the data folder)',
    usage: 'adapters rm ID',
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const r = await ctx.withLibrary((lib) => removeAdapter(lib, id));
      ctx.print(
        { ...r, removed: true },
        () => `removed adapter ${id}${r.deletedFiles ? ' and its files' : ''}`,
      );
      return 0;
    },
  },
  {
    name: 'adapters tag',
    summary: 'add tags to an adapter (or remove them with --remove)',
    usage: 'adapters tag ID TAG... [--remove]',
    options: { remove: { type: 'boolean' } },
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const tags = ctx.args.slice(1);
      if (!tags.length) throw new UsageError('missing TAG');
      const change = ctx.values.remove === true ? { remove: tags } : { add: tags };
      const a = await ctx.withLibrary((lib) => tagAdapter(lib, id, change));
      ctx.print({ ...a }, () => `adapter ${id} tags: ${a.tags.join(', ') || '-'}`);
      return 0;
    },
  },
];
