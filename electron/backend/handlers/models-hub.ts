// 'models/*' for the Hugging Face side of the library: scan the cache (or a folder), search the Hub,
// preview a repository (files, size, what fits), download it as a backend job (progress pushed on
// 'jobs/progress' to every client, cancellable), and list the downloads in flight. Logic in hub/.

import { z } from 'zod';
import { toWireError } from '../../../native-runtime/errors.ts';
import { freeBytes } from '../../../native-runtime/formats/safetensors-stream.ts';
import { blobPath, checkRepoId, checkRevision } from '../hub/cache.ts';
import { hubCacheDir } from '../hub/cache-dir.ts';
import {
  type HubFile,
  type HubSearchResult,
  hubAccess,
  hubEndpoint,
  hubToken,
  repoInfo,
  searchModels,
} from '../hub/client.ts';
import { blobComplete, type DownloadProgress, remainingBytes } from '../hub/download.ts';
import { fetchModel, modelFiles, withFullConfig } from '../hub/fetch-model.ts';
import type { ScannedModel } from '../hub/scan.ts';
import type { JobInfo, JobQueue } from '../jobs/queue.ts';
import { deviceMemories } from '../library/device-memory.ts';
import { type ModelFit, modelFit, shapeFromConfig } from '../library/model-fit.ts';
import { addModel, listModels } from '../library/models.ts';
import { checkSourcePath } from '../library/source-path.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

export interface HubPreview {
  repo: string;
  revision: string;
  commit: string;
  search: HubSearchResult;
  supported: boolean;
  reason: { code: string; message: string } | null;
  files: { path: string; size: number; cached: boolean }[];
  totalBytes: number;
  /** Bytes of the files not already in the cache. */
  missingBytes: number;
  /** What a download would still fetch: missingBytes less what partial files (a cancelled or dropped download) hold. */
  remainingBytes: number;
  cacheDir: string;
  freeBytes: number;
  fit: ModelFit | null;
}

export interface DownloadJob extends JobInfo {
  repo: string;
  /** The branch, tag or commit asked for ('main' when none was). */
  revision: string;
  download: DownloadProgress | null;
  modelId: number | null;
}

interface DownloadState {
  repo: string;
  revision: string;
  /** What decides the files fetched: repository, revision and the cache they go to. */
  key: string;
  download: DownloadProgress | null;
  modelId: number | null;
}

// Latest transfer numbers per job, per backend (tests run several backends in one process).
const states = new WeakMap<JobQueue, Map<number, DownloadState>>();

function stateOf(jobs: JobQueue): Map<number, DownloadState> {
  const m = states.get(jobs) ?? new Map<number, DownloadState>();
  states.set(jobs, m);
  return m;
}

/** A setting's value, or why it is refused (the message a person reads). */
function judged<T>(read: () => T): { value: T | null; error: string | null } {
  try {
    return { value: read(), error: null };
  } catch (e) {
    return { value: null, error: (e as Error).message };
  }
}

const Repo = z.string().min(3).max(200);
const Revision = z.string().min(1).max(200).optional();

