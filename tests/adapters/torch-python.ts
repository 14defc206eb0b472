// Runs checks in real PyTorch (Debian's python3-torch at /usr/bin/python3) for the adapter tests.
// Without torch the tests skip with a reason, except under CI (.ci/run installs torch), where a
// missing torch must fail rather than silently skip.

import { spawnSync } from 'node:child_process';

/** Overridable so the skip path itself can be exercised (REFT_TEST_PYTHON=/nonexistent). */
export const PYTHON = process.env.REFT_TEST_PYTHON ?? '/usr/bin/python3';

let cached: string | null | undefined;

/** Why torch checks cannot run here, or undefined when they can (or must, in CI). */
export function torchSkipReason(): string | undefined {
  if (cached === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    cached =
      r.status === 0
        ? null
        : `${PYTHON} cannot import torch (${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()})`;
  }
  if (cached === null) return undefined;
  if (process.env.CI) return undefined; // run anyway and fail loudly: CI installs python3-torch
  return `skipped: ${cached}; install python3-torch to run the PyTorch cross-checks`;
}

/** Runs `script` with `args`; the script prints one JSON document on stdout. */
export function runPython<T>(script: string, args: string[]): T {
  const r = spawnSync(PYTHON, ['-c', script, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * Loads each pair of torch files with torch.load(weights_only=True) and reports key sets, dtypes
 * and the largest absolute difference per tensor.
 */
export const COMPARE_SCRIPT = `
import json, sys, torch
out = []
for a, b in json.loads(sys.argv[1]):
    da = torch.load(a, weights_only=True)
    db = torch.load(b, weights_only=True)
    diffs = {}
    dtypes = []
    for k in da:
        if k not in db:
            continue
        x, y = da[k], db[k]
        if x.dtype != y.dtype:
            dtypes.append(k)
        if tuple(x.shape) != tuple(y.shape):
            diffs[k] = float('inf')
        elif x.numel() == 0:
            diffs[k] = 0.0
        else:
            diffs[k] = (x.double() - y.double()).abs().max().item()
    out.append({'a': a, 'keysA': list(da.keys()), 'keysB': list(db.keys()), 'diffs': diffs, 'dtypeMismatch': dtypes})
print(json.dumps(out))
`;

/** For files of R-based non-LoReFT types: R as torch's own orthogonal parametrization computes it. */
export const R_SCRIPT = `
import json, sys, torch
ORIG = 'rotate_layer.parametrizations.weight.original'
BASE = 'rotate_layer.parametrizations.weight.0.base'
class L(torch.nn.Module):
    def __init__(self, n, r):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n, r))
        torch.nn.init.orthogonal_(self.weight)
out = {}
for p in json.loads(sys.argv[1]):
    d = torch.load(p, weights_only=True)
    n, r = d[ORIG].shape
    m = torch.nn.utils.parametrizations.orthogonal(L(n, r))
    m.load_state_dict({'parametrizations.weight.original': d[ORIG], 'parametrizations.weight.0.base': d[BASE]})
    out[p] = m.weight.detach().reshape(-1).tolist()
print(json.dumps(out))
`;
