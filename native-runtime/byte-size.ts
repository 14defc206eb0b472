// Sizes for people, in one convention everywhere (the CLI, the studio, the engine's and the Hub
// download's messages): decimal units, 1 KB = 1000 bytes, as the Hugging Face Hub and disk makers
// write them. The renderer imports this module too, so it is plain code with no imports.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 → '1.5 KB', 2_500_000_000 → '2.5 GB', 999 → '999 B': a decimal place below 100 of a unit. */
export function byteSize(n: number): string {
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const shown = Math.abs(v) >= 100 || i === 0 ? String(Math.round(v)) : v.toFixed(1);
  // 999_960 bytes would read "1000.0 KB": say "1.0 MB" instead.
  if (Math.abs(Number(shown)) >= 1000 && i < UNITS.length - 1)
    return `${(v / 1000).toFixed(1)} ${UNITS[i + 1]}`;
  return `${shown} ${UNITS[i]}`;
}

/** Bytes in the MiB that nvidia-smi reports a GPU's memory in. */
export const MIB = 2 ** 20;

/**
 * A computer's or a GPU's memory as its maker states it: binary gigabytes, written GiB so that it
 * is not read as the decimal GB above (an "RTX 4090 · 24 GiB" is the card people know as 24 GB;
 * 25.8 GB would name no card). For labels only: sizes compared against it (estimates, what fits)
 * are all in byteSize's units.
 */
export function memoryGiB(bytes: number, digits = 0): string {
  return `${(bytes / 2 ** 30).toFixed(digits)} GiB`;
}
