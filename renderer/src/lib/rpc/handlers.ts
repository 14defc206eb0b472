// The typed method table and record types, straight from the backend's contract. TYPES ONLY: the
// renderer never imports backend runtime code (`import type` is erased by the build).

export type {
  AdapterExport,
  AdapterLineage,
  AdapterRecord,
  BadRow,
  DatasetFormat,
  DatasetRecord,
  DatasetRow,
  DatasetVersion,
  DownloadInfo,
  DropDuplicatesResult,
  DuplicateReport,
  EvaluationRecord,
  ExecutionProvider,
  ExportFormat,
  GenerateToken,
  Handlers,
  ImportResult,
  JobDetail,
  JobProgress,
  JobState,
  LibraryChange,
  ModelRecord,
  ParamsOf,
  PushTopic,
  PushTopics,
  RejectedLine,
  RejectsPage,
  RowMeta,
  RowsPage,
  RunDetail,
  RunEstimate,
  RunLogLine,
  RunMetric,
  RunRecord,
  RunSample,
  RunStatus,
  SplitPart,
  SplitResult,
  SystemInfo,
  TokenBin,
  TokenLengthReport,
  UploadKind,
} from '../../../../electron/backend/rpc/contract.ts';

import type { ParamsOf } from '../../../../electron/backend/rpc/contract.ts';

/** The params of 'runs/start' and 'runs/estimate' (the Train form's payload). */
export type RunParams = ParamsOf<'runs/start'>;
