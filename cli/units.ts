// Numbers for people, shared by the commands and the progress display (which command.ts itself uses,
// so this cannot live there without an import cycle).

import { byteSize } from '../native-runtime/byte-size.ts';

/** 1536 → '1.5 KB' (decimal units, as the studio writes them: native-runtime/byte-size.ts); null → '-'. */
export function formatBytes(n: number | null | undefined): string {
  return n == null ? '-' : byteSize(n);
}
