// The typed contract between the renderer and the backend. TYPES ONLY: the renderer does
//   import type { Handlers, PushTopics, ServerMessage } from '.../electron/backend/rpc/contract.ts';
//   send<K extends keyof Handlers>(method: K, params: Parameters<Handlers[K]>[0]): ReturnType<Handlers[K]>
// Transport: WebSocket `ws://HOST/rpc?token=TOKEN` (JSON text frames) in a browser, or the MessagePort
// the preload hands over as `window.reftStudio.onPort` in Electron (structured-clone objects).
// Every request gets exactly one reply or error with its id; errors are {type, code, message}
// (codes: 'unknown-method', 'invalid-params', 'bad-message', 'not-found', plus the library's own).
//
// Methods (params → result; ids are integers; times are epoch ms):
//   system/info       {}                                            → SystemInfo
//   system/devices    {refresh?}                                    → DevicesReport (providers with state + one-line reason,
//                                                                     GPUs, Vulkan, CUDA pack, what auto picks,
//                                                                     the pack install going on: cudaInstall)
//   system/runtime-list    {}                                       → PackStatus[]
//   system/runtime-install {name: 'cuda', from? (absolute file/folder)} → {started} ('runtime/progress' pushes follow)
//   system/runtime-cancel  {}                                       → {cancelled}
//   system/runtime-remove  {name}                                   → {name, removed}
//   models/list       {}                                            → ModelRecord[]
//   models/get        {id}                                          → ModelRecord
//   models/add        {path, name?}                                 → ModelRecord & {created, note?} (created false: the folder was known; note: a cache repo's snapshot chosen without refs/main)
//   models/remove     {id, deleteFiles?}                            → {id, deletedBytes} (deleteFiles: only for studio downloads; 'in-use' while a run or evaluation uses it)
//   models/hub-status {}                                            → {cacheDir, endpoint, endpointError, tokenSet, tokenError}
//   models/scan       {dir?}                                        → {dir, cacheLayout, models: ScannedModel & {modelId}[]} (default: the HF cache)
//   models/search     {query, limit?}                               → HubSearchResult[] (the Hub at HF_ENDPOINT)
//   models/hub-info   {repo, revision?}                             → HubPreview (files, sizes, cached, bytes left after partial files, free disk, fit)
//   models/download   {repo, revision?}                             → {jobId} (a 'download' job; detail {event:'download-progress', ...};
//                                                                     the same repo, revision and cache as one in flight: that one's job)
//   models/downloads  {}                                            → DownloadJob[] (JobInfo & {repo, revision, download, modelId}; the newest
//                                                                     per repository and revision)
//   models/download-cancel {jobId}                                  → {cancelled} (partial files kept for a resume)
//   datasets/list     {}                                            → DatasetRecord[] (each with latest + versions)
//   datasets/get      {id}                                          → DatasetRecord
//   datasets/import   {path (absolute, no '..') | uploadId (files/*, one file), name?, format?: 'auto'|'prompt-completion'|'alpaca'|'chat',
//                      datasetId?, mapping?: {prompt?, completion?, instruction?, input?, output?, messages?}}  (JSONL, JSON, CSV, TSV, Parquet)
//                                                                   → {dataset, version, action: 'created'|'new-version'|'unchanged',
//                                                                     rejected: {line, message, text?}[] (first 200), rejectedCount,
//                                                                     duplicateCount (kept), unkeptColumns, unkeptMessageKeys (not stored; first 20)}
//                     a name the library has (default: the file's) adds a version to that dataset
//   datasets/rename   {id, name}                                    → DatasetRecord (error 'name-taken')
//   datasets/rows     {datasetId, versionId?, offset?=0, limit?=50 (≤1000), tag?, minRating?, maxRating?, unrated?, search?}
//                                                                   → {datasetId, versionId, format, total, offset, rows, meta: RowMeta[]}
//   datasets/rejects  {datasetId, versionId?, offset?, limit?}      → {versionId, total, kept, lines: {line, message, text}[]}
//   datasets/annotate {datasetId, versionId?, indices[], rating?: 1..5|null, addTags?, removeTags?, note?} → RowMeta[]
//                     (per row: two identical rows are two rows; annotations follow a row into later versions)
//   datasets/edit     {datasetId, versionId?, set?: {index, row}[], remove?: number[], append?: row[], note?}
//                                                                   → {dataset, version} (a new frozen version)
//   datasets/create   {name, rows: row[] (one format, 1..10,000), note?} → {dataset, version} (a new dataset; error 'name-taken')
//   datasets/duplicates {datasetId, versionId?, mode?: 'exact'|'near' (default 'near'), threshold?=0.9, maxPairs?, requestId?}
//                                                                   → {versionId, exact, near: {a, b, similarity}[], ...} (near: [] when 'exact')
//   datasets/drop-duplicates {datasetId, versionId?, mode?: 'exact'|'near', threshold?, requestId?}
//                                                                   → {source, version (null: none found), removed: index[]}
//   datasets/duplicates-cancel {requestId}                          → {cancelled} (that search answers with error 'cancelled')
//                                                                   (a search also stops when its requester's connection closes)
//   datasets/split    {datasetId, versionId?, seed?=42, ratios?: {train, validation, test} (adding up to 1)}
//                                                                   → {source, train, validation, test} (child versions)
//   datasets/token-lengths {datasetId, versionId?, modelId, maxLength?, chatTemplate?, sample?, requestId?}
//                                                                   → TokenLengthReport (bins, p50/p95, over maxLength, lengths)
//                                                                   (stopped when its requester's connection closes; with a
//                                                                   requestId, 'datasets/token-progress' pushes say how far it is)
//   datasets/token-lengths-cancel {requestId}                       → {cancelled} (that count answers with error 'cancelled';
//                                                                     its 'counts' process is killed unless another request shares the count)
//   datasets/export   {datasetId, versionId?}                       → DownloadInfo (a .jsonl; read it with files/download)
//   datasets/remove   {id}                                          → {id}
//   runs/list         {status?, ids?, query?}                       → RunListEntry[] (newest first: what a row shows — no config —,
//                                                                   with lastStep/lastLoss, a running run's pace, its sweep
//                                                                   {id, varied, runIds} or null; ids: only those runs)
//   runs/get          {id}                                          → RunDetail (RunRecord + metrics[] + checkpoints[] + sweep)
//   runs/start        {modelId, datasetId, datasetVersionId?, datasetSplit?, evalDatasetVersionId?, evalDatasetSplit?, name?,
//                      probe?: {prompts[], every, maxNewTokens?}, ...training options: intervention?, layers?,
//                      positions?, rank?, lr?, … (every one optional; declared in native-runtime/training/options.ts),
//                      requestId?}                                  → RunRecord & {runId} (queued; one training per device)
//                     a bad option: error {code: 'bad-<option>', field: '<option>', message: '<Label> must be …'}
//                     (its memory check may wait on the data's token count: with requestId 'datasets/token-progress'
//                     pushes say how far; runs/start-cancel or its requester's connection closing stops it, recording nothing)
//   runs/start-many   {runs: runs/start params[] (2..8), one run but for their names and at most two of lr, rank, layers,
//                      positions, dropout, seed, no combination twice; else invalid-params; requestId? as runs/start's}
//                                                                   → {sweepId, runIds, runs: RunRecord[]} (a sweep: every run
//                                                                     planned and checked as runs/start checks one, then all
//                                                                     recorded in one transaction with their sweep and queued;
//                                                                     one refused run refuses all, its error's message starting
//                                                                     "run 2 of 3, “name”: …", its field kept)
//   runs/start-cancel {requestId}                                   → {cancelled} (that start answers with error 'cancelled' and
//                                                                     records nothing; the token count it waited on stops unless
//                                                                     another request waits on it)
//   runs/estimate     runs/start params + {calibrate?=false, requestId?} → RunEstimate {trainableParams, adapterBytes, memory,
//                                                                     stepsPerEpoch, totalSteps, calibration, epochSeconds, ...}
//                                                                     (it stops when its requester's connection closes; a batch
//                                                                     refused at maxLength waits on the data's token count, and
//                                                                     with requestId 'datasets/token-progress' pushes say how far)
//   runs/estimate-cancel {requestId}                                → {cancelled} (that estimate answers with error 'cancelled';
//                                                                     nothing measured is kept, the device is free at once, the
//                                                                     token count it waited on stops unless another request waits on it)
//   runs/check        {modelId, options}                            → {model: {numLayers, hiddenSize, maxPositions}, issues: OptionIssue[]}
//   runs/preview      runs/start params + {example?=0}              → RunPreview: the example's tokens after the chat template, the
//                                                                     loss tokens, each intervention's positions (clipped, padded)
//   runs/pause        {id}                                          → RunRecord (checkpoint, then 'paused')
//   runs/resume       {id}                                          → RunRecord (paused/interrupted → queued; continues from its last checkpoint)
//   runs/cancel       {id, keepCheckpoint?}                         → RunRecord & {keptAdapterId} (checkpoint, then stop; error
//                                                                     'not-cancellable' if finished; 'already-interrupted' if it read
//                                                                     running but its process had died: marked interrupted, resumable,
//                                                                     a second cancel stops it for good; keepCheckpoint: the last
//                                                                     checkpoint becomes an adapter, now or when the job stops)
//   runs/keep-checkpoint {id}                                       → AdapterRecord (a stopped run's last checkpoint, tagged 'checkpoint')
//   runs/delete       {id}                                          → {id, deletedFolders} (refused while queued/running; adapters stay)
//   runs/logs         {id, limit?}                                  → RunLogLine[] (oldest first)
//   runs/log-since    {id, offset?}                                 → {lines: RunLogLine[], end} (no offset: the last lines;
//                                                                     else the lines appended since byte `offset`; `end`: read on from there)
//   generate/run      {modelId, adapterId?, prompt, maxNewTokens?, temperature?, topP?, topK?, repetitionPenalty?, seed?, stop?,
//                      chat? (unsaid: as the adapters were trained, plain without one), requestId?}
//                                                                    → {requestId, text, tokens, finishReason, promptTokens, ms, emptyNote}
//                                                                      (cancelled when the requester's connection closes)
//   generate/cancel   {requestId}                                   → {cancelled}
//   evaluations/run   {adapterId, datasetId, datasetVersionId?, split?, kind: 'loss'|'exact-match'|'multiple-choice'|'compare',
//                      limit?, maxNewTokens?, batchSize?}           → EvaluationRecord (stored with the adapter once it
//                                                                      starts; a refused request is an error, not stored)
//   evaluations/start (as evaluations/run)                         → {jobId} at once (the window follows the job:
//                                                                      a refused one ends 'failed', evaluationId null;
//                                                                      an identical request queued or running: its job)
//   evaluations/jobs  {adapterId}                                   → EvaluationJob[] (JobInfo & {adapterId, evaluationId,
//                                                                      examples: {done, total} | null}; a refused one's `error` says why)
//   evaluations/cancel {jobId}                                      → EvaluationJob, once stored (queued: 'cancelled', nothing
//                                                                      recorded; running: recorded 'cancelled', error "cancelled after
//                                                                      N of M examples"; error 'not-found' / 'not-cancellable' if ended)
//   evaluations/list  {adapterId?}                                  → EvaluationRecord[]
//   evaluations/get   {id}                                          → EvaluationRecord
//   adapters/list     {tag?, baseModelFingerprint?, type?, query?}  → AdapterRecord[] (query: name/tag/type/base model)
//   adapters/get      {id}                                          → AdapterRecord
//   adapters/lineage  {id}                                          → AdapterLineage (base model, run, dataset, metrics, size)
//   adapters/import   {path | uploadId, name?, modelId?, modelPath?, positions?, forceBase?, tags?} → {adapter, kind, notes}
//   adapters/export   {id, out, format?: 'pyreft'|'studio'|'bundle', force?, requestId?} → {out, format, files, exact, note}
//                                                                   (a relative out is under <data folder>/exports/)
//   adapters/export-zip {id, format?, requestId?}                   → {downloadId, fileName, sizeBytes, format, files, exact, note}
//                                                                   (either stops when its requester's connection closes)
//   adapters/export-cancel {requestId}                              → {cancelled} (that export answers with error 'cancelled';
//                                                                     nothing of its own is left, a previous export is kept)
//   files/upload-begin  {kind: 'adapter'|'dataset', files: {path, size}[]} → {uploadId, chunkBytes} (limits checked)
//   files/upload-chunk  {uploadId, path, offset, data: base64}      → {received}
//   files/upload-finish {uploadId}                                  → {files} (a lone .zip is unpacked)
//   files/upload-discard {uploadId}                                 → {discarded}
//   files/download      {downloadId, offset, length?}               → {data: base64, eof} (removed once read to the end)
//   adapters/check    {id, modelId, forceBase?}                     → {adapter, model, forced} (error 'base-model-mismatch')
//   adapters/remove   {id}                                          → {id, deletedFiles} ('in-use' while an evaluation of it waits or runs)
//   adapters/tag      {id, add?: string[], remove?: string[]}       → AdapterRecord
//   adapters/rename   {id, name}                                    → AdapterRecord
//   settings/get      {key?}                                        → all settings object, or the key's value (null if unset)
//   settings/set      {key, value: JSON (null removes)}             → {key} (not for engine.*, hub.*)
//   settings/environment {}                                         → EnvironmentReport {dataDir, device, threads, cpuCount, automaticThreads,
//                                                                     hub: {token: 'settings'|'environment'|null, tokenHint, cachePath, …}}
//   settings/environment-set {device?, threads?, hubToken?: string|null, hubCachePath?: string|null} → EnvironmentReport
// Pushes: 'library/changed' {kind: 'models'|'datasets'|'runs'|'adapters'|'settings', id?, action}
//         'jobs/progress'   JobProgress {id, kind, device, label, runId, state, progress, message, error, ..., detail}
//                           detail: null on a state change, else one event of the job (events.ts), tagged by `event`:
//                           {event:'progress', step, totalSteps, epoch, loss, lr, gradNorm, tokensPerS, etaS, evalLoss?},
//                           {event:'sample', step, prompt, output}, {event:'evaluate-progress', done, total},
//                           {event:'download-progress', repo, file, bytesDone, bytesTotal, bytesPerS, etaS, ...}
//         'generate/token'  {requestId, text}: a generate/run answer as it is produced
//         'generate/notice' {requestId, text}: what loading its model says first (a conversion's progress, auto's form)
//         'datasets/token-progress' {requestId, done, total}: how far a datasets/token-lengths is (examples counted),
//                           or the token count a runs/estimate waits on
//         'runs/log'        {runId, line: RunLogLine}: a line added to a run's log
//         'runtime/progress' RuntimeProgress {name, state: running|done|failed|cancelled|removed, phase, bytes, total, error?, elsewhere?}
//                           (done/removed with elsewhere: the CLI installed or removed the pack meanwhile)
//         'models/cache-changed' {cacheDir, added, changed, removed}: snapshot folders that appeared in, changed files in, or left the HF cache

