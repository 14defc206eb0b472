// A local stand-in for the Hugging Face Hub, speaking the parts of its HTTP API that the studio (and
// huggingface_hub) use, so no test talks to the internet:
//   GET  /api/models?search=…                       search (expand fields: config, cardData, safetensors, tags)
//   GET  /api/models/ORG/NAME/revision/REV          model info with sha and siblings
//   GET  /api/models/ORG/NAME/tree/REV?recursive=…  file listing (oid, size, lfs {oid, size})
//   HEAD|GET /ORG/NAME/resolve/REV/PATH             regular files: 200 with ETag and X-Repo-Commit;
//                                                   LFS files: 302 to /cdn/<sha256> with X-Linked-Etag
//                                                   and X-Linked-Size, like the Hub's CDN hand-off
//   GET  /cdn/<sha256>                              the bytes, with Range (206) and 416
// Errors carry the Hub's X-Error-Code (RepoNotFound, RevisionNotFound, GatedRepo) and JSON {error}.
// Faults for tests: drop the connection after N bytes of a file, stall after N bytes (until closed),
// corrupt a file's bytes (its listed hash stays the original's), and a request log.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export interface HubRepoSpec {
  /** Folder whose files (recursively) make up the repository. */
  dir?: string;
  /** Extra or replacing files: path → contents. */
  files?: Record<string, string | Buffer>;
  gated?: boolean;
  /** Tokens granted access to a gated repo. */
  grantedTokens?: string[];
  downloads?: number;
  license?: string;
}

export interface HubFault {
  /** Repository file path the fault applies to. */
  path: string;
  kind: 'drop' | 'stall' | 'corrupt';
  /** drop/stall: bytes sent before the connection is cut or stops. */
  afterBytes?: number;
  /** How many GETs of the file it applies to (default 1; corrupt: every one). */
  times?: number;
}

export interface HubRequest {
  method: string;
  path: string;
  range: string | null;
  status: number;
  auth: string | null;
}

interface StoredFile {
  path: string;
  data: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

interface StoredRepo {
  id: string;
  spec: HubRepoSpec;
  commit: string;
  files: StoredFile[];
  config: Record<string, unknown> | null;
}

function gitOid(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

function readTree(dir: string, prefix = ''): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(p).isDirectory()) Object.assign(out, readTree(p, rel));
    else out[rel] = readFileSync(p);
  }
  return out;
}

export class LocalHub {
  readonly repos = new Map<string, StoredRepo>();
  readonly requests: HubRequest[] = [];
  readonly faults: HubFault[] = [];
  /** Tokens the server accepts at all (others get 401 "Invalid credentials"). */
  readonly validTokens = new Set<string>(['hf_user', 'hf_granted']);
  /** Called with the byte count each time a stalled transfer has sent its bytes. */
  onStall: ((path: string, bytes: number) => void) | null = null;
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  #stalled: ServerResponse[] = [];
  url = '';

