// Talking to the Hugging Face Hub (or any server speaking its API, named by HF_ENDPOINT) through
// @huggingface/hub: search, a repository's info at a revision and its file listing. The endpoint and
// token are found as huggingface_hub finds them (HF_ENDPOINT; HF_TOKEN, else the token file that
// `hf auth login` writes). Every failure becomes one line that says what to do: a missing repository,
// a gated one, a refused token, an unreachable server.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HubApiError, listFiles, listModels, modelInfo } from '@huggingface/hub';
import { ReftError, UnsupportedError } from '../../../native-runtime/errors.ts';
import {
  SAFETENSORS_DTYPE_BYTES,
  type SafetensorsDtype,
} from '../../../native-runtime/formats/safetensors.ts';
import { archOf, SUPPORTED_FAMILIES } from '../../../native-runtime/models/arch.ts';
import { checkConfigFeatures } from '../../../native-runtime/models/config.ts';
import { networkCause } from '../../../native-runtime/network-errors.ts';
import { checkRepoId, checkRevision } from './cache.ts';

/** A failure talking to the Hub; `code` says which kind (see explainHubError). */
export class HubError extends ReftError {}

export interface HubAccess {
  /** Base URL without a trailing slash. */
  endpoint: string;
  token: string | null;
  /** Where the token was found, so a refusal names it; absent: HF_TOKEN. */
  tokenOrigin?: TokenOrigin;
  /** In the studio, where a missing token is given in Settings rather than HF_TOKEN (the CLI's way). */
  inStudio?: boolean;
  /** Ends the requests made with this access at once (a cancelled download's). */
  signal?: AbortSignal;
}

/** Where a token comes from: the studio's Settings, an environment variable or huggingface_hub's file. */
export type TokenOrigin =
  | { kind: 'settings' }
  | { kind: 'variable'; name: string }
  | { kind: 'file'; path: string };

/**
 * Set by library/environment.ts in the studio: "settings" while HF_TOKEN holds the token saved in
 * Settings (the Hub code reads HF_TOKEN either way, and only this says it is not the person's own
 * variable), else "environment". Unset in the CLI, which has no Settings to name.
 */
export const TOKEN_FROM_SETTINGS_VAR = 'REFT_STUDIO_HF_TOKEN_FROM';

/** Where the studio keeps a token, named where one is missing or refused. */
const SETTINGS_PAGE = 'Settings › Hugging Face';

/** How to give the missing token: in the studio's Settings, else (the CLI) HF_TOKEN. */
function giveToken(access: HubAccess): string {
  return access.inStudio ? `save a token in ${SETTINGS_PAGE}` : 'set HF_TOKEN';
}

/** The token's origin as a message names it, and how to replace it there. */
function describeOrigin(origin: TokenOrigin = { kind: 'variable', name: 'HF_TOKEN' }): {
  name: string;
  fix: string;
} {
  switch (origin.kind) {
    case 'settings':
      return {
        name: 'the token saved in Settings',
        fix: `save a current token in ${SETTINGS_PAGE}, or remove it there`,
      };
    case 'variable':
      return {
        name: origin.name,
        fix: `set ${origin.name} to a current token, or unset it`,
      };
    case 'file':
      return {
        name: `the token in ${origin.path}`,
        fix: 'log in again with `hf auth login`, or set HF_TOKEN',
      };
  }
}

/**
 * HF_ENDPOINT without a trailing slash (default https://huggingface.co). A value that is not an
 * http(s) URL is refused by name: fetch's own "Invalid URL" read as a server that cannot be reached.
 */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:$/.test(URL.parse(endpoint)?.protocol ?? ''))
    throw new HubError(
      'bad-endpoint',
      `HF_ENDPOINT must be an http(s) URL such as https://huggingface.co (got ${JSON.stringify(env.HF_ENDPOINT)})`,
    );
  return endpoint;
}