export const modelsHubHandlers = defineHandlers({
  /**
   * Where the studio looks: the cache folder, the Hub endpoint and whether a token is set; an
   * HF_ENDPOINT that is no http(s) URL and a token that is no token each said by its own field.
   */
  'models/hub-status': handler(
    z.object({}).strict(),
    (): {
      cacheDir: string;
      endpoint: string;
      endpointError: string | null;
      tokenSet: boolean;
      tokenError: string | null;
    } => {
      const endpoint = judged(() => hubEndpoint());
      const token = judged(() => hubToken());
      return {
        cacheDir: hubCacheDir(),
        endpoint: endpoint.value ?? process.env.HF_ENDPOINT ?? '',
        endpointError: endpoint.error,
        // A token that is refused is set all the same.
        tokenSet: token.error !== null || token.value !== null,
        tokenError: token.error,
      };
    },
  ),
  /** Snapshots of the Hugging Face cache (default) or models below a folder, with library ids. */
  'models/scan': handler(
    z.object({ dir: z.string().min(1).max(4096).optional() }).strict(),
    async (
      p,
      ctx,
    ): Promise<{
      dir: string;
      cacheLayout: boolean;
      models: (ScannedModel & { modelId: number | null })[];
    }> => {
      const where = p.dir === undefined ? { cacheDir: hubCacheDir() } : { dir: checkSourcePath(p.dir) };
      // In the engine's 'files' process: reading hundreds of models' files held the loop for a minute.
      const opts = { devices: await deviceMemories() };
      const res = await ctx.engine.call('scanModels', { where, opts });
      const known = new Map(listModels(ctx.lib).map((m) => [m.path, m.id]));
      return { ...res, models: res.models.map((m) => ({ ...m, modelId: known.get(m.path) ?? null })) };
    },
  ),
  'models/search': handler(
    z.object({ query: z.string().max(200), limit: z.number().int().min(1).max(100).optional() }).strict(),
    (p): Promise<HubSearchResult[]> => searchModels(p.query, { limit: p.limit }),
  ),
  /** What a download would fetch and need, before it starts. */
  'models/hub-info': handler(
    z.object({ repo: Repo, revision: Revision }).strict(),
    async (p): Promise<HubPreview> => {
      const access = hubAccess();
      const cacheDir = hubCacheDir();
      // Judged on the whole config.json, as the download judges it: no "what fits" for a model it refuses.
      const info = await withFullConfig(
        await repoInfo(checkRepoId(p.repo), p.revision ?? 'main', access),
        access,
        cacheDir,
      );
      let reason: HubPreview['reason'] = info.unsupported;
      let files: HubFile[] = [];
      if (!reason)
        try {
          files = await modelFiles(info, access);
        } catch (e) {
          const w = toWireError(e);
          reason = { code: w.code, message: w.message };
        }
      const withCache = files.map((f) => ({
        path: f.path,
        size: f.size,
        // A blob of another size is damaged: a download fetches it again, so it is not counted cached.
        cached: blobComplete(blobPath(cacheDir, info.repo, f.etag), f),
      }));
      const shape = !reason && info.config ? shapeFromConfig(info.config, info.params) : null;
      const { files: _all, config: _cfg, commit, revision, ...search } = info;
      return {
        repo: info.repo,
        revision,
        commit,
        search,
        supported: reason === null,
        reason,
        files: withCache,
        totalBytes: withCache.reduce((s, f) => s + f.size, 0),
        missingBytes: withCache.filter((f) => !f.cached).reduce((s, f) => s + f.size, 0),
        remainingBytes: files.reduce((s, f) => s + remainingBytes(cacheDir, info.repo, f), 0),
        cacheDir,
        freeBytes: freeBytes(cacheDir),
        fit: shape ? modelFit(shape, await deviceMemories()) : null,
      };
    },
  ),
  /** Queues a download into the Hugging Face cache; the model is added to the library when it ends. */
  'models/download': handler(
    z.object({ repo: Repo, revision: Revision }).strict(),
    (p, ctx): { jobId: number } => {
      const repo = checkRepoId(p.repo);
      const revision = checkRevision(p.revision ?? 'main');
      const cacheDir = hubCacheDir();
      // A second window asking for the same files gets the download in flight; another revision (or
      // another cache folder) is other files, so a download of its own.
      const key = JSON.stringify([repo, revision, cacheDir]);
      const state = stateOf(ctx.jobs);
      for (const j of ctx.jobs.list()) {
        if (
          j.kind === 'download' &&
          (j.state === 'queued' || j.state === 'running') &&
          state.get(j.id)?.key === key
        )
          return { jobId: j.id };
      }
      const job = ctx.jobs.enqueue({
        kind: 'download',
        // Downloads queue among themselves, never behind a training run.
        device: 'network',
        label: `download ${repo}`,
        run: async ({ signal, report }) => {
          const s = state.get(job.id) as DownloadState;
          const res = await fetchModel(repo, {
            revision,
            cacheDir,
            signal,
            onWait: (file) => report({ message: `waiting for another download of ${file} to finish` }),
            onProgress: (d) => {
              s.download = d;
              report({
                progress: d.bytesTotal ? d.bytesDone / d.bytesTotal : 0,
                message: d.file ?? `${d.filesDone}/${d.filesTotal} files`,
                detail: { event: 'download-progress', ...d },
              });
            },
          });
          const model = addModel(ctx.lib, { path: res.path, downloaded: true });
          s.modelId = model.id;
          ctx.events.emit('library/changed', { kind: 'models', id: model.id, action: 'added' });
          if (s.download)
            report({
              message: `added as model ${model.id}`,
              detail: { event: 'download-progress', ...s.download, modelId: model.id },
            });
          return { modelId: model.id };
        },
      });
      state.set(job.id, { repo, revision, key, download: null, modelId: null });
      return { jobId: job.id };
    },
  ),
  /**
   * The newest download of each repository and revision since the backend started (newest first): a
   * cancelled or failed one that a later download of the same files took over is history, not a row
   * to show.
   */
  'models/downloads': handler(z.object({}).strict(), (_p, ctx): DownloadJob[] => {
    const state = stateOf(ctx.jobs);
    const newest = new Map<string, DownloadJob>();
    for (const j of ctx.jobs.list().reverse()) {
      const s = state.get(j.id);
      if (j.kind !== 'download' || !s || newest.has(s.key)) continue;
      const { key: _key, ...shown } = s;
      newest.set(s.key, { ...j, ...shown });
    }
    return [...newest.values()];
  }),
  /** Stops a download; its partial files stay in the cache so a new download resumes them. */
  'models/download-cancel': handler(
    z.object({ jobId: z.number().int().positive() }).strict(),
    (p, ctx): { cancelled: boolean } => {
      const j = ctx.jobs.get(p.jobId);
      return { cancelled: j?.kind === 'download' ? ctx.jobs.cancel(p.jobId) : false };
    },
  ),
});

export type ModelsHubHandlers = ClientApi<typeof modelsHubHandlers>;
