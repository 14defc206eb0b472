// The intra-op thread count: the cores read from a sysfs-shaped folder, and a real session's thread
// pool sized to it (the thread count of this process, on Linux).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GraphBuilder } from '../ir/builder.ts';
import { automaticThreads, cpuQuota, intraOpThreads, linuxCores, parseCpuList } from './cpu-threads.ts';
import { createSession } from './session.ts';

const root = mkdtempSync(join(tmpdir(), 'cpu-threads-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * A sysfs-shaped folder: cpu{n}/topology/{core_cpus_list or thread_siblings_list} for each CPU, the
 * CPUs sharing its core (null: offline, no topology folder).
 */
function machine(name: string, cpus: Array<string | null>, allowed: string) {
  const dir = join(root, name);
  cpus.forEach((siblings, n) => {
    if (siblings === null) return;
    const topo = join(dir, 'sys', `cpu${n}`, 'topology');
    mkdirSync(topo, { recursive: true });
    // Kernels before 5.7 have only the older name.
    writeFileSync(join(topo, n % 2 ? 'thread_siblings_list' : 'core_cpus_list'), `${siblings}\n`);
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'status'), `Name:\tnode\nCpus_allowed:\tff\nCpus_allowed_list:\t${allowed}\n`);
  return { sysCpu: join(dir, 'sys'), procStatus: join(dir, 'status'), procCgroup: join(dir, 'none') };
}

/** A cgroup tree: /proc/self/cgroup's lines and files under the cgroup root (path → content). */
function cgroups(name: string, self: string, tree: Record<string, string>) {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(join(dir, 'fs', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'fs', path), `${text}\n`);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cgroup'), self);
  return { procCgroup: join(dir, 'cgroup'), cgroupRoot: join(dir, 'fs') };
}

describe('cpu threads', () => {
  it('reads kernel CPU lists, and refuses malformed ones', () => {
    assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList('5'), [5]);
    assert.equal(parseCpuList('3-1'), null);
    assert.equal(parseCpuList('0-x'), null);
    assert.equal(parseCpuList(''), null);
  });

  it('counts cores, not hardware threads, among the CPUs the process may use', () => {
    // Two cores with two hardware threads each (cpu0/cpu1 share a core, cpu2/cpu3 the other).
    const smt = ['0-1', '0-1', '2-3', '2-3'];
    assert.equal(linuxCores(machine('smt', smt, '0-3')), 2);
    assert.equal(linuxCores(machine('pinned', smt, '0-1')), 1);
    // Interleaved numbering (cpu0 and cpu2 one core) and one thread per core.
    assert.equal(linuxCores(machine('interleaved', ['0,2', '1,3', '0,2', '1,3'], '0-3')), 2);
    assert.equal(linuxCores(machine('no-smt', ['0', '1', '2'], '0-2')), 3);
    // An allowed CPU that is offline (no topology) does not count.
    assert.equal(linuxCores(machine('offline', ['0', null, '2'], '0-2')), 2);
  });

  it("caps the count at a container's CPU quota, rounded up: cgroup v2 and v1, the tightest level", () => {
    const eight = machine(
      'eight',
      Array.from({ length: 8 }, (_, i) => String(i)),
      '0-7',
    );
    const v2 = (name: string, tree: Record<string, string>) =>
      linuxCores({ ...eight, ...cgroups(name, '0::/docker/abc\n', tree) });
    assert.equal(v2('v2-1.5', { 'docker/abc/cpu.max': '150000 100000' }), 2);
    assert.equal(v2('v2-0.5', { 'docker/abc/cpu.max': '50000 100000' }), 1);
    assert.equal(v2('v2-none', { 'docker/abc/cpu.max': 'max 100000' }), 8);
    // A parent's limit applies to everything under it; the tighter one wins.
    assert.equal(
      v2('v2-parent', { 'docker/cpu.max': '300000 100000', 'docker/abc/cpu.max': 'max 100000' }),
      3,
    );
    assert.equal(
      v2('v2-both', { 'docker/cpu.max': '300000 100000', 'docker/abc/cpu.max': '200000 100000' }),
      2,
    );
    // A container with its own cgroup namespace sees itself at the root.
    assert.equal(linuxCores({ ...eight, ...cgroups('v2-ns', '0::/\n', { 'cpu.max': '400000 100000' }) }), 4);
    const v1 = (name: string, tree: Record<string, string>) =>
      linuxCores({ ...eight, ...cgroups(name, '4:memory:/x\n3:cpu,cpuacct:/x\n0::/\n', tree) });
    assert.equal(
      v1('v1-2', { 'cpu,cpuacct/x/cpu.cfs_quota_us': '200000', 'cpu,cpuacct/x/cpu.cfs_period_us': '100000' }),
      2,
    );
    assert.equal(
      v1('v1-none', { 'cpu,cpuacct/x/cpu.cfs_quota_us': '-1', 'cpu,cpuacct/x/cpu.cfs_period_us': '100000' }),
      8,
    );
    assert.equal(v1('v1-no-files', {}), 8);
    assert.equal(cpuQuota(cgroups('quota-value', '0::/a\n', { 'a/cpu.max': '250000 100000' })), 2.5);
  });

  it('says nothing (ORT counts) when the files are missing or malformed', () => {
    assert.equal(linuxCores({ sysCpu: join(root, 'none'), procStatus: join(root, 'none', 'status') }), null);
    assert.equal(linuxCores(machine('bad-list', ['0'], 'zero')), null);
    assert.equal(linuxCores(machine('no-topology', [null, null], '0-1')), null);
  });

  it('REFT_STUDIO_THREADS overrides the count; 0 or junk does not', () => {
    const saved = process.env.REFT_STUDIO_THREADS;
    try {
      process.env.REFT_STUDIO_THREADS = '3';
      assert.equal(intraOpThreads(), 3);
      for (const v of ['0', 'two', '1.5']) {
        process.env.REFT_STUDIO_THREADS = v;
        assert.equal(intraOpThreads(), automaticThreads() ?? 0, v);
      }
    } finally {
      if (saved === undefined) delete process.env.REFT_STUDIO_THREADS;
      else process.env.REFT_STUDIO_THREADS = saved;
    }
  });

  it("a session's CPU kernels get one thread per core of this machine", {
    skip: process.platform !== 'linux' && 'counts threads through /proc',
  }, async () => {
    const saved = process.env.REFT_STUDIO_THREADS;
    delete process.env.REFT_STUDIO_THREADS;
    try {
      const expected = automaticThreads();
      assert.ok(expected !== null && expected >= 1 && expected <= availableParallelism());
      const threads = () => readdirSync('/proc/self/task').length;
      const b = new GraphBuilder('threads');
      b.output(b.op('Identity', [b.input('x', 'float32', [1])]), 'y');
      // ORT's process-wide start-up (its own threads, if any) before counting.
      const first = await createSession(b.graph, { intraOpThreads: 1 });
      const before = threads();
      const s = await createSession(b.graph);
      // The calling thread is one of the pool's: a pool of n starts n − 1 threads.
      assert.equal(threads() - before, expected - 1);
      await s.session.release();
      await first.session.release();
    } finally {
      if (saved !== undefined) process.env.REFT_STUDIO_THREADS = saved;
    }
  });
});