  addRepo(id: string, spec: HubRepoSpec): StoredRepo {
    const contents: Record<string, Buffer> = spec.dir ? readTree(spec.dir) : {};
    for (const [p, v] of Object.entries(spec.files ?? {})) contents[p] = Buffer.from(v);
    const files = Object.keys(contents)
      .sort()
      .map((path) => {
        const data = contents[path];
        return {
          path,
          data,
          lfs: path.endsWith('.safetensors') || path.endsWith('.bin') || path.endsWith('.onnx'),
          sha256: createHash('sha256').update(data).digest('hex'),
          gitOid: gitOid(data),
        };
      });
    const commit = createHash('sha1')
      .update(id)
      .update(files.map((f) => `${f.path}:${f.gitOid}`).join('\n'))
      .digest('hex');
    const cfg = files.find((f) => f.path === 'config.json');
    const repo: StoredRepo = {
      id,
      spec,
      commit,
      files,
      config: cfg ? (JSON.parse(cfg.data.toString('utf8')) as Record<string, unknown>) : null,
    };
    this.repos.set(id, repo);
    return repo;
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e) => {
        if (!res.headersSent) this.#json(req, res, 500, { error: String(e) });
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((r) => this.#server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }

  /** Ends stalled transfers (their clients see a dropped connection). */
  releaseStalled(): void {
    for (const r of this.#stalled.splice(0)) r.socket?.destroy();
  }

  #log(req: IncomingMessage, status: number): void {
    this.requests.push({
      method: req.method ?? 'GET',
      path: decodeURIComponent((req.url ?? '').split('?')[0]),
      range: (req.headers.range as string | undefined) ?? null,
      status,
      auth: (req.headers.authorization as string | undefined) ?? null,
    });
  }

  #json(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, code?: string): void {
    this.#log(req, status);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (code) headers['x-error-code'] = code;
    res.writeHead(status, headers);
    res.end(JSON.stringify(body));
  }

  #token(req: IncomingMessage): string | null {
    const a = req.headers.authorization;
    return a?.startsWith('Bearer ') ? a.slice(7) : null;
  }

