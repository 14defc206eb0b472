// What `reft-studio runs list` prints for people: one row per run, at 80 columns as `runs show`
// keeps to (run-show-text.ts). The columns other than NAME and MODEL are short and kept whole; the
// run's and its model's names take the width they leave and a longer one is cut with an ellipsis
// (table's fit; `runs show ID` and --json have them whole). MODEL is the library model's name
// (model-cell.ts; a removed one's fingerprint, marked *). The SWEEP column is there when a listed run is in a sweep; an early stop and
// a device fallback are marked with * and said once under the table, as `runs show ID` words them in full.

import type { RunRecord } from '../electron/backend/library/runs.ts';
import { oneLineVisible } from '../native-runtime/control-characters.ts';
import { runDevice } from '../native-runtime/runtime/device-choice.ts';
import { shortTime, table } from './command.ts';
import { MODEL_CELL_MIN, modelCell, notInLibraryNote } from './model-cell.ts';

/** `modelNames`: the library's models' names by id. */
export function runsListText(
  runs: RunRecord[],
  modelNames: ReadonlyMap<number, string>,
  now = Date.now(),
): string {
  const sweeps = runs.some((r) => r.sweepId !== null);
  const early = runs.some((r) => r.stoppedEarly);
  const fallback = runs.some((r) => runDevice(r)?.fallback);
  const nameOf = (r: RunRecord) => (r.modelId !== null && modelNames.get(r.modelId)) || null;
  const modelOf = (r: RunRecord) => modelCell(nameOf(r), r.modelFingerprint);
  const gone = runs.some((r) => nameOf(r) === null && r.modelFingerprint);
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
      modelOf(r),
      ran ? `${ran.device}${ran.fallback ? '*' : ''}` : '-',
      r.lastStep === null ? '-' : String(r.lastStep),
      r.lastLoss === null ? '-' : r.lastLoss.toFixed(4),
      shortTime(r.createdAt, now),
    ];
  });
  const model = headers.indexOf('MODEL');
  const text = table(headers, rows, { shrink: [1, model], mins: { [model]: MODEL_CELL_MIN } });
  const notes = [
    ...(early ? ['STATUS *: stopped early, as the held-out loss stopped improving'] : []),
    ...(fallback ? ['DEVICE *: not the device asked for; runs show ID says which and why'] : []),
    ...(gone ? [notInLibraryNote('MODEL')] : []),
  ];
  return [text, ...notes].join('\n');
}
