// Byte counts in --json output are whole numbers: a walker that finds every field named like one
// (`…Bytes`, `bytes`) holding a fraction, for the commands' tests to assert there is none.

/** Paths (`models[0].fit.rows[3].trainBytes`) of byte fields whose value is not an integer. */
export function fractionalByteFields(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => fractionalByteFields(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const at = path ? `${path}.${k}` : k;
    if (typeof v === 'number' && /(^b|B)ytes$/.test(k) && !Number.isInteger(v)) return [`${at} = ${v}`];
    return fractionalByteFields(v, at);
  });
}
