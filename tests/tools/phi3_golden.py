#!/usr/bin/env python3
# Makes tests/fixtures/golden/models/phi3: a tiny Phi-3 (hidden 64, 3 layers, GQA 4/2, fused
# qkv_proj / gate_up_proj, longrope, a 10-token sliding window) and its golden files, from a
# hand-written PyTorch reference of transformers' Phi3ForCausalLM (transformers is not installed
# here): golden_forward (logits, hidden states, greedy with a KV cache), golden_longrope (the same
# batch past the original length) and golden_reft (the qwen2-loreft-f1l1 case's batch and LoReFT
# parameters: loss, logits, gradients by autograd). Run: python3 tests/tools/phi3_golden.py
import json, math, os, shutil, struct, sys, torch
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
def st_write(path, tensors):
    header, off, blobs = {}, 0, []
    for n, t in tensors.items():
        dt = {torch.float32: 'F32', torch.int64: 'I64'}[t.dtype]; b = t.contiguous().numpy().tobytes()
        header[n] = {'dtype': dt, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}; off += len(b); blobs.append(b)
    h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
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

def rope_tables(c, pos):
    """transformers' longrope: factors by max(position)+1 vs the original length; cos/sin × attention factor."""
    rs = c['rope_scaling']; om = c['original_max_position_embeddings']
    ext = torch.tensor(rs['long_factor'] if pos.max().item() + 1 > om else rs['short_factor'], dtype=torch.float32)
    inv = 1.0 / (ext * c['rope_theta'] ** (torch.arange(0, E, 2, dtype=torch.int64).float() / E))
    factor = c['max_position_embeddings'] / om
    att = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(om))
    fr = pos.float()[..., None] * inv; emb = torch.cat([fr, fr], -1)
    return emb.cos() * att, emb.sin() * att   # (B, T, E)

