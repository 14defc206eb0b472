// The typed method table and record types, straight from the backend's contract. TYPES ONLY: the
// renderer never imports backend runtime code (`import type` is erased by the build).

export type {
  AdapterRecord,
  BadRow,
  DatasetFormat,
  DatasetRecord,
  DatasetRow,
  DatasetVersion,
  ExecutionProvider,
  Handlers,
  ImportResult,
  JobProgress,
  LibraryChange,
  ModelRecord,
  PushTopic,
  PushTopics,
  RowsPage,
  RunDetail,
  RunMetric,
  RunRecord,
  RunStatus,
  SystemInfo,
} from '../../../../electron/backend/rpc/contract.ts';