/** HF_ENDPOINT (hubEndpoint) and HF_TOKEN or the stored token (hubToken), like huggingface_hub. */
export function hubAccess(env: NodeJS.ProcessEnv = process.env): HubAccess {
  const { token, origin } = findToken(env);
  return { endpoint: hubEndpoint(env), token, tokenOrigin: origin, inStudio: !!env[TOKEN_FROM_SETTINGS_VAR] };
}

/** HF_TOKEN, else the token file huggingface_hub stores; null when none. One that is no token is refused. */
export function hubToken(env: NodeJS.ProcessEnv = process.env): string | null {
  return findToken(env).token;
}

function findToken(env: NodeJS.ProcessEnv): { token: string | null; origin?: TokenOrigin } {
  let token: string | null = null;
  let origin: TokenOrigin | undefined;
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    if (token || !env[name]) continue;
    token = env[name];
    origin =
      name === 'HF_TOKEN' && env[TOKEN_FROM_SETTINGS_VAR] === 'settings'
        ? { kind: 'settings' }
        : { kind: 'variable', name };
  }
  if (!token) {
    const home = env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
    const file = env.HF_TOKEN_PATH || join(home, 'token');
    try {
      if (existsSync(file)) token = readFileSync(file, 'utf8').trim() || null;
    } catch {}
    if (token) origin = { kind: 'file', path: file };
  }
  if (token && !token.startsWith('hf_')) {
    const { name } = describeOrigin(origin);
    throw new HubError(
      'bad-token',
      `${name[0].toUpperCase()}${name.slice(1)} does not look like a Hugging Face access token (they start with "hf_")`,
    );
  }
  return { token, origin };
}

/** A fetch that remembers the last response's headers, for the Hub's X-Error-Code. */
function recordingFetch(signal?: AbortSignal): { fetch: typeof fetch; headers: () => Headers | null } {
  let last: Headers | null = null;
  return {
    fetch: async (input, init) => {
      const res = await fetch(input, { ...init, signal: init?.signal ?? signal });
      last = res.headers;
      return res;
    },
    headers: () => last,
  };
}

/**
 * One line for a failed Hub request. `status` and `errorCode` (the Hub's X-Error-Code header) decide;
 * the Hub answers 401 rather than 404 for a repository it will not show an anonymous caller.
 */
export function explainHubFailure(
  access: HubAccess,
  repo: string,
  status: number,
  errorCode: string | null,
  serverMessage: string,
  revision?: string,
): HubError {
  const page = `${access.endpoint}/${repo}`;
  if (errorCode === 'RevisionNotFound')
    return new HubError(
      'revision-not-found',
      `${repo} has no revision "${revision ?? 'main'}" on ${access.endpoint}`,
    );
  if (errorCode === 'GatedRepo' || /gated|restricted|authorized list/i.test(serverMessage)) {
    return access.token
      ? new HubError(
          'gated',
          `${repo} is gated and the account of ${describeOrigin(access.tokenOrigin).name} has not been granted access: request it at ${page}`,
        )
      : new HubError(
          'gated',
          `${repo} is gated: accept its conditions at ${page}, then ${access.inStudio ? `save a token of that account in ${SETTINGS_PAGE}` : 'set HF_TOKEN to a token of that account'}`,
        );
  }
  if (errorCode === 'RepoNotFound' || status === 404 || /not found/i.test(serverMessage)) {
    return new HubError(
      'repo-not-found',
      `${repo}: no such model on ${access.endpoint}${access.token ? '' : ` (if it is private, ${giveToken(access)})`}`,
    );
  }
  if (status === 401) {
    if (!access.token)
      return new HubError('auth-required', `${repo} needs a Hugging Face token: ${giveToken(access)}`);
    const { name, fix } = describeOrigin(access.tokenOrigin);
    return new HubError('bad-token', `${access.endpoint} refused ${name} (invalid or expired): ${fix}`);
  }
  if (status === 403)
    return new HubError('forbidden', `${access.endpoint} refused access to ${repo}: ${serverMessage}`);
  if (status === 429)
    return new HubError(
      'rate-limited',
      `${access.endpoint} is rate-limiting requests; try again in a minute`,
    );
  return new HubError('hub-error', `${access.endpoint} answered ${status} for ${repo}: ${serverMessage}`);
}