def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg['rms_norm_eps']) * w
def rot(x): return torch.cat([-x[..., E // 2:], x[..., :E // 2]], -1)

def forward(c, ids, mask, pos, cache=None, hook=None):
    """ids (B,T); mask (B,S) over past+new; pos (B,T); cache: per layer (k, v) of the past. Returns logits, hidden, new cache."""
    B, T = ids.shape; S = mask.shape[1]; P = S - T
    cos, sin = rope_tables(c, pos); cos, sin = cos[:, None], sin[:, None]
    qpos = torch.arange(P, S)[:, None]; kpos = torch.arange(S)[None, :]
    allowed = (kpos <= qpos) & (qpos - kpos < c['sliding_window'])
    allowed = allowed[None, None] & (mask[:, None, None, :] == 1)
    bias = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)
    x = W['model.embed_tokens.weight'][ids]; hidden = [x]; new = []
    for i in range(L):
        g = lambda n: W[f'model.layers.{i}.' + n]
        h = rms(x, g('input_layernorm.weight'))
        qkv = h @ g('self_attn.qkv_proj.weight').T
        q, k, v = qkv.split([H * E, K * E, K * E], -1)
        q = q.view(B, T, H, E).transpose(1, 2); k = k.view(B, T, K, E).transpose(1, 2); v = v.view(B, T, K, E).transpose(1, 2)
        q = q * cos + rot(q) * sin; k = k * cos + rot(k) * sin
        if cache: k = torch.cat([cache[i][0], k], 2); v = torch.cat([cache[i][1], v], 2)
        new.append((k, v))
        kk = k.repeat_interleave(H // K, 1); vv = v.repeat_interleave(H // K, 1)
        a = torch.softmax(q @ kk.transpose(-1, -2) / math.sqrt(E) + bias, -1) @ vv
        x = x + a.transpose(1, 2).reshape(B, T, H * E) @ g('self_attn.o_proj.weight').T
        h = rms(x, g('post_attention_layernorm.weight'))
        gate, up = (h @ g('mlp.gate_up_proj.weight').T).chunk(2, -1)
        x = x + (up * torch.nn.functional.silu(gate)) @ g('mlp.down_proj.weight').T
        if hook: x = hook(i, x)
        hidden.append(x)
    x = rms(x, W['model.norm.weight']); hidden[-1] = x
    return x @ W['lm_head.weight'].T, hidden, new

def golden(c):
    torch.manual_seed(5)
    lens = [12, 9, 7]; ids = torch.zeros(3, 12, dtype=torch.int64); mask = torch.zeros(3, 12, dtype=torch.int64)
    for r, n in enumerate(lens): ids[r, :n] = torch.randint(3, 384, (n,)); mask[r, :n] = 1
    pos = torch.arange(12)[None].expand(3, 12)   # transformers: cache_position for every row
    logits, hidden, _ = forward(c, ids, mask, pos)
    out = {'input_ids': ids, 'attention_mask': mask, 'logits': logits}
    out.update({f'hidden_states.{i}': h for i, h in enumerate(hidden)})
    # Greedy with a KV cache, one token a pass (the rope table decided per pass, as transformers does).
    prefix = ids[:1, :6]; seq = prefix.clone()
    lg, _, cache = forward(c, seq, torch.ones_like(seq), torch.arange(6)[None])
    for step in range(8):
        nxt = lg[:, -1].argmax(-1, keepdim=True); seq = torch.cat([seq, nxt], 1)
        if step == 7: break
        P = seq.shape[1] - 1
        lg, _, cache = forward(c, nxt, torch.ones_like(seq), torch.tensor([[P]]), cache)
    out['greedy_prefix'] = prefix; out['greedy_output'] = seq
    return out

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    json.dump(cfg, open(f'{OUT}/config.json', 'w'), indent=2)
    for f in ('tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json'): shutil.copy(f'{FIX}/{f}', OUT)
    st_write(f'{OUT}/model.safetensors', W)
    with torch.no_grad():
        st_write(f'{OUT}/golden_forward.safetensors', golden(cfg))
        # The same batch with the original length 8: a 12-token pass uses long_factor, and the
        # attention factor grows (256/8 = 32).
        long = {**cfg, 'original_max_position_embeddings': 8}
        g = golden(long); st_write(f'{OUT}/golden_longrope.safetensors', {'logits': g['logits']})
    json.dump({"lens": [12, 9, 7], "note": "made by a hand-written PyTorch Phi-3 reference (no transformers); golden_longrope.safetensors: logits of the same batch with original_max_position_embeddings 8 (long_factor)"}, open(f'{OUT}/golden_forward.json', 'w'))
    print('wrote', OUT)

# ReFT: the qwen2-loreft-f1l1 golden case's batch and pyreft_init LoReFT parameters (layers 0 and 2,
# rank 4) on this model; loss, logits and the gradients of every trained tensor by autograd.
def st_read(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
    out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        a, b = v['data_offsets']; dt = {'F32': torch.float32, 'I64': torch.int64}[v['dtype']]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(v['shape']) if b > a else torch.zeros(v['shape'], dtype=dt)
    return out

def reft_golden(case_dir):
    meta = json.load(open(f'{case_dir}/golden_reft.json')); G = st_read(f'{case_dir}/golden_reft.safetensors')
    keys, layers = meta['keys'], meta['expanded_layers']
    P = {k: {n: G[f'init/{k}/{n}'].clone().requires_grad_(True) for n in ('R', 'learned_source.weight', 'learned_source.bias')} for k in keys}
    loc = G['intervention_locations']
    def hook(i, x):
        for j, k in enumerate(keys):
            if layers[j] != i: continue
            R, Wt, bias = P[k]['R'], P[k]['learned_source.weight'], P[k]['learned_source.bias']
            for r in range(x.shape[0]):
                for pos in loc[r, j].tolist():
                    h = x[r, pos]
                    new = h + ((h @ Wt.T + bias) - h @ R) @ R.T   # LoReFT: h + Rᵀ(Wh + b − Rh)
                    x = x.clone(); x[r, pos] = new
        return x
    ids, mask, labels = G['input_ids'], G['attention_mask'], G['labels']
    T = ids.shape[1]
    logits, _, _ = forward(cfg, ids, mask, torch.arange(T)[None].expand(ids.shape[0], T), hook=hook)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward()
    out = {'loss': loss.detach().reshape(1), 'logits': logits.detach()}
    for k in keys:
        for n, t in P[k].items(): out[f'grad/{k}/{n}'] = t.grad
    return out

if __name__ == '__main__':
    st_write(f'{OUT}/golden_reft.safetensors', reft_golden(os.path.join(GOLDEN, 'reft', 'qwen2-loreft-f1l1')))
    print('wrote reft golden')
