// The studio-wide engine and Hub preferences the Settings page edits, and how they take effect:
//   engine.device    the device a run or a generation uses when it does not name one ('auto', 'cuda', …;
//                    unset = the CPU, the engine's own default)
//   engine.threads   ONNX Runtime's intra-op threads for sessions created from now on (0 = automatic);
//                    passed as REFT_STUDIO_THREADS, which runtime/cpu-threads.ts reads per session
//   engine.gpu       the NVIDIA GPU CUDA sessions use on a machine with several (nvidia-smi's number;
//                    unset = the first); passed as REFT_STUDIO_GPU (runtime/gpu-choice.ts)
//   hub.token        the Hugging Face access token (a secret: settings/get never returns it)
//   hub.cachePath    the Hugging Face cache folder (HF_HUB_CACHE)
// The Hub code reads HF_TOKEN / HF_HUB_CACHE from the environment as huggingface_hub does, so a value
// set here is applied to this process's environment at start-up and whenever it changes; a value the
// person exported themselves is kept when the setting is empty.

import { existsSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { automaticThreads } from '../../../native-runtime/runtime/cpu-threads.ts';
import { DEVICES, type DeviceChoice } from '../../../native-runtime/runtime/device-choice.ts';
import { writeTransaction } from '../db/database.ts';
import { TOKEN_FROM_SETTINGS_VAR } from '../hub/client.ts';
import type { Library } from './library.ts';
import { getSetting, setSetting } from './settings.ts';

type EnvName = 'HF_TOKEN' | 'HF_HUB_CACHE' | 'REFT_STUDIO_THREADS' | 'REFT_STUDIO_GPU';

/**
 * The person's own value of each variable (so clearing a setting restores it), and the value this
 * module last wrote. A variable that differs from what we wrote was set by someone else (the shell
 * this process started in, a host that set it before creating a backend): that is the own value now.
 * Snapshotting at import instead lost every value set between the import and the first backend.
 */
const own: Partial<Record<EnvName, string>> = {};
const wrote = new Map<EnvName, string | undefined>();

function ownValue(name: EnvName): string | undefined {
  const current = process.env[name];
  if (!wrote.has(name) || wrote.get(name) !== current) {
    if (current === undefined) delete own[name];
    else own[name] = current;
  }
  return own[name];
}

export interface EnvironmentReport {
  dataDir: string;
  /** How the data folder was chosen: REFT_STUDIO_HOME, or the OS default / --data-dir. */
  dataDirFromEnv: boolean;
  device: DeviceChoice;
  /** The setting; 0 = automatic. */
  threads: number;
  cpuCount: number;
  /** What automatic gives on this computer (runtime/cpu-threads.ts), or null where ORT counts the cores. */
  automaticThreads: number | null;
  /** The NVIDIA GPU chosen for CUDA (nvidia-smi's number), or null: the first. */
  gpu: number | null;
  hub: {
    /** Where the token comes from, if any: this studio's setting, the environment, or neither. */
    token: 'settings' | 'environment' | null;
    /** The last four characters, so a person can tell which token it is. */
    tokenHint: string | null;
    cachePath: string | null;
    cachePathFrom: 'settings' | 'environment' | null;
  };
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}

/** The device chosen in Settings, or undefined (the engine's default, the CPU). */
export function preferredDevice(lib: Library): DeviceChoice | undefined {
  const v = getSetting(lib, 'engine.device');
  return (DEVICES as readonly string[]).includes(v as string) ? (v as DeviceChoice) : undefined;
}

function threadsSetting(lib: Library): number {
  const v = getSetting(lib, 'engine.threads');
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0;
}

function gpuSetting(lib: Library): number | null {
  const v = getSetting(lib, 'engine.gpu');
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

function setEnv(name: EnvName, value: string | null): void {
  const v = value ?? ownValue(name);
  if (v === undefined) delete process.env[name];
  else process.env[name] = v;
  wrote.set(name, v);
}

/** Applies the stored preferences to this process's environment (start-up and after each change). */
export function applyEnvironment(lib: Library): void {
  const token = str(getSetting(lib, 'hub.token'));
  setEnv('HF_TOKEN', token);
  // So that a refused token is named as the one saved in Settings, not as the person's HF_TOKEN, and
  // a missing one is asked for in Settings (set either way: this is the studio).
  process.env[TOKEN_FROM_SETTINGS_VAR] = token ? 'settings' : 'environment';
  setEnv('HF_HUB_CACHE', str(getSetting(lib, 'hub.cachePath')));
  const t = threadsSetting(lib);
  setEnv('REFT_STUDIO_THREADS', t > 0 ? String(t) : null);
  const g = gpuSetting(lib);
  setEnv('REFT_STUDIO_GPU', g === null ? null : String(g));
}

export function environmentReport(lib: Library): EnvironmentReport {
  const token = str(getSetting(lib, 'hub.token'));
  const envToken = str(ownValue('HF_TOKEN'));
  const cache = str(getSetting(lib, 'hub.cachePath'));
  const envCache = str(ownValue('HF_HUB_CACHE'));
  const shown = token ?? envToken;
  return {
    dataDir: lib.dataDir,
    dataDirFromEnv:
      !!process.env.REFT_STUDIO_HOME && resolve(process.env.REFT_STUDIO_HOME) === resolve(lib.dataDir),
    device: preferredDevice(lib) ?? 'cpu',
    threads: threadsSetting(lib),
    cpuCount: cpus().length,
    automaticThreads: automaticThreads(),
    gpu: gpuSetting(lib),
    hub: {
      token: token ? 'settings' : envToken ? 'environment' : null,
      tokenHint: shown ? `…${shown.slice(-4)}` : null,
      cachePath: cache ?? envCache,
      cachePathFrom: cache ? 'settings' : envCache ? 'environment' : null,
    },
  };
}

export interface EnvironmentChange {
  device?: DeviceChoice;
  threads?: number;
  /** nvidia-smi's number of the GPU for CUDA; null: the first. */
  gpu?: number | null;
  /** null removes the stored token. */
  hubToken?: string | null;
  /** null goes back to the default cache. */
  hubCachePath?: string | null;
}

/** Validates and stores a change, then applies it. */
export function setEnvironment(lib: Library, c: EnvironmentChange): EnvironmentReport {
  if (c.threads !== undefined && (!Number.isInteger(c.threads) || c.threads < 0 || c.threads > 1024))
    throw new ValidationError('bad-threads', 'threads: a whole number, 0 (automatic) or more');
  if (c.gpu !== undefined && c.gpu !== null && (!Number.isInteger(c.gpu) || c.gpu < 0 || c.gpu > 255))
    throw new ValidationError('bad-gpu', 'gpu: a GPU number (0, 1, …) as `reft-studio devices` lists them');
  if (c.hubToken && !/^hf_[A-Za-z0-9]{10,}$/.test(c.hubToken.trim()))
    throw new ValidationError(
      'bad-token',
      'that does not look like a Hugging Face access token (they start with "hf_"; copy it from huggingface.co/settings/tokens)',
    );
  const cachePath = c.hubCachePath?.trim();
  if (cachePath && !isAbsolute(cachePath))
    throw new ValidationError('bad-path', 'the cache folder must be a full path (e.g. /home/me/hf-cache)');
  // A folder not there yet is made by the first download; a file there would fail every scan and download.
  if (cachePath && existsSync(cachePath) && !statSync(cachePath).isDirectory())
    throw new ValidationError('not-a-folder', `${cachePath} is a file; the cache must be a folder`);
  writeTransaction(lib.db, () => {
    if (c.device !== undefined) setSetting(lib, 'engine.device', c.device === 'cpu' ? null : c.device);
    if (c.threads !== undefined) setSetting(lib, 'engine.threads', c.threads === 0 ? null : c.threads);
    if (c.gpu !== undefined) setSetting(lib, 'engine.gpu', c.gpu);
    if (c.hubToken !== undefined) setSetting(lib, 'hub.token', c.hubToken?.trim() || null);
    if (c.hubCachePath !== undefined) setSetting(lib, 'hub.cachePath', c.hubCachePath?.trim() || null);
  });
  applyEnvironment(lib);
  return environmentReport(lib);
}
