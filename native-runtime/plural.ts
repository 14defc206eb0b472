// Counts in words for people: "1 row", "2 rows". One rule for the CLI's lines, the run log and the
// engine's messages, so none of them says "1 steps". No Node imports: the renderer may use it too.

/** `n` and the noun agreeing with it: plural(1, 'step') is "1 step", plural(3, 'step') "3 steps". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
