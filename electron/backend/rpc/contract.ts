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
//   models/list       {}                                            → ModelRecord[]
//   models/get        {id}                                          → ModelRecord
//   models/add        {path, name?}                                 → ModelRecord (same entry if the folder is known)
//   models/remove     {id}                                          → {id}
//   datasets/list     {}                                            → DatasetRecord[] (each with latest + versions)
//   datasets/get      {id}                                          → DatasetRecord
//   datasets/import   {path, name?, format?: 'auto'|'prompt-completion'|'alpaca'|'chat', datasetId?}
//                                                                   → {dataset, version, rejected: {line, message}[]}
//   datasets/rows     {datasetId, versionId?, offset?=0, limit?=50 (≤1000)} → {datasetId, versionId, format, total, offset, rows}
//   datasets/remove   {id}                                          → {id}
//   runs/list         {status?}                                     → RunRecord[] (newest first, with lastStep/lastLoss)
//   runs/get          {id}                                          → RunDetail (RunRecord + metrics[] + checkpoints[])
//   runs/cancel       {id}                                          → RunRecord (error 'not-cancellable' if finished)
//   adapters/list     {tag?, baseModelFingerprint?}                 → AdapterRecord[]
//   adapters/get      {id}                                          → AdapterRecord
//   adapters/remove   {id}                                          → {id, deletedFiles}
//   adapters/tag      {id, add?: string[], remove?: string[]}       → AdapterRecord
//   adapters/rename   {id, name}                                    → AdapterRecord
//   settings/get      {key?}                                        → all settings object, or the key's value (null if unset)
//   settings/set      {key, value: JSON (null removes)}             → {key}
// Pushes: 'library/changed' {kind: 'models'|'datasets'|'runs'|'adapters'|'settings', id?, action}
//         'jobs/progress'   JobProgress {id, kind, device, label, runId, state, progress, message, error, ..., data?}

import type { AdaptersHandlers } from '../handlers/adapters.ts';
import type { DatasetsHandlers } from '../handlers/datasets.ts';
import type { ModelsHandlers } from '../handlers/models.ts';
import type { RunsHandlers } from '../handlers/runs.ts';
import type { SettingsHandlers } from '../handlers/settings.ts';
import type { SystemHandlers } from '../handlers/system.ts';

export type Handlers = SystemHandlers &
  ModelsHandlers &
  DatasetsHandlers &
  RunsHandlers &
  AdaptersHandlers &
  SettingsHandlers;

export type Method = keyof Handlers;
export type ParamsOf<K extends Method> = Parameters<Handlers[K]>[0];
export type ResultOf<K extends Method> = Awaited<ReturnType<Handlers[K]>>;

export type { WireError } from '../../../native-runtime/errors.ts';
export type { LibraryChange, PushTopic, PushTopics } from '../events.ts';
export type { ExecutionProvider, SystemInfo } from '../handlers/system.ts';
export type { JobInfo, JobProgress, JobState } from '../jobs/queue.ts';
export type { AdapterRecord } from '../library/adapters.ts';
export type { BadRow, DatasetFormat, DatasetRow } from '../library/dataset-formats.ts';
export type { DatasetRecord, DatasetVersion, ImportResult, RowsPage } from '../library/datasets.ts';
export type { ModelRecord } from '../library/models.ts';
export type { RunDetail, RunMetric, RunRecord, RunStatus } from '../library/runs.ts';
export type {
  ClientMessage,
  ErrorMessage,
  PushMessage,
  ReplyMessage,
  RequestMessage,
  ServerMessage,
} from './envelope.ts';
