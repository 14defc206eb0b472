// The typed method table and record types, straight from the backend's contract. TYPES ONLY: the
// renderer never imports backend runtime code (`import type` is erased by the build).

export type {
  AdapterExport,
  AdapterRecord,
  BadRow,
  DatasetFormat,
  DatasetRecord,
  DatasetRow,
  DatasetVersion,
  DevicesReport,
  DownloadInfo,
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
  ModelShapeForTraining,
  OptionIssue,
  ParamsOf,
  PreviewIntervention,
  PreviewToken,
  ProviderState,
  PushTopic,
  PushTopics,
  RowMeta,
  RowsPage,
  RunCheck,
  RunDetail,
  RunEstimate,
  RunLogLine,
  RunMetric,
  RunPreview,
  RunRecord,
  RunSample,
  RunStatus,
  SplitResult,
  SystemInfo,
  TrainOptionKey,
  TrainOptions,
} from '../../../../electron/backend/rpc/contract.ts';

import type { ParamsOf } from '../../../../electron/backend/rpc/contract.ts';

/** The params of 'runs/start' and 'runs/estimate' (the Train form's payload). */
export type RunParams = ParamsOf<'runs/start'>;
