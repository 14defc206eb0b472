#!/usr/bin/env python3
# Makes tests/fixtures/golden/models/phi3: a tiny Phi-3 (hidden 64, 3 layers, GQA 4/2, fused
# qkv_proj / gate_up_proj, longrope, a 10-token sliding window) and its golden files, from the
# PyTorch reference tests/tools/torchref.py (its Phi-3 follows transformers' Phi3ForCausalLM, which is
# not installed here): golden_forward (logits, hidden states, greedy with a KV cache), golden_longrope (the same
# batch past the original length) and golden_reft (the qwen2-loreft-f1l1 case's batch and LoReFT
# parameters: loss, logits, gradients by autograd). Run: python3 tests/tools/phi3_golden.py
import json, math, os, shutil, sys, torch
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchref  # noqa: E402
torch.manual_seed(22)
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'golden')
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(GOLDEN, 'models', 'phi3')
FIX = os.path.join(GOLDEN, 'models', 'llama')
D, L, H, K, E, I, V = 64, 3, 4, 2, 16, 160, 640
cfg = {"architectures": ["Phi3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
  "bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": D,
  "initializer_range": 0.02, "intermediate_size": I, "max_position_embeddings": 256, "model_type": "phi3",
  "num_attention_heads": H, "num_hidden_layers": L, "num_key_value_heads": K,
  "original_max_position_embeddings": 64, "pad_token_id": 0, "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
  "rope_scaling": {"long_factor": [1.0, 1.1, 1.3, 1.8, 2.6, 4.0, 6.5, 9.0],
                   "short_factor": [1.0, 1.0, 1.05, 1.1, 1.2, 1.4, 1.7, 2.0], "type": "longrope"},
  "rope_theta": 10000.0, "sliding_window": 10, "tie_word_embeddings": False, "torch_dtype": "float32",
  "use_cache": True, "vocab_size": V}
lin = lambda o, i: torch.randn(o, i) / math.sqrt(i)
nw = lambda n: 1 + 0.2 * (2 * torch.rand(n) - 1)
W = {'model.embed_tokens.weight': torch.randn(V, D)}
for i in range(L):
    p = f'model.layers.{i}.'
    W[p + 'self_attn.qkv_proj.weight'] = lin(H * E + 2 * K * E, D)
    W[p + 'self_attn.o_proj.weight'] = lin(D, H * E)
    W[p + 'mlp.gate_up_proj.weight'] = lin(2 * I, D)
    W[p + 'mlp.down_proj.weight'] = lin(D, I)
    W[p + 'input_layernorm.weight'] = nw(D); W[p + 'post_attention_layernorm.weight'] = nw(D)
W['model.norm.weight'] = nw(D); W['lm_head.weight'] = lin(V, D)

def golden(m):
    """Logits and hidden states of a padded batch, and greedy with a KV cache, by torchref's Phi-3."""
    torch.manual_seed(5)
    lens = [12, 9, 7]; ids = torch.zeros(3, 12, dtype=torch.int64); mask = torch.zeros(3, 12, dtype=torch.int64)
    for r, n in enumerate(lens): ids[r, :n] = torch.randint(3, 384, (n,)); mask[r, :n] = 1
    hidden = [m.w['model.embed_tokens.weight'][ids]]
    logits, _ = m.forward(ids, mask, hook=lambda i, x: hidden.append(x) or x)
    hidden[-1] = m.rms(hidden[-1], m.w['model.norm.weight'])   # transformers: the last one after the norm
    out = {'input_ids': ids, 'attention_mask': mask, 'logits': logits}
    out.update({f'hidden_states.{i}': h for i, h in enumerate(hidden)})
    # Greedy with a KV cache, one token a pass (the rope table decided per pass, as transformers does).
    prefix = ids[:1, :6]; seq = prefix.clone()
    lg, cache = m.forward(seq)
    for step in range(8):
        nxt = lg[:, -1].argmax(-1, keepdim=True); seq = torch.cat([seq, nxt], 1)
        if step == 7: break
        lg, cache = m.forward(nxt, cache=cache)
    out['greedy_prefix'] = prefix; out['greedy_output'] = seq
    return out

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    json.dump(cfg, open(f'{OUT}/config.json', 'w'), indent=2)
    for f in ('tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json'): shutil.copy(f'{FIX}/{f}', OUT)
    torchref.write_safetensors(f'{OUT}/model.safetensors', W)
    with torch.no_grad():
        torchref.write_safetensors(f'{OUT}/golden_forward.safetensors', golden(torchref.Model(OUT)))
        # The same batch with the original length 8: a 12-token pass uses long_factor, and the
        # attention factor grows (256/8 = 32).
        g = golden(torchref.Model(OUT, original_max_position_embeddings=8))
        torchref.write_safetensors(f'{OUT}/golden_longrope.safetensors', {'logits': g['logits']})
    json.dump({"lens": [12, 9, 7], "note": "made by tests/tools/phi3_golden.py with the PyTorch reference tests/tools/torchref.py (no transformers); golden_longrope.safetensors: logits of the same batch with original_max_position_embeddings 8 (long_factor)"}, open(f'{OUT}/golden_forward.json', 'w'))
    print('wrote', OUT)

# ReFT: the qwen2-loreft-f1l1 golden case's batch and pyreft_init LoReFT parameters (layers 0 and 2,
# rank 4) on this model; loss, logits and the gradients of every trained tensor by autograd.
def reft_golden(case_dir):
    meta = json.load(open(f'{case_dir}/golden_reft.json'))
    G = torchref.read_safetensors(f'{case_dir}/golden_reft.safetensors')
    keys, layers = meta['keys'], meta['expanded_layers']
    P = {k: {n: G[f'init/{k}/{n}'].clone().requires_grad_(True) for n in ('R', 'learned_source.weight', 'learned_source.bias')} for k in keys}
    # LoReFT h + Rᵀ(Wh + b − Rh) at each location, under the names pyreft's .bin files use.
    ivs = [{'layer': layers[j], 'type': 'LoreftIntervention',
            'sd': {'rotate_layer': P[k]['R'], 'weight': P[k]['learned_source.weight'], 'bias': P[k]['learned_source.bias']}}
           for j, k in enumerate(keys)]
    logits, _ = torchref.Model(OUT).forward(G['input_ids'], G['attention_mask'], hook=torchref.reft_hook(ivs, G['intervention_locations']))
    loss = torchref.ce_loss(logits, G['labels'])
    loss.backward()
    out = {'loss': loss.detach().reshape(1), 'logits': logits.detach()}
    for k in keys:
        for n, t in P[k].items(): out[f'grad/{k}/{n}'] = t.grad
    return out

if __name__ == '__main__':
    torchref.write_safetensors(f'{OUT}/golden_reft.safetensors', reft_golden(os.path.join(GOLDEN, 'reft', 'qwen2-loreft-f1l1')))
    print('wrote reft golden')
