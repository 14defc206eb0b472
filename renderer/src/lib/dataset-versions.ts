// Which data a run trains and evaluates on, for the Train wizard and evaluations: a dataset's
// versions as choices with labels people read ("v2 · train part of v1, 80 rows"), the held-out part
// that belongs with a training part, and the runs/start fields for a choice. The backend resolves and
// checks the same selectors (electron/backend/library/dataset-edits.ts: resolveDatasetVersion;
// library/run-plan.ts: planRunData refuses held-out data equal to the training data or of another format).

import { heldOutOverlap } from '../../../electron/backend/library/held-out-rule.ts';
import { rowsText } from './format.ts';
import type { DatasetRecord, DatasetVersion, RunParams, SplitPart } from './rpc/handlers.ts';

export interface VersionChoice {
  versionId: number;
  /** "v3 (120 rows)", "v4 · train part of v3, seed 42 (96 rows)". */
  label: string;
  split: SplitPart | null;
  rowCount: number;
  /** The dataset's latest full version (what a run uses when none is chosen). */
  isLatest: boolean;
}

function partOf(ds: DatasetRecord, v: DatasetVersion): string {
  const parent = ds.versions.find((p) => p.id === v.parentVersionId);
  // The seed tells two splits of the same version apart (their parts differ only by number otherwise).
  const seed = v.splitSeed !== null ? `, seed ${v.splitSeed}` : '';
  return ` · ${v.split} part of v${parent?.version ?? '?'}${seed}`;
}

/** One line naming a version: number, split part (of which version, by which seed) and rows. */
export function versionLabel(ds: DatasetRecord, v: DatasetVersion): string {
  return `v${v.version}${v.split ? partOf(ds, v) : ''} (${rowsText(v.rowCount)})`;
}

/** Every version of a dataset, newest first, full versions and split parts alike. */
export function versionChoices(ds: DatasetRecord): VersionChoice[] {
  return ds.versions.map((v) => ({
    versionId: v.id,
    label: versionLabel(ds, v),
    split: v.split,
    rowCount: v.rowCount,
    isLatest: v.id === ds.latest.id,
  }));
}

/** The versions a run can train on: full versions and train parts (held-out ones: heldOutChoices). */
export function trainChoices(ds: DatasetRecord): VersionChoice[] {
  return versionChoices(ds).filter((c) => c.split !== 'validation' && c.split !== 'test');
}

/**
 * The part cut together with `v` (same parent and seed), e.g. the validation part of a train part;
 * null when there is none. Mirrors the backend's resolveDatasetVersion for a part.
 */
export function siblingPart(ds: DatasetRecord, v: DatasetVersion, part: SplitPart): DatasetVersion | null {
  if (v.split === null) {
    const parts = ds.versions.filter((x) => x.parentVersionId === v.id && x.split === part);
    return parts.sort((a, b) => b.version - a.version)[0] ?? null;
  }
  const parts = ds.versions.filter(
    (x) => x.parentVersionId === v.parentVersionId && x.split === part && x.splitSeed === v.splitSeed,
  );
  return parts.sort((a, b) => Math.abs(a.version - v.version) - Math.abs(b.version - v.version))[0] ?? null;
}

/**
 * What to hold out when training on `trainVersionId`: the validation (else test) part cut with it,
 * or null (then the trainer's evalSplit fraction, if any, is the held-out data).
 */
export function heldOutFor(ds: DatasetRecord, trainVersionId: number): DatasetVersion | null {
  const v = ds.versions.find((x) => x.id === trainVersionId);
  if (!v || v.split === null) return null;
  return siblingPart(ds, v, 'validation') ?? siblingPart(ds, v, 'test');
}

/**
 * Why version `heldId` cannot be held out beside training version `trainId` (they share rows: the
 * backend's rule, held-out-rule.ts), or null.
 */
export function heldOutProblem(ds: DatasetRecord, trainId: number, heldId: number): string | null {
  const find = (id: number) => ds.versions.find((v) => v.id === id);
  const train = find(trainId);
  const held = find(heldId);
  return train && held ? heldOutOverlap(train, held, find) : null;
}

/**
 * The held-out version once the training version changes from `from` to `to` (`current`: the one
 * chosen now, or null): the part cut with `to` when it has one; else null where `current` is the
 * part cut with `from` — chosen to go with that version, it may hold rows of `to` (v1's validation
 * part when training on v1 itself) — or shares rows with `to` (heldOutProblem); else `current`.
 */
export function heldOutAfterChange(
  ds: DatasetRecord,
  from: number,
  to: number,
  current: number | null,
): number | null {
  const own = heldOutFor(ds, to);
  if (own) return own.id;
  if (current === null || current === heldOutFor(ds, from)?.id) return null;
  return heldOutProblem(ds, to, current) ? null : current;
}

/**
 * What to evaluate an adapter trained on `trainVersionId` on: the test (else validation) part cut
 * with it, or null (then the dataset's latest version is the natural default).
 */
export function evaluationDefault(ds: DatasetRecord, trainVersionId: number | null): DatasetVersion | null {
  const v = ds.versions.find((x) => x.id === trainVersionId);
  if (!v || v.split === null) return null;
  return siblingPart(ds, v, 'test') ?? siblingPart(ds, v, 'validation');
}

/**
 * Choices for held-out data of the same format as the training version, sharing no rows with it
 * (heldOutProblem): a validation part first, then a test part, then the rest.
 */
export function heldOutChoices(ds: DatasetRecord, trainVersionId: number): VersionChoice[] {
  const train = ds.versions.find((x) => x.id === trainVersionId);
  const rank = (c: VersionChoice) => (c.split === 'validation' ? 0 : c.split === 'test' ? 1 : 2);
  return versionChoices(ds)
    .filter(
      (c) =>
        c.versionId !== trainVersionId &&
        (!train ||
          (ds.versions.some((v) => v.id === c.versionId && v.format === train.format) &&
            !heldOutProblem(ds, trainVersionId, c.versionId))),
    )
    .sort((a, b) => rank(a) - rank(b));
}

/** The runs/start (and runs/estimate) fields for a choice of data. */
export function runDataParams(choice: {
  datasetId: number;
  versionId?: number | null;
  evalVersionId?: number | null;
}): Pick<RunParams, 'datasetId' | 'datasetVersionId' | 'evalDatasetVersionId'> {
  return {
    datasetId: choice.datasetId,
    ...(choice.versionId != null ? { datasetVersionId: choice.versionId } : {}),
    ...(choice.evalVersionId != null ? { evalDatasetVersionId: choice.evalVersionId } : {}),
  };
}
