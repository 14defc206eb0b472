// Error types shared by the engine, the backend and the CLI. Every error carries a stable `code`
// so it can cross a process or network boundary as plain data (see toWireError) and tests can
// assert on it without matching message text.

export class ReftError extends Error {
  readonly code: string;
  /** Data a caller acts on beside the message (see ErrorDetails). */
  readonly details?: ErrorDetails;
  constructor(code: string, message: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

/**
 * What an error says as data, so that a caller never reads it back out of the message (a column may
 * be named "a, b)"): the window offers the columns to choose from, the CLI words its --map hint.
 */
export interface ErrorDetails {
  /** A data file's columns as the file names them, in its order. */
  columns?: string[];
  /** The mapping to suggest for them: the column holding a conversation, or two to read as a pair. */
  mapping?: { messages: string } | { prompt: string; completion: string };
  /**
   * A data file refused for a bad row: its absolute path and how it was read (format, column
   * mapping), so that the CLI can print the import that keeps its good rows as a real command.
   * Set in the process that reads the file for the CLI, so errorDetails does not carry it.
   */
  refusedFile?: { path: string; format?: string; mapping?: Record<string, string> };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/**
 * Details that came over a boundary (an engine process, the RPC socket), each part kept only in the
 * shape ErrorDetails declares, as plain data; undefined when `v` is no object.
 */
export function errorDetails(v: unknown): ErrorDetails | undefined {
  if (!isRecord(v)) return undefined;
  const m = v.mapping;
  const mapping = !isRecord(m)
    ? undefined
    : typeof m.messages === 'string'
      ? { messages: m.messages }
      : typeof m.prompt === 'string' && typeof m.completion === 'string'
        ? { prompt: m.prompt, completion: m.completion }
        : undefined;
  return { ...(isStrings(v.columns) ? { columns: [...v.columns] } : {}), ...(mapping ? { mapping } : {}) };
}

/** A file or folder given by the user is missing, truncated or malformed. */
export class FormatError extends ReftError {}
/** A model or adapter the engine cannot handle (unknown architecture, mismatched shapes). */
export class UnsupportedError extends ReftError {}
/** Invalid graph construction (shape mismatch, unknown value). */
export class GraphError extends ReftError {}
/** A gradient rule is missing or returned the wrong number of gradients. */
export class AutodiffError extends ReftError {}
/** ONNX Runtime refused a model or failed while running it. */
export class OrtError extends ReftError {}
/** A bad configuration for training or generation, refused before work starts. */
export class ConfigError extends ReftError {}
/** Storage failures (SQLite, migrations, consistency check). */
export class DbError extends ReftError {}
/** Payload validation at an RPC/HTTP boundary. */
export class ValidationError extends ReftError {}
/** Work cancelled by the user. */
export class CancelledError extends ReftError {
  constructor(message = 'cancelled') {
    super('cancelled', message);
  }
}

/** The plain-data form of an error, as sent over RPC. */
export interface WireError {
  type: string;
  code: string;
  message: string;
  /** The option or field the error is about, where there is one (a form shows it beside it). */
  field?: string;
  details?: ErrorDetails;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof ReftError) {
    const field = (err as { field?: unknown }).field;
    return {
      type: err.name,
      code: err.code,
      message: err.message,
      ...(typeof field === 'string' ? { field } : {}),
      ...(err.details ? { details: err.details } : {}),
    };
  }
  if (err instanceof Error) return { type: 'Error', code: 'internal', message: err.message };
  return { type: 'Error', code: 'internal', message: String(err) };
}
