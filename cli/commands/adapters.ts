// `reft-studio adapters list|search|show|rm|tag|untag|rename|check`: adapters in the library.
// `show` prints the lineage (base model name and fingerprint, run, dataset version, metrics, size on
// disk) and the adapter's evaluations (`evaluate`, the studio's Evaluate panel), newest first; `check` is the apply rule on its own (refused by base-model fingerprint unless --force-base).

import {
  type AdapterRecord,
  adapterLineage,
  checkAdapterApplies,
  listAdapters,
  removeAdapter,
  renameAdapter,
  tagAdapter,
} from '../../electron/backend/library/adapters.ts';
import { versionName } from '../../electron/backend/library/datasets.ts';
import { type EvaluationRecord, listEvaluations } from '../../electron/backend/library/evaluations.ts';
import { tagsToAdd, tagsToRemove } from '../../electron/backend/library/tags.ts';
import { lineageText } from '../../native-runtime/adapters/lineage-text.ts';
import { INTERVENTION_TYPES } from '../../native-runtime/interventions/kinds.ts';
import { plural } from '../../native-runtime/plural.ts';
import { badValue, checkArgument, parseId, str, UsageError } from '../args.ts';
import { type Command, formatBytes, formatTime, nextCommand, shortTime, table } from '../command.ts';
import { MODEL_CELL_MIN, modelCell, notInLibraryNote, shortFingerprint } from '../model-cell.ts';

/**
 * Adapters at 80 columns, as `runs list` keeps to: the name, the base model's name and the tags take
 * the width the short columns leave and are cut with an ellipsis (`adapters show ID` and --json have
 * them whole). DTYPE is the precision the base computed in while it was trained, named as
 * `train --dtype` names them (auto may have fallen back); "-" where not known (imports). BASE MODEL
 * is the library model the studio shows the adapter against (AdapterRecord.baseModelName); where no
 * library model has its weights, the fingerprint's prefix marked * (modelCell), never cut.
 */
function adapterTable(adapters: AdapterRecord[], now = Date.now()): string {
  if (!adapters.length) return 'no adapters match';
  const text = table(
    ['ID', 'NAME', 'TYPE', 'DTYPE', 'BASE MODEL', 'TAGS', 'SIZE', 'CREATED'],
    adapters.map((a) => [
      String(a.id),
      a.name,
      a.type,
      a.precision ?? '-',
      modelCell(a.baseModelName, a.baseModelFingerprint),
      a.tags.join(',') || '-',
      formatBytes(a.sizeBytes),
      shortTime(a.createdAt, now),
    ]),
    // The name, the base model and the tags give way (`adapters show ID` has them whole), down to
    // 10 columns each (at the usual 12, a row with long name and tags was 81 wide); BASE MODEL not
    // below a marked fingerprint, to be passed whole as --base-model.
    { shrink: [1, 4, 5], min: 10, mins: { 4: MODEL_CELL_MIN } },
  );
  return adapters.some((a) => a.baseModelName === null) ? `${text}\n${notInLibraryNote('BASE MODEL')}` : text;
}

/** Metrics as `name=value`, 5 significant digits for fractions; '-' for none. */
function metricsText(m: Record<string, number>): string {
  const parts = Object.entries(m).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(5)}`);
  return parts.join(', ') || '-';
}

/**
 * An adapter's evaluations: on what data, what each measured, or why it has no result (its error).
 * With none, the command that evaluates this adapter in this library; DATA is left to fill in.
 */
function evaluationTable(
  evaluations: EvaluationRecord[],
  dataNames: Map<number, string | null>,
  evaluateIt: string,
): string {
  if (!evaluations.length)
    return `evaluations: none; evaluate it with \`${evaluateIt}\` (DATA: a dataset id or a data file)`;
  const rows = evaluations.map((e) => [
    e.id,
    e.kind,
    e.status,
    (e.datasetVersionId !== null && dataNames.get(e.datasetVersionId)) || '-',
    e.examples,
    formatTime(e.createdAt),
    Object.keys(e.metrics).length ? metricsText(e.metrics) : (e.error ?? '-'),
  ]);
  // Not fitted to 80 columns: this is `show`, the detail view, where the data's name and the metrics
  // are read whole (cut to fit, DATA was "dataset “De…" beside a line of metrics).
  return `evaluations:\n${table(['ID', 'KIND', 'STATUS', 'DATA', 'EXAMPLES', 'CREATED', 'RESULT'], rows)}`;
}

