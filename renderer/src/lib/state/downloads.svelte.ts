// Model downloads as every client sees them: the list from 'models/downloads' (so a page opened
// mid-download shows it), kept current by 'jobs/progress' pushes of 'download' jobs.

import type { RpcClient } from '../rpc/client.ts';
import type { DownloadJob, JobProgress } from '../rpc/handlers.ts';

export class Downloads {
  jobs = $state.raw<DownloadJob[]>([]);
  #rpc: RpcClient;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  async refresh(): Promise<void> {
    this.jobs = await this.#rpc.call('models/downloads', {});
  }

  /** Applies one push; returns true when a download just completed. */
  apply(p: JobProgress): boolean {
    if (p.kind !== 'download') return false;
    const i = this.jobs.findIndex((j) => j.id === p.id);
    if (i < 0) {
      void this.refresh();
      return false;
    }
    const prev = this.jobs[i];
    const d = p.detail?.event === 'download-progress' ? p.detail : null;
    const { detail: _detail, ...info } = p;
    const next: DownloadJob = {
      ...prev,
      ...info,
      download: d ?? prev.download,
      modelId: d?.modelId ?? prev.modelId,
    };
    this.jobs = this.jobs.map((j, k) => (k === i ? next : j));
    return prev.state !== 'completed' && p.state === 'completed';
  }

  /** The newest download of a repository, if any. */
  of(repo: string): DownloadJob | undefined {
    return this.jobs.find((j) => j.repo === repo);
  }
}
