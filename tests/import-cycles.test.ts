// No import cycles anywhere in the project (what `npx madge --circular` checks, without the
// dependency): every relative import of every .ts and .svelte file in electron/, cli/,
// native-runtime/, renderer/src/ and scripts/ — type-only imports included, since a cycle of types is
// still two modules that cannot be understood apart — read with TypeScript's own pre-processor, and
// the strongly connected groups of the graph reported by file.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { appRoot } from '../electron/backend/paths.ts';

const ROOT = appRoot();
const ROOTS = ['electron', 'cli', 'native-runtime', 'renderer/src', 'scripts'];
const SKIP = new Set(['node_modules', 'dist', 'fixtures', '.git']);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name)) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|svelte)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const r of ROOTS) if (existsSync(join(ROOT, r))) walk(join(ROOT, r));
  return out;
}

/** The code of a file: a .svelte file's <script> blocks. */
function code(file: string): string {
  const text = readFileSync(file, 'utf8');
  if (!file.endsWith('.svelte')) return text;
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
}

/** Relative imports of every file, resolved to files of the project. */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = ts
      .preProcessFile(code(f), true, true)
      .importedFiles.map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(dirname(f), s))
      .filter((p) => known.has(p));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** Groups of files that import each other, directly or through others (Tarjan's algorithm). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(group.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the checker finds a cycle where there is one', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.deepEqual(cycles(g), [['a', 'b', 'c']]);
  assert.deepEqual(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
});

test('no import cycles in the project', () => {
  const files = sourceFiles();
  assert.ok(files.length > 200, `${files.length} files found`);
  const found = cycles(importGraph(files)).map((g) => g.map((f) => relative(ROOT, f)).join(' ↔ '));
  assert.deepEqual(found, []);
});
