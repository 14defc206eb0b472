#!/usr/bin/env python3
"""Logits of a model + pyreft adapter folder computed by the independent PyTorch reference (torchref.py).

usage: torchref_logits.py MODEL_DIR PYREFT_DIR BATCH.json
BATCH.json: {"input_ids": [[...]], "attention_mask": [[...]], "locations": [B][n_interventions][P]}
(pyreft layout, interventions in the folder's config.json order; every location a real position).
Prints one JSON object {"shape": [B, T, V], "logits": [...]} on stdout.
The adapter is read with torch.load(weights_only=True), as pyreft.ReftModel.load does.
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torchref  # noqa: E402


def main():
    model_dir, adapter_dir, batch_path = sys.argv[1:4]
    with open(batch_path) as f:
        b = json.load(f)
    m = torchref.Model(model_dir)
    _, ivs = torchref.load_pyreft_dir(adapter_dir)
    ids = torch.tensor(b["input_ids"], dtype=torch.long)
    mask = torch.tensor(b["attention_mask"], dtype=torch.long)
    locs = torch.tensor(b["locations"], dtype=torch.long)
    if locs.shape[1] != len(ivs):
        raise SystemExit("batch has %d intervention location lists, the adapter %d interventions" % (locs.shape[1], len(ivs)))
    with torch.no_grad():
        logits, _ = m.forward(ids, mask, hook=torchref.reft_hook(ivs, locs))
    print(json.dumps({"shape": list(logits.shape), "logits": logits.reshape(-1).tolist()}))


if __name__ == "__main__":
    main()