/** Turns anything thrown while talking to the Hub into a HubError with one line. */
export function explainHubError(
  access: HubAccess,
  repo: string,
  err: unknown,
  headers: Headers | null = null,
  revision?: string,
): ReftError {
  if (err instanceof ReftError) return err;
  if (err instanceof HubApiError) {
    const msg = err.message.replace(/\. URL: .*$/s, '');
    return explainHubFailure(
      access,
      repo,
      err.statusCode,
      headers?.get('x-error-code') ?? null,
      msg,
      revision,
    );
  }
  return new HubError('unreachable', `cannot reach ${access.endpoint}: ${networkCause(err)}`);
}

export interface HubSearchResult {
  repo: string;
  downloads: number;
  likes: number;
  gated: false | 'auto' | 'manual';
  license: string | null;
  /** model_type from config.json (llama, qwen2, ...), when the Hub knows it. */
  modelType: string | null;
  architectures: string[];
  /** Parameter count from the safetensors metadata, when the Hub knows it. */
  params: number | null;
  /** Bytes of the safetensors weights, from the parameter count per dtype. */
  sizeBytes: number | null;
  /**
   * Whether the engine runs it: model_type among the supported ones and nothing in the config.json
   * fields the Hub gave ruling it out (checkSupportedType), else why not (`unsupported`).
   */
  supported: boolean;
  unsupported: { code: string; message: string } | null;
  updatedAt: string | null;
}

interface HubModelFields {
  config?: { model_type?: string; architectures?: string[] };
  cardData?: { license?: string | string[] };
  safetensors?: { parameters?: Record<string, number>; total?: number };
  tags?: string[];
  sha?: string;
}

function licenseOf(m: HubModelFields): string | null {
  const l = m.cardData?.license;
  if (typeof l === 'string') return l;
  if (Array.isArray(l) && typeof l[0] === 'string') return l[0];
  const tag = m.tags?.find((t) => t.startsWith('license:'));
  return tag ? tag.slice('license:'.length) : null;
}

function weightBytes(m: HubModelFields): number | null {
  const p = m.safetensors?.parameters;
  if (!p) return null;
  // A dtype the engine does not know (F8_E4M3, …) counts 2 bytes, the common case.
  const bytes = (dt: string) =>
    Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dt) ? SAFETENSORS_DTYPE_BYTES[dt as SafetensorsDtype] : 2;
  return Object.entries(p).reduce((s, [dt, n]) => s + n * bytes(dt), 0);
}

/**
 * Refuses a model_type the engine does not run, naming the supported families, and a config the
 * engine cannot build (a quantized checkpoint, an unsupported rope: checkConfigFeatures), from what
 * is known of the repository before any weight is fetched. The Hub's model info carries only some
 * of config.json's fields: a preview and a download pass the whole file (fetch-model.ts withFullConfig).
 */
export function checkSupportedType(info: Pick<HubRepoInfo, 'repo' | 'modelType' | 'config'>): void {
  if (info.modelType && !archOf(info.modelType))
    throw new UnsupportedError(
      'unsupported-architecture',
      `${info.repo} is a "${info.modelType.slice(0, 80)}" model (${SUPPORTED_FAMILIES})`,
    );
  if (info.config) checkConfigFeatures(info.config, info.repo);
}

/** checkSupportedType's refusal as data (code and one line), or null when nothing known rules it out. */
export function unsupportedReason(
  info: Pick<HubRepoInfo, 'repo' | 'modelType' | 'config'>,
): { code: string; message: string } | null {
  try {
    checkSupportedType(info);
    return null;
  } catch (e) {
    if (e instanceof ReftError) return { code: e.code, message: e.message };
    throw e;
  }
}

