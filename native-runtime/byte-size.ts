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
