// `--quantize none|int8|int4` for the commands that load a model (train, generate, bench, debug
// forward): parse the flag, and show a conversion's progress on stderr (a conversion runs once per
// model and form; later runs find the store in the data folder).

import type { WriteProgress } from '../native-runtime/formats/safetensors-stream.ts';
import { parseQuantize, type QuantScheme } from '../native-runtime/quantize/scheme.ts';
import { type ArgValues, str } from './args.ts';

export const QUANTIZE_OPTION = { quantize: { type: 'string' } } as const;

/** The scheme named by --quantize (null for none or absent). */
export function quantizeFlag(values: ArgValues): QuantScheme | null {
  return parseQuantize(str(values, 'quantize') ?? 'none');
}

/** A progress callback for prepareBase: one stderr line at most every 2 s and at the end. */
export function conversionProgress(
  write: (s: string) => void = (s) => process.stderr.write(s),
): (p: WriteProgress & { form: string }) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 2000 && p.done !== p.total) return;
    last = now;
    const gb = (n: number) => (n / 1e9).toFixed(2);
    write(
      `converting the base to ${p.form}: ${Math.floor((100 * p.doneBytes) / p.totalBytes)}% (${gb(p.doneBytes)} of ${gb(p.totalBytes)} GB, ${p.done}/${p.total} tensors)\n`,
    );
  };
}