export const adaptersCommands: Command[] = [
  {
    name: 'adapters list',
    summary: 'list adapters (filter by tag, type, base model fingerprint or free text)',
    usage: 'adapters list [--tag TAG] [--type loreft] [--base-model FINGERPRINT] [--search TEXT]',
    options: {
      tag: {
        type: 'string',
        description: 'only adapters with this tag (several, comma-separated: with all of them)',
      },
      type: { type: 'string', description: 'only this intervention type (loreft, noreft, direft, ...)' },
      'base-model': {
        type: 'string',
        description: 'only adapters for this base model fingerprint (or prefix)',
      },
      search: { type: 'string', description: 'free text: name, tag, type, base model name or fingerprint' },
    },
    examples: ['adapters list --tag pirate', 'adapters list --type loreft --json'],
    async run(ctx) {
      const type = str(ctx.values, 'type');
      if (type !== undefined && !(INTERVENTION_TYPES as readonly string[]).includes(type))
        throw badValue('--type', `one of ${INTERVENTION_TYPES.join(', ')}`, type);
      const filter = {
        tag: str(ctx.values, 'tag'),
        type,
        baseModelFingerprint: str(ctx.values, 'base-model'),
        query: str(ctx.values, 'search'),
      };
      const adapters = await ctx.withLibrary((lib) => listAdapters(lib, filter));
      // An empty list under a filter says so: "no adapters yet" read as if the library had none.
      const filtered = Object.values(filter).some((v) => v !== undefined);
      ctx.print({ adapters }, () =>
        adapters.length || filtered ? adapterTable(adapters) : 'no adapters yet',
      );
      return 0;
    },
  },
  {
    name: 'adapters search',
    summary: 'find adapters by name, tag, type, base model name or fingerprint prefix',
    usage: 'adapters search TEXT...',
    examples: ['adapters search pirate'],
    async run(ctx) {
      const query = ctx.args.join(' ').trim();
      if (!query) throw new UsageError('missing TEXT');
      const adapters = await ctx.withLibrary((lib) => listAdapters(lib, { query }));
      ctx.print({ adapters }, () => adapterTable(adapters));
      return 0;
    },
  },
  {
    name: 'adapters show',
    summary: 'show an adapter: base model, run, dataset version, metrics, size and its evaluations',
    usage: 'adapters show ID',
    examples: ['adapters show 3'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const { l, evaluations, dataNames } = await ctx.withLibrary((lib) => {
        const evaluations = listEvaluations(lib, { adapterId: id });
        // How people know the data evaluated on (dataset “name” vN), for the table.
        const versions = evaluations.flatMap((e) =>
          e.datasetVersionId !== null ? [e.datasetVersionId] : [],
        );
        return {
          l: adapterLineage(lib, id),
          evaluations,
          dataNames: new Map(versions.map((v) => [v, versionName(lib, v)])),
        };
      });
      const a = l.adapter;
      ctx.print({ ...a, lineage: l, evaluations }, () =>
        [
          `adapter ${a.id} "${a.name}" (${a.type})`,
          `path: ${a.path}${l.filesPresent ? '' : ' (MISSING)'}`,
          `base model: ${l.baseModel.name ?? '(not in the library)'} ${l.baseModel.arch ? `[${l.baseModel.arch}] ` : ''}fingerprint ${shortFingerprint(l.baseModel.fingerprint)}`,
          `layers: ${l.layers.join(', ') || '-'}  positions: ${l.positions ?? '-'}  rank: ${l.rank ?? '-'}  interventions: ${l.interventions}`,
          `run: ${l.run ? `${l.run.id}${l.run.name ? ` "${l.run.name}"` : ''} (${l.run.status}${l.run.lastLoss != null ? `, last loss ${l.run.lastLoss.toPrecision(4)}` : ''})` : (l.runRef ?? '-')}`,
          `dataset: ${l.dataset ? `${l.dataset.name} v${l.dataset.version} (${plural(l.dataset.rowCount, 'row')})` : (l.datasetVersion ?? '-')}`,
          // What the base computed in while it was trained; an import records none (never guessed).
          `precision: ${a.precision ?? 'not recorded'}`,
          `metrics: ${metricsText(l.metrics)}`,
          ...(l.exported ? [`exported from: ${lineageText(l.exported)}`] : []),
          ...(l.importAssumed ? [`assumed on import: ${l.importAssumed}`] : []),
          `tags: ${a.tags.join(', ') || '-'}`,
          `size on disk: ${formatBytes(l.sizeOnDisk)}${l.pyreftOriginals ? ' (includes the original pyreft files)' : ''}`,
          `created: ${formatTime(a.createdAt)}`,
          evaluationTable(
            evaluations,
            dataNames,
            nextCommand(ctx.values, 'evaluate', '--adapter', a.id, '--data', 'DATA'),
          ),
        ].join('\n'),
      );
      return 0;
    },
  },
  {
    name: 'adapters rm',
    summary: 'remove an adapter (its folder too, if it is inside the data folder)',
    usage: 'adapters rm ID',
    examples: ['adapters rm 3'],
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
    summary: 'add tags to an adapter (or remove them with --remove); a comma separates tags too',
    usage: 'adapters tag ID TAG... [--remove]',
    options: { remove: { type: 'boolean', description: 'remove the tags instead of adding them' } },
    examples: ['adapters tag 3 pirate best', 'adapters tag 3 pirate,best', 'adapters tag 3 best --remove'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const tags = ctx.args.slice(1);
      if (!tags.length) throw new UsageError('missing TAG');
      // A tag no adapter could have (empty, over 64 characters), or an entry naming no tag to remove
      // (only commas), is bad usage, refused before the library opens.
      const remove = ctx.values.remove === true;
      checkArgument(() => (remove ? tagsToRemove(tags, []) : tagsToAdd(tags)));
      const change = remove ? { remove: tags } : { add: tags };
      const a = await ctx.withLibrary((lib) => tagAdapter(lib, id, change));
      ctx.print({ ...a }, () => `adapter ${id} tags: ${a.tags.join(', ') || '-'}`);
      return 0;
    },
  },
  {
    name: 'adapters untag',
    summary: 'remove tags from an adapter',
    usage: 'adapters untag ID TAG...',
    examples: ['adapters untag 3 best'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const tags = ctx.args.slice(1);
      if (!tags.length) throw new UsageError('missing TAG');
      checkArgument(() => tagsToRemove(tags, []));
      const a = await ctx.withLibrary((lib) => tagAdapter(lib, id, { remove: tags }));
      ctx.print({ ...a }, () => `adapter ${id} tags: ${a.tags.join(', ') || '-'}`);
      return 0;
    },
  },
  {
    name: 'adapters rename',
    summary: 'rename an adapter',
    usage: 'adapters rename ID NAME...',
    examples: ['adapters rename 3 "Pirate persona, rank 4"'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const name = ctx.args.slice(1).join(' ');
      if (!name.trim()) throw new UsageError('missing NAME');
      const a = await ctx.withLibrary((lib) => renameAdapter(lib, id, name));
      ctx.print({ ...a }, () => `adapter ${id} is now "${a.name}"`);
      return 0;
    },
  },
  {
    name: 'adapters check',
    summary:
      'check that an adapter may be applied to a model (same base model, or --force-base for the same shape)',
    usage: 'adapters check ID|DIR --model ID|DIR [--force-base]',
    options: {
      model: { type: 'string', description: 'the model to apply it to: a library id or a folder' },
      'force-base': {
        type: 'boolean',
        description: 'accept another base model of the same shape (layers, hidden size)',
      },
    },
    examples: [
      'adapters check 3 --model 1',
      'adapters check ./my-adapter --model ./Llama-3.2-1B --force-base',
    ],
    async run(ctx) {
      const adapter = ctx.args[0];
      if (!adapter) throw new UsageError('missing ID|DIR');
      const model = str(ctx.values, 'model');
      if (!model) throw new UsageError('missing --model ID|DIR');
      const r = await ctx.withLibrary((lib) =>
        checkAdapterApplies(lib, { adapter, model, forceBase: ctx.values['force-base'] === true }),
      );
      ctx.print({ ok: true, ...r }, () =>
        r.forced
          ? `ok (forced): ${r.adapter} was trained for another base model of the same shape as ${r.model}`
          : `ok: ${r.adapter} was trained for ${r.model}`,
      );
      return 0;
    },
  },
];
