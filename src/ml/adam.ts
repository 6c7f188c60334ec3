/**
 * Adam as PyTorch 1.9 runs it (the paper's version: rees-c/MoE README), with parameter groups whose learning
 * rates follow a schedule. tfjs's own Adam differs in where epsilon enters and keeps one step count for all
 * variables; PyTorch keeps one per parameter, and in 1.9 `zero_grad()` leaves a zero gradient (not None) on a
 * parameter once it has had one, so a parameter keeps moving on its momentum after it leaves the graph
 * (an expert that drops out of the top k). Both behaviours are reproduced.
 *
 * A parameter idle for more than `exactIdleSteps` steps (default 150) is no longer moved: its remaining motion is
 * below lr · 0.9^150 / 0.999^75 ≈ 1.5e-7·lr per step; its moments are decayed in closed form (m·β1^s, v·β2^s)
 * and its step count advanced when it next gets a gradient. This keeps a mixture of 18 experts from paying an
 * optimiser update for every expert that was ever selected.
 *
 * The moments live in JavaScript arrays and the update runs there: the parameters are small (a conv layer is
 * 22k numbers), and one read and one write per variable replace the ~15 tensor ops of an update on the backend.
 */
import { tf } from './tf.js';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  exactIdleSteps?: number;
}

interface Slot {
  m: Float32Array;
  v: Float32Array;
  step: number;
  /** Consecutive steps without a gradient. */
  idle: number;
  /** Steps skipped (not yet applied to m, v, step). */
  lazy: number;
}

/** One parameter's optimiser state, as a checkpoint carries it. */
export interface AdamSlotState {
  m: Float32Array;
  v: Float32Array;
  step: number;
  idle: number;
  lazy: number;
}

/** Per group, per parameter (the constructor's order); null where the parameter never had a gradient. */
export type AdamState = (AdamSlotState | null)[][];

export interface ParamGroup {
  params: tf.Variable[];
  lr: number;
}

export class Adam {
  private readonly slots = new Map<tf.Variable, Slot>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly exactIdleSteps: number;

  constructor(
    readonly groups: ParamGroup[],
    opts: AdamOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.exactIdleSteps = opts.exactIdleSteps ?? 150;
  }

  /** One update. `grads` holds the gradients of this step; `lrScale` multiplies every group's base lr (the schedule). */
  step(grads: ReadonlyMap<tf.Variable, tf.Tensor>, lrScale: number): void {
    for (const group of this.groups) {
      const lr = group.lr * lrScale;
      for (const p of group.params) {
        const g = grads.get(p);
        let slot = this.slots.get(p);
        if (!g && !slot) continue; // never had a gradient: PyTorch skips it (grad is None)
        if (!slot) {
          slot = { m: new Float32Array(p.size), v: new Float32Array(p.size), step: 0, idle: 0, lazy: 0 };
          this.slots.set(p, slot);
        }
        if (!g) {
          slot.idle++;
          if (slot.idle > this.exactIdleSteps) {
            slot.lazy++;
            continue;
          }
        } else {
          slot.idle = 0;
          if (slot.lazy > 0) {
            const f1 = this.beta1 ** slot.lazy;
            const f2 = this.beta2 ** slot.lazy;
            for (let i = 0; i < slot.m.length; i++) {
              slot.m[i] *= f1;
              slot.v[i] *= f2;
            }
            slot.step += slot.lazy;
            slot.lazy = 0;
          }
        }
        slot.step++;
        const bc1 = 1 - this.beta1 ** slot.step;
        const sqrtBc2 = Math.sqrt(1 - this.beta2 ** slot.step);
        const stepSize = lr / bc1;
        const { m, v } = slot;
        const grad = g ? (g.dataSync() as Float32Array) : null;
        const w = Float32Array.from(p.dataSync() as Float32Array);
        const b1 = this.beta1;
        const b2 = this.beta2;
        for (let i = 0; i < w.length; i++) {
          const gi = grad ? grad[i] : 0;
          m[i] = b1 * m[i] + (1 - b1) * gi;
          v[i] = b2 * v[i] + (1 - b2) * gi * gi;
          w[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + this.eps);
        }
        tf.tidy(() => p.assign(tf.tensor(w, p.shape, 'float32')));
      }
    }
  }

  /** A copy of every moment and step count, for a checkpoint of the run. */
  exportState(): AdamState {
    return this.groups.map((g) => g.params.map((p) => {
      const s = this.slots.get(p);
      return s ? { m: s.m.slice(), v: s.v.slice(), step: s.step, idle: s.idle, lazy: s.lazy } : null;
    }));
  }

  /** Continues from `exportState()` of an optimiser over parameters of the same shapes, in the same order. */
  importState(state: AdamState): void {
    if (state.length !== this.groups.length || state.some((g, i) => g.length !== this.groups[i].params.length)) {
      throw new RangeError('optimiser state has other parameter groups than this optimiser');
    }
    this.slots.clear();
    state.forEach((g, i) => g.forEach((s, j) => {
      const p = this.groups[i].params[j];
      if (!s) return;
      if (s.m.length !== p.size || s.v.length !== p.size) throw new RangeError(`optimiser state of parameter ${i}.${j} has ${s.m.length} values, the parameter ${p.size}`);
      this.slots.set(p, { m: s.m.slice(), v: s.v.slice(), step: s.step, idle: s.idle, lazy: s.lazy });
    }));
  }

  dispose(): void {
    this.slots.clear();
  }
}

/** CosineAnnealingLR (eta_min 0) as a factor of the base lr at epoch `e` (0-based), stepped once per epoch. */
export function cosineFactor(epoch: number, tMax: number): number {
  return (1 + Math.cos((Math.PI * epoch) / tMax)) / 2;
}
