// What `reft-studio runs list` prints for people: one row per run, at 80 columns as `runs show`
// keeps to (run-show-text.ts). The columns other than NAME are short and kept whole; the name takes
// the width they leave and a longer one is cut with an ellipsis (table's fit; `runs show ID` and
// --json have it whole). The SWEEP column is there when a listed run is in a sweep; an early stop and
// a device fallback are marked with * and said once under the table, as `runs show ID` words them in full.

import type { RunRecord } from '../electron/backend/library/runs.ts';
import { oneLineVisible } from '../native-runtime/control-characters.ts';
import { runDevice } from '../native-runtime/runtime/device-choice.ts';
import { shortTime, table } from './command.ts';

export function runsListText(runs: RunRecord[], now = Date.now()): string {
  const sweeps = runs.some((r) => r.sweepId !== null);
  const early = runs.some((r) => r.stoppedEarly);
  const fallback = runs.some((r) => runDevice(r)?.fallback);
  const headers = [
    'ID',
    'NAME',
    ...(sweeps ? ['SWEEP'] : []),
    'STATUS',
    'MODEL',
    'DEVICE',
    'STEP',
    'LOSS',
    'CREATED',
  ];
  const rows = runs.map((r) => {
    const ran = runDevice(r);
    return [
      String(r.id),
      r.name === null ? '-' : oneLineVisible(r.name), // a newline in it would break the row
      ...(sweeps ? [r.sweepId === null ? '-' : String(r.sweepId)] : []),
      // The studio's Runs list says so under the steps; the rule is the library's (runStoppedEarly).
      r.stoppedEarly ? `${r.status}*` : r.status,
      r.modelId === null ? '-' : String(r.modelId),
      ran ? `${ran.device}${ran.fallback ? '*' : ''}` : '-',
      r.lastStep === null ? '-' : String(r.lastStep),
      r.lastLoss === null ? '-' : r.lastLoss.toFixed(4),
      shortTime(r.createdAt, now),
    ];
  });
  const text = table(headers, rows, { shrink: [1] });
  const notes = [
    ...(early ? ['STATUS *: stopped early, as the held-out loss stopped improving'] : []),
    ...(fallback ? ['DEVICE *: not the device asked for; runs show ID says which and why'] : []),
  ];
  return [text, ...notes].join('\n');
}
