// Progress of a model download, through the CLI's progress reporter (cli/progress/reporter.ts): a
// transfer task in bytes for the whole download (a bar on a terminal, interval lines in a log,
// JSON-lines events on stderr with --json), notes above it.

import type { DownloadProgress } from '../electron/backend/hub/download.ts';
import type { Reporter, TransferTask } from './progress/reporter.ts';

export interface TransferReporter {
  update(p: DownloadProgress): void;
  /** A line of its own (above the bar on a terminal). */
  log(line: string): void;
  done(): void;
}

export function transferReporter(progress: Reporter): TransferReporter {
  let task: TransferTask | null = null;
  return {
    update(p) {
      task ??= progress.transfer({ label: p.repo, totalBytes: p.bytesTotal });
      task.update(p.bytesDone, p.bytesTotal);
    },
    log: (line) => progress.log(line),
    done() {
      task?.done();
      task = null;
    },
  };
}
