// Progress of a transfer (a model download) on stderr: on a terminal one line redrawn in place, in a
// pipe or log one line every few seconds and at the end. Kept behind this one function so the CLI's
// shared progress reporter (issue 15) can replace it without touching the commands.

import type { DownloadProgress } from '../electron/backend/hub/download.ts';
import { formatBytes } from './command.ts';

export interface TransferReporter {
  update(p: DownloadProgress): void;
  /** A line of its own (above the bar on a terminal). */
  log(line: string): void;
  done(): void;
}

function eta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

export function transferReporter(
  json: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): TransferReporter {
  const tty = stream.isTTY === true && !json;
  let last = 0;
  let drawn = false;
  let latest: DownloadProgress | null = null;
  const line = (p: DownloadProgress) => {
    const pct = p.bytesTotal ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
    return `${p.repo}: ${pct}% ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} ${formatBytes(p.bytesPerS)}/s eta ${eta(p.etaS)} files ${p.filesDone}/${p.filesTotal}${p.file ? ` ${p.file}` : ''}`;
  };
  const clear = () => {
    if (tty && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    update(p) {
      latest = p;
      const now = Date.now();
      if (tty) {
        if (now - last < 100) return;
        last = now;
        stream.write(`\r\x1b[2K${line(p).slice(0, (stream.columns || 100) - 1)}`);
        drawn = true;
      } else if (now - last >= 5000) {
        last = now;
        stream.write(`${line(p)}\n`);
      }
    },
    log(text) {
      clear();
      stream.write(`${text}\n`);
    },
    done() {
      clear();
      if (!tty && latest && latest.bytesDone > 0) stream.write(`${line(latest)}\n`);
      latest = null;
    },
  };
}