export function describeHubModel(
  repo: string,
  base: { downloads?: number; likes?: number; gated?: false | 'auto' | 'manual'; updatedAt?: Date },
  m: HubModelFields,
): HubSearchResult {
  const modelType = m.config?.model_type ?? null;
  const config = (m.config as Record<string, unknown> | undefined) ?? null;
  const unsupported =
    modelType === null
      ? {
          code: 'unsupported-architecture',
          message: `${repo}: the Hub names no model_type (${SUPPORTED_FAMILIES})`,
        }
      : unsupportedReason({ repo, modelType, config });
  return {
    repo,
    downloads: base.downloads ?? 0,
    likes: base.likes ?? 0,
    gated: base.gated ?? false,
    license: licenseOf(m),
    modelType,
    architectures: m.config?.architectures ?? [],
    params: m.safetensors?.total ?? null,
    sizeBytes: weightBytes(m),
    supported: unsupported === null,
    unsupported,
    updatedAt: base.updatedAt ? base.updatedAt.toISOString() : null,
  };
}

/** Text-generation models matching `query`, most downloaded first. */
export async function searchModels(
  query: string,
  opts: { limit?: number; access?: HubAccess } = {},
): Promise<HubSearchResult[]> {
  const access = opts.access ?? hubAccess();
  const rec = recordingFetch();
  const out: HubSearchResult[] = [];
  try {
    for await (const m of listModels({
      search: { query: query.trim() || undefined, task: 'text-generation' },
      sort: 'downloads',
      limit: Math.min(Math.max(opts.limit ?? 20, 1), 100),
      additionalFields: ['config', 'cardData', 'safetensors', 'tags'],
      hubUrl: access.endpoint,
      accessToken: access.token ?? undefined,
      fetch: rec.fetch,
    })) {
      out.push(describeHubModel(m.name, m, m as HubModelFields));
    }
  } catch (e) {
    throw explainHubError(access, `search "${query}"`, e, rec.headers());
  }
  return out;
}

export interface HubFile {
  path: string;
  size: number;
  /** sha256 for LFS files, else the git blob sha1: the blob's name in the cache and its checksum. */
  etag: string;
  lfs: boolean;
}

export interface HubRepoInfo extends HubSearchResult {
  /** The commit the revision resolved to. */
  commit: string;
  revision: string;
  files: HubFile[];
  config: Record<string, unknown> | null;
}

/** A repository at a revision: its commit, metadata and every file with its size and hash. */
export async function repoInfo(
  repo: string,
  revision: string,
  access: HubAccess = hubAccess(),
): Promise<HubRepoInfo> {
  checkRepoId(repo);
  checkRevision(revision);
  const rec = recordingFetch(access.signal);
  try {
    const info = await modelInfo({
      name: repo,
      revision,
      additionalFields: ['sha', 'config', 'cardData', 'safetensors', 'tags'],
      hubUrl: access.endpoint,
      accessToken: access.token ?? undefined,
      fetch: rec.fetch,
    });
    const fields = info as HubModelFields;
    const commit = fields.sha;
    if (!commit || !/^[0-9a-f]{40}$/.test(commit))
      throw new HubError('hub-error', `${access.endpoint} gave no commit for ${repo}@${revision}`);
    const files: HubFile[] = [];
    for await (const f of listFiles({
      repo: { type: 'model', name: repo },
      revision: commit,
      recursive: true,
      hubUrl: access.endpoint,
      accessToken: access.token ?? undefined,
      fetch: rec.fetch,
    })) {
      if (f.type !== 'file') continue;
      const etag = f.lfs?.oid ?? f.oid;
      if (!etag) continue;
      files.push({ path: f.path, size: f.lfs?.size ?? f.size, etag, lfs: !!f.lfs });
    }
    return {
      ...describeHubModel(repo, info, fields),
      commit,
      revision,
      files,
      config: (fields.config as Record<string, unknown> | undefined) ?? null,
    };
  } catch (e) {
    throw explainHubError(access, repo, e, rec.headers(), revision);
  }
}
