// `reft-studio models add|list|rm`: base models in the library (logic in library/models.ts).

import {
  addModel,
  listModels,
  type ModelRecord,
  removeModel,
} from '../../electron/backend/library/models.ts';
import { ReftError } from '../../native-runtime/errors.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { type ArgValues, parseId, str, UsageError } from '../args.ts';
import { type Command, formatBytes, formatCount, nextCommand, table } from '../command.ts';
import { warnModelNote } from '../model-flag.ts';

/**
 * Why generation and training cannot use a model's tokenizer, or null: the library's quick check
 * (none, or refused when read: tokenizer/pattern-check.ts), then building it, which also finds
 * what the tokenizers library itself refuses.
 */
function tokenizerProblemOnAdd(m: ModelRecord): string | null {
  if (m.tokenizerProblem) return m.tokenizerProblem.message;
  try {
    loadTokenizer(m.path);
    return null;
  } catch (e) {
    if (e instanceof ReftError) return e.message;
    throw e;
  }
}

/**
 * What to do about models whose folder is gone (moved or deleted since they were added), and why
 * the others that generation and training cannot use are so (their tokenizer), one line each.
 */
function unusableNote(values: ArgValues, models: ModelRecord[]): string {
  const tokenizers = models
    .filter((m) => m.tokenizerProblem)
    .map((m) => `\nmodel ${m.id}: ${m.tokenizerProblem?.message}`)
    .join('');
  const ids = models.filter((m) => m.missing).map((m) => m.id);
  if (ids.length === 0) return tokenizers;
  return (
    tokenizers +
    (ids.length === 1
      ? `\nmodel ${ids[0]}: its folder is gone (moved or deleted); add it from where it is now, and forget this entry with \`${nextCommand(values, 'models', 'rm', ids[0])}\``
      : `\nmodels ${ids.join(', ')}: their folders are gone (moved or deleted); add them from where they are now, and forget each with \`${nextCommand(values, 'models', 'rm', 'ID')}\``)
  );
}

export const modelsCommands: Command[] = [
  {
    name: 'models add',
    summary: 'register a model folder (config.json + safetensors) in the library',
    usage: 'models add DIR [--name NAME]',
    options: { name: { type: 'string', description: 'the name in the library (default: from the folder)' } },
    examples: ['models add ./SmolLM2-135M', 'models add ~/models/Llama-3.2-1B --name "Llama 3.2 1B"'],
    async run(ctx) {
      const dir = ctx.args[0];
      if (!dir) throw new UsageError('missing DIR');
      const m = await ctx.withLibrary((lib) => addModel(lib, { path: dir, name: str(ctx.values, 'name') }));
      warnModelNote(ctx, m.note);
      // Added all the same (`debug forward` needs no tokenizer), but said now rather than by the
      // first `train` or `generate`, as `models inspect` and `models scan` say it.
      const problem = tokenizerProblemOnAdd(m);
      if (problem) ctx.progress.log(problem, 'warn');
      ctx.print(
        { ...m },
        () =>
          `${m.created ? 'model' : m.updated ? 'its files changed, read again: model' : 'already in the library: model'} ${m.id}: ${m.name} (${m.arch}, ${formatCount(m.params)} params, ${m.dtype})`,
      );
      return 0;
    },
  },
  {
    name: 'models list',
    summary: 'list the models in the library',
    usage: 'models list',
    examples: ['models list', 'models list --json'],
    async run(ctx) {
      const models = await ctx.withLibrary((lib) => listModels(lib));
      ctx.print({ models }, () =>
        models.length
          ? table(
              // The folder's files, not only the weights: what deleting it frees, which is what
              // a user weighing what to delete asks (memory needs are `models scan`'s columns).
              ['ID', 'NAME', 'ARCH', 'PARAMS', 'DTYPE', 'ON DISK', 'PATH'],
              models.map((m) => [
                m.id,
                m.name,
                m.arch,
                formatCount(m.params),
                m.dtype,
                formatBytes(m.sizeBytes),
                m.missing
                  ? `${m.path} (missing)`
                  : m.tokenizerProblem
                    ? `${m.path} (no usable tokenizer)`
                    : m.path,
              ]),
              { shrink: [1] }, // the name: the folder is kept whole, to be copied
            ) + unusableNote(ctx.values, models)
          : `no models yet: add one with \`${nextCommand(ctx.values, 'models', 'add', 'DIR')}\``,
      );
      return 0;
    },
  },
  {
    name: 'models rm',
    summary: 'remove a model from the library (its folder is kept; --delete-files deletes a studio download)',
    usage: 'models rm ID [--delete-files]',
    options: {
      'delete-files': {
        type: 'boolean',
        description: 'also delete its files, if the studio downloaded them (never a folder you added)',
      },
    },
    examples: ['models rm 2', 'models rm 2 --delete-files'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const deleteFiles = ctx.values['delete-files'] === true;
      const r = await ctx.withLibrary((lib) => removeModel(lib, id, { deleteFiles }));
      ctx.print({ id, removed: true, deletedBytes: r.deletedBytes }, () =>
        deleteFiles
          ? `removed model ${id} and deleted ${formatBytes(r.deletedBytes)} of its files`
          : `removed model ${id}`,
      );
      return 0;
    },
  },
];
