// `reft-studio models scan [DIR] [--add]` and `models download ORG/NAME [--revision REV]`: models
// from the Hugging Face cache and the Hub (logic in electron/backend/hub/).

import { checkRepoId, checkRevision } from '../../electron/backend/hub/cache.ts';
import { hubCacheDir } from '../../electron/backend/hub/cache-dir.ts';
import { hubEndpoint } from '../../electron/backend/hub/client.ts';
import { fetchModel } from '../../electron/backend/hub/fetch-model.ts';
import { scanForModels } from '../../electron/backend/hub/scan.ts';
import { deviceMemories } from '../../electron/backend/library/device-memory.ts';
import { addModel, listModels } from '../../electron/backend/library/models.ts';
import { CancelledError } from '../../native-runtime/errors.ts';
import { plural } from '../../native-runtime/plural.ts';
import { checkArgument, str, UsageError } from '../args.ts';
import {
  type Command,
  type CommandContext,
  formatBytes,
  formatCount,
  nextCommand,
  table,
} from '../command.ts';
import { transferReporter } from '../transfer-progress.ts';

const scanCommand: Command = {
  name: 'models scan',
  summary:
    'find models in the Hugging Face cache (or DIR) and say which the studio can use; --add registers them',
  usage: 'models scan [DIR] [--add]',
  options: { add: { type: 'boolean', description: 'add every supported model found to the library' } },
  examples: ['models scan', 'models scan ~/models --add'],
  async run(ctx) {
    const where = ctx.args[0] === undefined ? { cacheDir: hubCacheDir() } : { dir: ctx.args[0] };
    // "What fits" weighs the GPU runs would use too, as the studio's models/scan does.
    const result = scanForModels(where, { devices: await deviceMemories() });
    const add = ctx.values.add === true;
    const models = await ctx.withLibrary((lib) => {
      const known = new Map(listModels(lib).map((m) => [m.path, m.id]));
      return result.models.map((m) => {
        let modelId = known.get(m.path) ?? null;
        let added = false;
        if (add && m.supported && modelId === null) {
          const rec = addModel(lib, { path: m.path });
          modelId = rec.id;
          added = rec.created;
        }
        return { ...m, modelId, added };
      });
    });
    ctx.print({ dir: result.dir, cacheLayout: result.cacheLayout, models }, () => {
      if (models.length === 0) return `no models found in ${result.dir}`;
      const fp32 = (m: (typeof models)[number], k: 'chatBytes' | 'trainBytes') =>
        formatBytes(m.fit?.rows.find((r) => r.precision === 'fp32')?.[k]);
      const rows = models.map((m) => [
        m.supported ? (m.modelId !== null ? `#${m.modelId}` : 'ok') : 'no',
        m.name,
        m.arch,
        formatCount(m.params),
        m.dtype,
        formatBytes(m.sizeBytes),
        m.supported ? fp32(m, 'chatBytes') : '',
        m.supported ? fp32(m, 'trainBytes') : '',
        m.supported ? m.path : (m.reason?.message ?? ''),
      ]);
      return `${table(['', 'NAME', 'ARCH', 'PARAMS', 'DTYPE', 'SIZE', 'CHAT', 'TRAIN', 'FOLDER / WHY NOT'], rows, { shrink: [1] })}\n(memory: fp32, chat with 4096 tokens, training LoReFT r4 batch 4×512; fewer tokens where a model's context is shorter)\n${scanFooter(ctx, models, add)}`;
    });
    return 0;
  },
};

/** What a scan's table leads to: what --add did, what is left to add and how, or why nothing is. */
function scanFooter(
  ctx: CommandContext,
  models: { supported: boolean; modelId: number | null; added: boolean }[],
  add: boolean,
): string {
  // "Every supported model is in the library" read as true of a scan that found none it can use.
  if (!models.some((m) => m.supported))
    return 'none of these models is supported (the last column says why): nothing to add';
  if (add) return `added ${plural(models.filter((m) => m.added).length, 'model')} to the library`;
  const usable = models.filter((m) => m.supported && m.modelId === null).length;
  if (!usable) return 'every supported model found is in the library';
  const command = nextCommand(ctx.values, 'models', 'scan', ...ctx.args.slice(0, 1), '--add');
  return `${plural(usable, 'supported model')} not in the library yet: add ${usable === 1 ? 'it' : 'them'} with \`${command}\``;
}

const downloadCommand: Command = {
  name: 'models download',
  summary: 'download a model from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN) into the HF cache and add it',
  usage: 'models download ORG/NAME [--revision REV]',
  options: {
    revision: { type: 'string', description: 'a branch, tag or commit (default main)' },
  },
  examples: [
    'models download HuggingFaceTB/SmolLM2-135M',
    'models download Qwen/Qwen2.5-0.5B --revision main --json',
  ],
  stream: true,
  async run(ctx) {
    if (!ctx.args[0]) throw new UsageError('missing ORG/NAME');
    // A malformed id or revision is refused as bad usage, before the Hub is asked.
    const repo = checkArgument(() => checkRepoId(ctx.args[0]));
    const given = str(ctx.values, 'revision');
    const revision = given === undefined ? undefined : checkArgument(() => checkRevision(given));
    // So is an HF_ENDPOINT that is no URL: the invocation is wrong before anything is asked.
    checkArgument(() => hubEndpoint());
    const progress = transferReporter(ctx.progress);
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const res = await fetchModel(repo, {
        revision,
        cacheDir: hubCacheDir(),
        signal: abort.signal,
        onResolved: (info, files) =>
          progress.log(
            `${info.repo}@${info.commit.slice(0, 10)}: ${plural(files.length, 'file')}, ${formatBytes(files.reduce((s, f) => s + f.size, 0))}`,
          ),
        onWait: (file) =>
          progress.log(`${file}: another process is downloading it; waiting for it to finish`),
        onProgress: (p) => progress.update(p),
      });
      progress.done();
      const model = await ctx.withLibrary((lib) => addModel(lib, { path: res.path, downloaded: true }));
      ctx.print({ ...res, model }, () =>
        [
          `downloaded ${res.repo}@${res.commit.slice(0, 10)} into ${res.path}`,
          `  ${formatBytes(res.bytesFetched)} fetched, ${res.reused.length} file(s) already in the cache`,
          `model ${model.id}: ${model.name} (${model.arch}, ${formatCount(model.params)} params, ${model.dtype})`,
        ].join('\n'),
      );
      return 0;
    } catch (e) {
      progress.done();
      if (e instanceof CancelledError) {
        // The same download: the revision it asked for, into the same library.
        const again = nextCommand(
          ctx.values,
          'models',
          'download',
          repo,
          ...(given === undefined ? [] : ['--revision', given]),
        );
        ctx.print(
          { status: 'cancelled', repo, resume: again },
          () => `download cancelled; partial files are kept: \`${again}\` resumes it`,
        );
        return 130;
      }
      throw e;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};

export const modelsHubCommands: Command[] = [scanCommand, downloadCommand];
