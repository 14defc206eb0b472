// A model folder as the user points at it: resolves the Hugging Face cache layout
// (models--org--name/snapshots/<rev>) to the snapshot holding config.json, opens the spec and the
// tokenizer together, and summarizes both as plain data for `models inspect`, the studio's model
// page and the library database.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { FormatError } from '../errors.ts';
import { readFileCapped } from '../formats/json-file.ts';
import { loadTokenizer, type Tokenizer } from '../tokenizer/tokenizer.ts';
import { loadModelSpec, type ModelSpec, type RopeSpec, requireModelFolder } from './config.ts';

/** A model folder as resolveModelFolder found it, with what to tell the user about the choice. */
export interface ResolvedModelDir {
  dir: string;
  /** One line, when a cache repository's snapshot was chosen without a usable refs/main. */
  note?: string;
}

/**
 * The folder with config.json for `input`: the folder itself, or for a Hugging Face cache repo
 * folder the snapshot named by refs/main, or its only snapshot when refs/main names none (missing,
 * not a regular file, garbage: said in `note`). Several snapshots and no usable refs/main is refused,
 * naming them.
 */
export function resolveModelFolder(input: string): ResolvedModelDir {
  const dir = requireModelFolder(input);
  if (existsSync(join(dir, 'config.json'))) return { dir };
  const snapshots = join(dir, 'snapshots');
  if (!existsSync(snapshots) || !statSync(snapshots).isDirectory()) return { dir };
  const main = mainSnapshot(dir, snapshots);
  if ('rev' in main) return { dir: join(snapshots, main.rev) };
  const revs = readdirSync(snapshots).filter((r) => existsSync(join(snapshots, r, 'config.json')));
  if (revs.length === 1)
    return {
      dir: join(snapshots, revs[0]),
      note: `${input}: ${main.problem}; using its only snapshot, ${revs[0]}`,
    };
  if (revs.length > 1)
    throw new FormatError(
      'ambiguous-snapshot',
      `${input}: ${main.problem}, and there are several snapshots (${revs.join(', ')}); pass one snapshots/<rev> folder`,
    );
  return { dir };
}

/** The snapshot (with config.json) a cache repository's refs/main names, or why it names none. */
function mainSnapshot(repoDir: string, snapshots: string): { rev: string } | { problem: string } {
  const ref = join(repoDir, 'refs', 'main');
  if (!existsSync(ref)) return { problem: 'no refs/main' };
  let rev: string;
  try {
    rev = readRef(ref, repoDir);
  } catch (e) {
    return { problem: (e as Error).message }; // "refs/main: not a regular file", too large, unreadable
  }
  // A commit is a plain folder name: anything else (a path, a line of garbage) names no snapshot.
  const commit = rev && !/[/\\\s]/.test(rev) && rev !== '.' && rev !== '..';
  if (commit && existsSync(join(snapshots, rev, 'config.json'))) return { rev };
  // huggingface_hub writes refs/main as a download starts: its snapshot may be there, incomplete.
  if (commit && existsSync(join(snapshots, rev)))
    return {
      problem: `refs/main names ${rev}, whose snapshot has no config.json (a download not finished?)`,
    };
  const shown = rev.length > 40 ? `${rev.slice(0, 40)}…` : rev;
  return {
    problem: rev ? `refs/main names no snapshot here (${JSON.stringify(shown)})` : 'refs/main is empty',
  };
}

/**
 * The commit a Hugging Face cache ref (refs/<branch>) names. Read as config files are (json-file.ts):
 * a named pipe there would otherwise be waited on for good ('not-a-file'), and a ref is a 40-digit
 * commit, so anything past 1 KB is no ref. `repoDir` shortens the path in errors (refs/main).
 */
export function readRef(file: string, repoDir: string): string {
  return readFileCapped(file, 1024, relative(repoDir, file)).toString('utf8').trim();
}

/**
 * Why a folder has no tokenizer the studio reads, for messages: "no tokenizer.json", and what to do
 * when only a SentencePiece tokenizer.model is there (older Llama and Mistral uploads).
 */
export function noTokenizerReason(dir: string): string {
  return existsSync(join(dir, 'tokenizer.model'))
    ? 'no tokenizer.json, only tokenizer.model, which the studio does not read (transformers writes tokenizer.json: AutoTokenizer.from_pretrained(folder).save_pretrained(folder))'
    : 'no tokenizer.json';
}

export interface ModelFolder {
  dir: string;
  spec: ModelSpec;
  /** null when the folder has no tokenizer.json (a bare checkpoint). */
  tokenizer: Tokenizer | null;
  /** How a cache repository's snapshot was chosen, when that is worth saying (resolveModelFolder). */
  note?: string;
}

