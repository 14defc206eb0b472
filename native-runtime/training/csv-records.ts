// CSV and TSV text split into records of fields, each record with the line it starts on (data-files.ts
// csvRows turns them into rows). Scans with indexOf and takes fields with slice, rather than
// building each field a character at a time (that ran at 3 to 8 MB/s: 6 to 12 s for a 24 MB file).
// The reading pauses every thousand records, so that the studio's 'files' process, which runs it in
// time slices, answers a cancel meanwhile (a 28 MB file read at once held it for up to a second).
// Leaves out: headers, field counts and messages about them (csvRows).

import { runThrough } from '../scans.ts';

/** One record: its fields, the line it starts on, and for a quote never closed, its last line. */
export interface CsvRecord {
  line: number;
  fields: string[];
  /** Set when a quote opened in this record is never closed: it swallowed the rest of the file. */
  unclosedTo?: number;
  /**
   * Set when a quoted field went on over lines and closed with text after it (`"open…` whose closing
   * quote is missing, closed by the quote that opens a field lines later): the line that quote closed
   * on. Such a record is no row: its lines were read as one field.
   */
  closedLateOn?: { from: number; to: number };
}

/** Records read between pauses of csvRecords: about a millisecond's work. */
const RECORDS_PER_PAUSE = 1000;

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/**
 * RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. A quote opens a quoted
 * field only at the field's start; elsewhere it is text (`He said "hi"`, `5" tall`), as Python's csv
 * and pandas read it, rather than silently dropping the quotes or swallowing the lines after it.
 * Text after a closing quote up to the next delimiter is kept (`"a"b` reads `ab`); after a quoted
 * field that went on over lines, the record says so (closedLateOn): a quote was missing. A line ends with
 * \n, \r\n, or a lone \r (classic Mac "CSV (Macintosh)" exports), as Python's csv and pandas read it:
 * a lone \r dropped instead would join two rows' fields silently. Blank lines are no records.
 * A scan (native-runtime/scans.ts): it pauses every RECORDS_PER_PAUSE records.
 */
export function* csvRecords(text: string, delimiter: ',' | '\t'): Generator<void, CsvRecord[]> {
  const records: CsvRecord[] = [];
  const end = text.length;
  // The next delimiter, \n and \r at or after the scan, kept between fields so that each is searched
  // for once per occurrence rather than once per field (-1: none left). A file without \r (or
  // without tabs) is searched for it once, not once a line.
  let nextDelimiter = -2;
  let nextLf = -2;
  let nextCr = -2;
  const after = (found: number, char: string, from: number) =>
    found >= from || found === -1 ? found : text.indexOf(char, from);
  /** The \n and lone \r in [from, to): the lines a quoted field's text goes on to. */
  const lineEnds = (from: number, to: number) => {
    let n = 0;
    for (
      nextLf = after(nextLf, '\n', from);
      nextLf !== -1 && nextLf < to;
      nextLf = text.indexOf('\n', nextLf + 1)
    )
      n++;
    for (
      nextCr = after(nextCr, '\r', from);
      nextCr !== -1 && nextCr < to;
      nextCr = text.indexOf('\r', nextCr + 1)
    )
      if (text.charCodeAt(nextCr + 1) !== LF) n++;
    return n;
  };

  let line = 1;
  let start = 1; // the line the current record starts on
  let fields: string[] = [];
  let quoted = false; // a field of this record was quoted: `""` alone on a line is a record
  let closedLateOn: CsvRecord['closedLateOn'];
  const record = (r: CsvRecord): CsvRecord => (closedLateOn ? { ...r, closedLateOn } : r);
  let i = 0;
  while (i < end) {
    let field = '';
    if (text.charCodeAt(i) === QUOTE) {
      quoted = true;
      // The closing quote is the first not doubled; the text before it is the field, "" read as ".
      let close = text.indexOf('"', i + 1);
      let doubled = false;
      while (close !== -1 && text.charCodeAt(close + 1) === QUOTE) {
        doubled = true;
        close = text.indexOf('"', close + 2);
      }
      const to = close === -1 ? end : close;
      const opened = line;
      line += lineEnds(i + 1, to);
      field = text.slice(i + 1, to);
      if (doubled) field = field.replaceAll('""', '"');
      if (close === -1) {
        // The quote swallowed everything after it: one bad record that says so, not a field count.
        fields.push(field);
        const last = text.charCodeAt(end - 1);
        records.push({ line: start, fields, unclosedTo: last === LF || last === CR ? line - 1 : line });
        return records;
      }
      i = close + 1;
      const next = text.charCodeAt(i);
      if (line > opened && i < end && next !== delimiter.charCodeAt(0) && next !== LF && next !== CR)
        closedLateOn ??= { from: opened, to: line };
    }
    // The unquoted field, or what follows a closing quote, runs to the next delimiter or line end.
    nextDelimiter = after(nextDelimiter, delimiter, i);
    nextLf = after(nextLf, '\n', i);
    nextCr = after(nextCr, '\r', i);
    let stop = end;
    if (nextDelimiter !== -1) stop = nextDelimiter;
    if (nextLf !== -1 && nextLf < stop) stop = nextLf;
    if (nextCr !== -1 && nextCr < stop) stop = nextCr;
    field += text.slice(i, stop);
    fields.push(field);
    if (stop === end) {
      // The last line, without a line end: a record as it would be with one (`""` too).
      if (quoted || fields.length > 1 || field !== '') records.push(record({ line: start, fields }));
      break;
    }
    if (stop === nextDelimiter) {
      i = stop + 1;
      // A delimiter that ends the file ends a last, empty field.
      if (i === end) records.push(record({ line: start, fields: [...fields, ''] }));
      continue;
    }
    if (quoted || fields.length > 1 || field !== '') {
      records.push(record({ line: start, fields }));
      if (records.length % RECORDS_PER_PAUSE === 0) yield;
    }
    fields = [];
    quoted = false;
    closedLateOn = undefined;
    i = stop + (text.charCodeAt(stop) === CR && text.charCodeAt(stop + 1) === LF ? 2 : 1);
    line++;
    start = line;
  }
  return records;
}

/** csvRecords, read at once. */
export function parseCsv(text: string, delimiter: ',' | '\t'): CsvRecord[] {
  return runThrough(csvRecords(text, delimiter));
}