  #info(r: StoredRepo): Record<string, unknown> {
    const params: Record<string, number> = {};
    let total = 0;
    for (const f of r.files.filter((x) => x.path.endsWith('.safetensors') && x.data.length > 8)) {
      const n = f.data.readUInt32LE(0);
      const header = JSON.parse(f.data.subarray(8, 8 + n).toString('utf8')) as Record<
        string,
        { dtype: string; shape: number[] }
      >;
      for (const [k, t] of Object.entries(header)) {
        if (k === '__metadata__') continue;
        const count = t.shape.reduce((a, b) => a * b, 1);
        params[t.dtype] = (params[t.dtype] ?? 0) + count;
        total += count;
      }
    }
    return {
      _id: r.commit.slice(0, 24),
      id: r.id,
      modelId: r.id,
      sha: r.commit,
      private: false,
      gated: r.spec.gated ? 'manual' : false,
      downloads: r.spec.downloads ?? 0,
      likes: 1,
      pipeline_tag: 'text-generation',
      lastModified: '2025-01-01T00:00:00.000Z',
      tags: [`license:${r.spec.license ?? 'apache-2.0'}`],
      cardData: { license: r.spec.license ?? 'apache-2.0' },
      config: r.config ? hubConfigFields(r.config) : undefined,
      safetensors: total ? { parameters: params, total } : undefined,
      siblings: r.files.map((f) => ({ rfilename: f.path })),
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = this.#token(req);
    if (token && !this.validTokens.has(token))
      return this.#json(req, res, 401, { error: 'Invalid credentials in Authorization header' });
    const path = decodeURIComponent(url.pathname);

    if (path === '/api/models') {
      const q = (url.searchParams.get('search') ?? '').toLowerCase();
      const limit = Number(url.searchParams.get('limit') ?? 20);
      const hits = [...this.repos.values()]
        .filter((r) => r.id.toLowerCase().includes(q))
        .sort((a, b) => (b.spec.downloads ?? 0) - (a.spec.downloads ?? 0))
        .slice(0, limit)
        .map((r) => this.#info(r));
      return this.#json(req, res, 200, hits);
    }

    let m = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const repo = this.repos.get(m[1]);
      if (!repo) return this.#json(req, res, 404, { error: 'Repository not found' }, 'RepoNotFound');
      if (m[3] !== 'main' && m[3] !== 'HEAD' && m[3] !== repo.commit)
        return this.#json(req, res, 404, { error: `Invalid rev id: ${m[3]}` }, 'RevisionNotFound');
      if (m[2] === 'revision') return this.#json(req, res, 200, this.#info(repo));
      return this.#json(
        req,
        res,
        200,
        repo.files.map((f) => ({
          type: 'file',
          path: f.path,
          size: f.data.length,
          oid: f.gitOid,
          ...(f.lfs ? { lfs: { oid: f.sha256, size: f.data.length, pointerSize: 132 } } : {}),
        })),
      );
    }

    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m) {
      const repo = this.repos.get(m[1]);
      if (!repo) return this.#json(req, res, 404, { error: 'Repository not found' }, 'RepoNotFound');
      if (m[2] !== 'main' && m[2] !== repo.commit)
        return this.#json(req, res, 404, { error: `Invalid rev id: ${m[2]}` }, 'RevisionNotFound');
      if (repo.spec.gated && !(token && repo.spec.grantedTokens?.includes(token))) {
        const msg = token
          ? `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit https://hub/${repo.id} to ask for access.`
          : `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
        return this.#json(req, res, token ? 403 : 401, { error: msg }, 'GatedRepo');
      }
      const file = repo.files.find((f) => f.path === m?.[3]);
      if (!file) return this.#json(req, res, 404, { error: 'Entry not found' }, 'EntryNotFound');
      const common = { 'x-repo-commit': repo.commit };
      if (file.lfs) {
        this.#log(req, 302);
        res.writeHead(302, {
          ...common,
          location: `/cdn/${repo.id}/${file.sha256}`,
          'x-linked-etag': `"${file.sha256}"`,
          'x-linked-size': String(file.data.length),
          etag: `"${file.gitOid}"`,
        });
        return void res.end();
      }
      return this.#send(req, res, file, { ...common, etag: `"${file.gitOid}"` });
    }

    m = /^\/cdn\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(path);
    if (m) {
      const file = this.repos.get(m[1])?.files.find((f) => f.sha256 === m?.[2]);
      if (!file) return this.#json(req, res, 404, { error: 'no such object' });
      return this.#send(req, res, file, { etag: `"${file.sha256}"` });
    }
    return this.#json(req, res, 404, { error: 'Not found' });
  }

  /** Sends a file (or its Range) applying any fault registered for it. */
  #send(req: IncomingMessage, res: ServerResponse, file: StoredFile, headers: Record<string, string>): void {
    let data = file.data;
    const faultIdx = this.faults.findIndex((f) => f.path === file.path);
    const fault = faultIdx >= 0 ? this.faults[faultIdx] : null;
    if (fault?.kind === 'corrupt') {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    const size = data.length;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec((req.headers.range as string | undefined) ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= size) {
        this.#log(req, 416);
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        return void res.end();
      }
    }
    const status = range ? 206 : 200;
    this.#log(req, status);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': String(size - start),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    if (fault && fault.kind !== 'corrupt') {
      const times = fault.times ?? 1;
      if (times <= 1) this.faults.splice(faultIdx, 1);
      else fault.times = times - 1;
      const cut = Math.max(0, (fault.afterBytes ?? size >> 1) - start);
      res.write(data.subarray(start, start + cut), () => {
        if (fault.kind === 'drop') res.socket?.destroy();
        else {
          this.#stalled.push(res);
          this.onStall?.(file.path, start + cut);
        }
      });
      return;
    }
    res.end(data.subarray(start));
  }
}

/** Starts a LocalHub with the given repositories. */
export async function startLocalHub(repos: Record<string, HubRepoSpec>): Promise<LocalHub> {
  const hub = new LocalHub();
  for (const [id, spec] of Object.entries(repos)) hub.addRepo(id, spec);
  await hub.start();
  return hub;
}

/**
 * The config.json fields the Hub's model info gives, as huggingface.co does: the class, the type and
 * a few more, never the rope or the sizes (huggingface_hub issues #1759, #2571). Whatever depends on
 * the rest must read config.json itself.
 */
function hubConfigFields(config: Record<string, unknown>): Record<string, unknown> {
  const kept = ['architectures', 'model_type', 'auto_map', 'quantization_config', 'tokenizer_config'];
  return Object.fromEntries(Object.entries(config).filter(([k]) => kept.includes(k)));
}
