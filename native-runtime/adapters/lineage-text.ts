// An imported adapter's lineage (reft_studio.json's, formats/pyreft-params.ts SidecarLineage) in one
// line for people, as `adapters show` and the adapter page both say it. No Node imports: the renderer
// uses it too.

import type { SidecarLineage } from '../formats/pyreft-params.ts';
import { plural } from '../plural.ts';

/** "base model "tiny llama" 8bed9a5f6961, dataset "persona" 3f2a…, run 3 "r1", 12 steps, final loss 0.5000". */
export function lineageText(x: SidecarLineage): string {
  const named = (name: string | null) => (name ? `"${name}" ` : '');
  const parts = [`base model ${named(x.baseModel.name)}${x.baseModel.fingerprint.slice(0, 12)}`];
  if (x.dataset) parts.push(`dataset ${named(x.dataset.name)}${x.dataset.hash?.slice(0, 12) ?? ''}`.trim());
  if (x.run) parts.push(`run ${x.run.id ?? '(no id)'}${x.run.name ? ` "${x.run.name}"` : ''}`);
  if (x.steps !== null) parts.push(plural(x.steps, 'step'));
  if (x.finalLoss !== null) parts.push(`final loss ${x.finalLoss.toFixed(4)}`);
  return parts.join(', ');
}