import type { AdaptersHandlers } from '../handlers/adapters.ts';
import type { DatasetsHandlers } from '../handlers/datasets.ts';
import type { DevicesHandlers } from '../handlers/devices.ts';
import type { EvaluationsHandlers } from '../handlers/evaluations.ts';
import type { FilesHandlers } from '../handlers/files.ts';
import type { GenerateHandlers } from '../handlers/generate.ts';
import type { ModelsHandlers } from '../handlers/models.ts';
import type { ModelsHubHandlers } from '../handlers/models-hub.ts';
import type { RunsHandlers } from '../handlers/runs.ts';
import type { SettingsHandlers } from '../handlers/settings.ts';
import type { SystemHandlers } from '../handlers/system.ts';

export type Handlers = SystemHandlers &
  DevicesHandlers &
  ModelsHandlers &
  ModelsHubHandlers &
  DatasetsHandlers &
  RunsHandlers &
  AdaptersHandlers &
  SettingsHandlers &
  GenerateHandlers &
  EvaluationsHandlers &
  FilesHandlers;

export type Method = keyof Handlers;
export type ParamsOf<K extends Method> = Parameters<Handlers[K]>[0];
export type ResultOf<K extends Method> = Awaited<ReturnType<Handlers[K]>>;

export type { WireError } from '../../../native-runtime/errors.ts';
export type { PackStatus } from '../../../native-runtime/runtime/cuda-pack.ts';
export type { ProviderState } from '../../../native-runtime/runtime/devices.ts';
export type {
  Choice,
  ModelShapeForTraining,
  OptionIssue,
  TrainOptionKey,
  TrainOptions,
} from '../../../native-runtime/training/options.ts';
export type { PreviewIntervention, PreviewToken } from '../../../native-runtime/training/preview.ts';
export type {
  CacheChange,
  DataProgress,
  DownloadProgressEvent,
  EvaluateProgressEvent,
  GenerateToken,
  JobDetail,
  JobInfo,
  JobProgress,
  JobState,
  LibraryChange,
  PushTopic,
  PushTopics,
  RunLogPush,
  RuntimeProgress,
  TrainEvent,
  TrainProgress,
} from '../events.ts';
// What system/devices answers: the engine's report and the CUDA pack install going on.
export type { StudioDevicesReport as DevicesReport } from '../handlers/devices.ts';
export type { EvaluationJob } from '../handlers/evaluations.ts';
export type { GenerateReply } from '../handlers/generate.ts';
export type { DownloadJob, HubPreview } from '../handlers/models-hub.ts';
export type { ExecutionProvider, SystemInfo } from '../handlers/system.ts';
export type { HubSearchResult } from '../hub/client.ts';
export type { DownloadProgress } from '../hub/download.ts';
export type { ScannedModel } from '../hub/scan.ts';
export type { AdapterExport, ExportFormat } from '../library/adapter-export.ts';
export type { AdapterLineage, AdapterRecord } from '../library/adapters.ts';
export type { RowMeta } from '../library/dataset-annotations.ts';
export type { DropDuplicatesResult, SplitResult } from '../library/dataset-edits.ts';
export type { BadRow, DatasetFormat, DatasetRow } from '../library/dataset-formats.ts';
export type { ImportResult } from '../library/dataset-import.ts';
export type { RejectedLine, RejectsPage, RowsPage } from '../library/dataset-rows.ts';
export type { TokenBin, TokenLengthReport } from '../library/dataset-token-stats.ts';
export type { DatasetRecord, DatasetVersion, SplitPart } from '../library/datasets.ts';
export type { DuplicatePair, DuplicateReport } from '../library/dedupe.ts';
export type { EnvironmentReport } from '../library/environment.ts';
export type { RunEstimate } from '../library/estimates.ts';
export type { EvaluationRecord } from '../library/evaluations.ts';
export type { FitRow, ModelFit } from '../library/model-fit.ts';
export type { ModelRecord } from '../library/models.ts';
export type { RunListEntry } from '../library/run-list.ts';
export type { RunLogLine } from '../library/run-logs.ts';
export type { RunPace } from '../library/run-pace.ts';
export type { RunCheck, RunPreview } from '../library/run-preview.ts';
export type {
  RunCheckpoint,
  RunDetail,
  RunMetric,
  RunRecord,
  RunSample,
  RunStatus,
} from '../library/runs.ts';
export type { RunSweep } from '../library/sweeps.ts';
export type { DownloadInfo } from '../library/transfers.ts';
export type { UploadKind } from '../library/upload-limits.ts';
export type {
  ClientMessage,
  ErrorMessage,
  PushMessage,
  ReplyMessage,
  RequestMessage,
  ServerMessage,
} from './envelope.ts';
