// Which execution provider ONNX Runtime assigns each node of a graph to, read from its verbose log in
// a child process (the log goes to the process's stderr; ORT's profiler, the other source, crashes
// the WebGPU provider of onnxruntime-node 1.29). The GPU tests use it to show that nothing but small
// shape/index computations is left to the CPU, and `reft-studio devices --placement` could too.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel } from '../formats/onnx.ts';
import type { Graph } from '../ir/graph.ts';

export interface Placement {
  /** Provider name (CPUExecutionProvider, WebGpuExecutionProvider, …) → nodes as "Op (name)". */
  byProvider: Map<string, { op: string; name: string }[]>;
}

const require = createRequire(import.meta.url);

const CHILD = `
const ort = require(process.env.REFT_PLACEMENT_ORT);
ort.env.logLevel = 'verbose';
ort.InferenceSession.create(process.env.REFT_PLACEMENT_MODEL, {
  executionProviders: [process.env.REFT_PLACEMENT_EP], logSeverityLevel: 0, logVerbosityLevel: 0,
  graphOptimizationLevel: 'all',
  extra: { session: process.env.REFT_PLACEMENT_WEIGHTS ? { model_external_initializers_file_folder_path: process.env.REFT_PLACEMENT_WEIGHTS, disable_prepacking: '1' } : {} },
}).then(() => process.stdout.write('@@ok\\n'), (e) => process.stdout.write('@@error ' + e.message + '\\n'));
`;

/** Creates a session for `graph` on `ep` in a child process and parses ORT's node placement. */
export async function nodePlacement(graph: Graph, ep: string, weightsDir?: string): Promise<Placement> {
  const dir = mkdtempSync(join(tmpdir(), 'reft-placement-'));
  try {
    const model = join(dir, 'model.onnx');
    writeFileSync(model, encodeModel(graph));
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        ['-e', CHILD],
        {
          env: {
            ...process.env,
            ELECTRON_RUN_AS_NODE: '1',
            REFT_PLACEMENT_ORT: require.resolve('onnxruntime-node'),
            REFT_PLACEMENT_MODEL: model,
            REFT_PLACEMENT_EP: ep,
            REFT_PLACEMENT_WEIGHTS: weightsDir ?? '',
          },
          maxBuffer: 256 << 20,
          timeout: 600_000,
        },
        (err, out, errOut) =>
          err && !String(out).includes('@@')
            ? reject(err)
            : resolve({ stdout: String(out), stderr: String(errOut) }),
      ),
    );
    const failed = /@@error (.*)/.exec(stdout);
    if (failed) throw new Error(`ONNX Runtime could not create the session on ${ep}: ${failed[1]}`);
    return parsePlacement(stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses the "Node(s) placed on [EP]. Number of nodes: n" blocks of ORT's verbose log (subgraphs included). */
export function parsePlacement(log: string): Placement {
  const byProvider = new Map<string, { op: string; name: string }[]>();
  let current: { op: string; name: string }[] | null = null;
  for (const raw of log.split('\n')) {
    const line = raw.replace(/^.*VerifyEachNodeIsAssignedToAnEp\]/, '');
    const head = /Node\(s\) placed on \[(\w+)\]/.exec(line);
    if (head) {
      current = byProvider.get(head[1]) ?? [];
      byProvider.set(head[1], current);
      continue;
    }
    const node = /^\s{3}(\w+) \((.*)\)\s*$/.exec(line);
    if (node && current) current.push({ op: node[1], name: node[2] });
    else if (!/^\s*$/.test(line)) current = null;
  }
  return { byProvider };
}
