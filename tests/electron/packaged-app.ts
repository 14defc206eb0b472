// A packaged app's layout, staged in a temp folder from electron-builder.yml, for the bundles to run
// under plain Node as the packaged app runs them (the Electron binary cannot be downloaded here):
//   <root>/resources/app/      the `files` it packs (package.json, dist/electron built there by
//                              scripts/build-electron.js, renderer/dist, the migrations), and a
//                              node_modules holding only what the bundles require and esbuild left
//                              out (the native modules) with their dependencies
//   <root>/resources/<to>      each `extraResources` entry (Electron's process.resourcesPath is <root>/resources)
// A bundle that reads a file the package leaves out, or requires a module that is not bundled (tsx,
// a source .ts), fails here as it would in the installed app.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { appRoot } from '../../electron/backend/paths.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = appRoot();
/** Where scripts/build-electron.js writes the bundles, relative to the app. */
const BUNDLES = 'dist/electron';

export interface PackagedApp {
  /** The app folder (app.asar's contents): package.json, dist/electron, ... */
  app: string;
  /** What Electron's process.resourcesPath is in the installed app. */
  resources: string;
}

/** The top-level lists of electron-builder.yml this reads: `files` and `extraResources`. */
export function builderLists(yml: string): {
  files: string[];
  extraResources: { from: string; to: string }[];
} {
  const files: string[] = [];
  const extraResources: { from: string; to: string }[] = [];
  let list: string | null = null;
  for (const line of yml.split('\n')) {
    if (/^\S/.test(line)) list = line.trim().replace(/:$/, '');
    const item = /^ {2}- (.*)$/.exec(line)?.[1] ?? /^ {4}(\w+): (.*)$/.exec(line)?.slice(1).join(': ');
    if (!item) continue;
    const unquote = (s: string) => s.trim().replace(/^"(.*)"$/, '$1');
    if (list === 'files') files.push(unquote(item));
    else if (list === 'extraResources') {
      const [key, value] = item.split(/: (.*)/);
      if (key === 'from') extraResources.push({ from: unquote(value), to: '' });
      else if (key === 'to' && extraResources.length)
        extraResources[extraResources.length - 1].to = unquote(value);
    }
  }
  return { files, extraResources };
}

/** electron-builder's glob (`**`, `*`, `{a,b}`) as a RegExp over a path relative to the app. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (glob[i] === '*') re += '[^/]*';
    else if (glob[i] === '{') re += '(?:';
    else if (glob[i] === '}') re += ')';
    else if (glob[i] === ',') re += '|';
    else re += glob[i].replace(/[.+?^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Every file under `dir` (relative paths, prefixed with `as`). */
function filesUnder(dir: string, as: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return [as];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(as, relative(dir, join(e.parentPath, e.name))));
}

/** A pattern's folder or file before its first wildcard. */
function literalPrefix(glob: string): string {
  const parts = glob.split('/');
  const at = parts.findIndex((p) => /[*{!]/.test(p));
  return (at < 0 ? parts : parts.slice(0, at)).join('/');
}

/** The packages a bundle requires at run time (esbuild's externals): not Node's own, not electron. */
function requiredPackages(bundle: string): string[] {
  const names = new Set<string>();
  for (const m of readFileSync(bundle, 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)) {
    const spec = m[1];
    if (spec.startsWith('node:') || builtinModules.includes(spec) || spec === 'electron') continue;
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  }
  return [...names];
}

/** Links `names` and everything they depend on into `nodeModules`, from the checkout's node_modules. */
function linkPackages(names: string[], nodeModules: string): void {
  const seen = new Set<string>();
  const todo = [...names];
  for (let name = todo.pop(); name !== undefined; name = todo.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const from = join(ROOT, 'node_modules', name);
    mkdirSync(dirname(join(nodeModules, name)), { recursive: true });
    symlinkSync(from, join(nodeModules, name), 'dir');
    const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
    todo.push(...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}));
  }
}

/** Builds the bundles and stages the app as electron-builder.yml packs it. */
export function stagePackagedApp(): PackagedApp {
  const root = tempDir('packaged-app-');
  const build = join(root, 'build');
  const resources = join(root, 'resources');
  const app = join(resources, 'app');
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-electron.js'), '--outdir', build], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  // The fresh build stands where `npm run build` puts it; every other file comes from the checkout.
  const source = (rel: string) =>
    rel === BUNDLES || rel.startsWith(`${BUNDLES}/`) ? join(build, relative(BUNDLES, rel)) : join(ROOT, rel);
  const { files, extraResources } = builderLists(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8'));
  // node_modules is staged below from what the bundles require, not from `files`.
  const ours = files.filter((f) => !f.replace(/^!/, '').startsWith('node_modules/'));
  const keep = ours.filter((f) => !f.startsWith('!'));
  const drop = ours.filter((f) => f.startsWith('!')).map((f) => globRegExp(f.slice(1)));
  for (const glob of keep) {
    const re = globRegExp(glob);
    const prefix = literalPrefix(glob);
    for (const rel of filesUnder(source(prefix), prefix)) {
      if (!re.test(rel) || drop.some((d) => d.test(rel))) continue;
      mkdirSync(dirname(join(app, rel)), { recursive: true });
      cpSync(source(rel), join(app, rel));
    }
  }
  for (const { from, to } of extraResources)
    cpSync(join(ROOT, from), join(resources, to), { recursive: true });
  const bundles = join(app, BUNDLES);
  const cjs = existsSync(bundles) ? readdirSync(bundles).filter((f) => f.endsWith('.cjs')) : [];
  linkPackages(
    [...new Set(cjs.flatMap((f) => requiredPackages(join(bundles, f))))],
    join(app, 'node_modules'),
  );
  return { app, resources };
}
