// AdamW exactly as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments,
// eps added after the square root), learning-rate schedules with warmup as in transformers'
// get_*_schedule_with_warmup, and global gradient-norm clipping (torch.nn.utils.clip_grad_norm_).

export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  state: AdamState;

  constructor(params: Float32Array[], cfg: AdamWConfig) {
    this.beta1 = cfg.beta1 ?? 0.9;
    this.beta2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.weightDecay = cfg.weightDecay ?? 0;
    this.state = {
      step: 0,
      m: params.map((p) => new Float32Array(p.length)),
      v: params.map((p) => new Float32Array(p.length)),
    };
  }

  /** One update of every parameter in place with learning rate lr. */
  step(params: Float32Array[], grads: Float32Array[], lr: number): void {
    const s = this.state;
    s.step++;
    const bc1 = 1 - this.beta1 ** s.step;
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** s.step);
    const stepSize = lr / bc1;
    params.forEach((p, k) => {
      const g = grads[k],
        m = s.m[k],
        v = s.v[k];
      for (let i = 0; i < p.length; i++) {
        if (this.weightDecay) p[i] *= 1 - lr * this.weightDecay;
        m[i] = this.beta1 * m[i] + (1 - this.beta1) * g[i];
        v[i] = this.beta2 * v[i] + (1 - this.beta2) * g[i] * g[i];
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + this.eps);
      }
    });
  }
}

export type ScheduleKind = 'linear' | 'cosine' | 'constant';

/** Learning rate at optimizer step `step` (0-based) of `total`, with `warmup` warm-up steps. */
export function scheduledLr(
  kind: ScheduleKind,
  base: number,
  step: number,
  total: number,
  warmup: number,
): number {
  if (step < warmup) return (base * step) / Math.max(1, warmup);
  if (kind === 'constant') return base;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (kind === 'linear') return base * Math.max(0, 1 - progress);
  return base * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Scales grads in place so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const c = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= c;
  }
  return norm;
}
