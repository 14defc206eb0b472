// Numbers for people, shared by the commands and the progress display (which command.ts itself uses,
// so this cannot live there without an import cycle).

/** 1536 → '1.5 KB'; null → '-'. */
export function formatBytes(n: number | null | undefined): string {
  if (n == null) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
