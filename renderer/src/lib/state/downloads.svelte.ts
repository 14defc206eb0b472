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

  /**
   * The newest download of a repository at a revision, if any. Jobs are keyed by both: another
   * revision is other files, whose progress is not this one's.
   */
  of(repo: string, revision = DEFAULT_REVISION): DownloadJob | undefined {
    return this.jobs.find((j) => j.repo === repo && j.revision === revision);
  }
}

/** The revision a download asks for when it names none (the backend's models/download too). */
export const DEFAULT_REVISION = 'main';

/**
 * A download as people read it: its repository, and its revision unless that is the default (a
 * commit by its first 10 characters, as the Hub preview shows one).
 */
export function downloadName(job: Pick<DownloadJob, 'repo' | 'revision'>): string {
  if (job.revision === DEFAULT_REVISION) return job.repo;
  return `${job.repo}@${/^[0-9a-f]{40}$/.test(job.revision) ? job.revision.slice(0, 10) : job.revision}`;
}
