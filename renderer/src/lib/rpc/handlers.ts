// The typed method table and record types, straight from the backend's contract. TYPES ONLY: the
// renderer never imports backend runtime code (`import type` is erased by the build).

export type {
  AdapterExport,
  AdapterRecord,
  BadRow,
  CacheChange,
  DatasetFormat,
  DatasetRecord,
  DatasetRow,
  DatasetVersion,
  DownloadInfo,
  DownloadJob,
  DownloadProgress,
  DuplicateReport,
  EvaluationRecord,
  ExecutionProvider,
  ExportFormat,
  FitRow,
  GenerateToken,
  Handlers,
  HubPreview,
  HubSearchResult,
  ImportResult,
  JobDetail,
  JobProgress,
  JobState,
  LibraryChange,
  ModelFit,
  ModelRecord,
  ParamsOf,
  PushTopic,
  PushTopics,
  RowMeta,
  RowsPage,
  RunDetail,
  RunEstimate,
  RunLogLine,
  RunMetric,
  RunRecord,
  RunSample,
  RunStatus,
  ScannedModel,
  SplitResult,
  SystemInfo,
} from '../../../../electron/backend/rpc/contract.ts';

import type { ParamsOf } from '../../../../electron/backend/rpc/contract.ts';

/** The params of 'runs/start' and 'runs/estimate' (the Train form's payload). */
export type RunParams = ParamsOf<'runs/start'>;