/**
 * A file's identity, size and times, '-' when it cannot be stat'ed: when this differs, the file
 * changed. The change time counts too: an edit that puts the old mtime back (touch -r, cp -p)
 * still changes it.
 */
export function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return '-';
  }
}

/** The files openModelFolder reads (the weights only for their headers). */
const FOLDER_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'model.safetensors',
  'model.safetensors.index.json',
];

/**
 * The stamps of what openModelFolder reads in `dir`: a folder kept open (keptModelFolder) is opened
 * again once this differs, so an edited chat template or tokenizer is what the next preview or
 * count uses, as training would.
 */
function modelFolderStamp(dir: string): string {
  return FOLDER_FILES.map((f) => fileStamp(join(dir, f))).join('|');
}

/** Opens spec and tokenizer of a model folder (weights are validated, not read). */
export function openModelFolder(input: string): ModelFolder {
  const { dir, note } = resolveModelFolder(input);
  const spec = loadModelSpec(dir);
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : null;
  return { dir, spec, tokenizer, ...(note ? { note } : {}) };
}

/** How many folders keptModelFolder keeps open, the most recently asked last. */
const KEPT_FOLDERS = 2;
const keptFolders = new Map<string, { stamp: string; folder: ModelFolder }>();

/**
 * openModelFolder(dir), kept for the next ask until its files change (modelFolderStamp): counting a
 * dataset's tokens and paging through a run's examples ask for one model's folder again and again,
 * and its tokenizer takes a moment to build from tokenizer.json. The last KEPT_FOLDERS are kept.
 */
export function keptModelFolder(dir: string): ModelFolder {
  const stamp = modelFolderStamp(dir);
  const known = keptFolders.get(dir);
  const folder = known?.stamp === stamp ? known.folder : openModelFolder(dir);
  keptFolders.delete(dir);
  keptFolders.set(dir, { stamp, folder });
  while (keptFolders.size > KEPT_FOLDERS) keptFolders.delete(keptFolders.keys().next().value as string);
  return folder;
}

/** Plain-data description of a model, for `models inspect --json` and the studio. */
export interface ModelSummary {
  dir: string;
  name: string;
  arch: string;
  modelType: string;
  architectures: string[];
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  dtype: string;
  params: number;
  fingerprint: string;
  tieEmbeddings: boolean;
  norm: ModelSpec['norm'];
  act: ModelSpec['act'];
  rope: RopeSpec | null;
  weights: { files: string[]; tensors: number; bytes: number };
  tokenizer: null | {
    vocabSize: number;
    bosTokenId: number | null;
    eosTokenId: number | null;
    padTokenId: number | null;
    chatTemplate: boolean;
  };
  eosTokenIds: number[];
  warnings: string[];
}

export function summarizeModel(folder: ModelFolder): ModelSummary {
  const { spec, tokenizer } = folder;
  const warnings: string[] = [];
  let bytes = 0;
  for (const h of spec.weights.headers) for (const t of h.tensors.values()) bytes += t.byteLength;
  // A tokenizer id past the embedding table would index out of range inside the graph.
  if (tokenizer && tokenizer.vocabSize > spec.vocabSize) {
    warnings.push(
      `tokenizer.json has ${tokenizer.vocabSize} ids but config.json vocab_size=${spec.vocabSize}`,
    );
  }
  if (!tokenizer) warnings.push(`${noTokenizerReason(folder.dir)}: generation and training need one`);
  const eos = new Set(spec.eosTokenIds);
  if (tokenizer?.eosTokenId != null) eos.add(tokenizer.eosTokenId);
  if (eos.size === 0)
    warnings.push('no eos token id in config.json, generation_config.json or tokenizer_config.json');
  return {
    dir: folder.dir,
    name: basename(folder.dir),
    arch: spec.arch,
    modelType: spec.modelType,
    architectures: spec.architectures,
    layers: spec.numLayers,
    hiddenSize: spec.hiddenSize,
    heads: spec.numHeads,
    kvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    intermediateSize: spec.intermediateSize,
    vocabSize: spec.vocabSize,
    maxPositions: spec.maxPositions,
    dtype: spec.dtype,
    params: spec.params,
    fingerprint: spec.fingerprint,
    tieEmbeddings: spec.tieEmbeddings,
    norm: spec.norm,
    act: spec.act,
    rope: spec.rope,
    weights: { files: spec.weights.headers.map((h) => basename(h.path)), tensors: spec.weights.size, bytes },
    tokenizer: tokenizer && {
      vocabSize: tokenizer.vocabSize,
      bosTokenId: tokenizer.bosTokenId,
      eosTokenId: tokenizer.eosTokenId,
      padTokenId: tokenizer.padTokenId,
      chatTemplate: tokenizer.chatTemplate !== null,
    },
    eosTokenIds: [...eos],
    warnings,
  };
}
