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
 */
import { tf } from './tf.js';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  exactIdleSteps?: number;
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
  /** Consecutive steps without a gradient. */
  idle: number;
  /** Steps skipped (not yet applied to m, v, step). */
  lazy: number;
}

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
          slot = { m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false), step: 0, idle: 0, lazy: 0 };
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
            const k = slot.lazy;
            const sl = slot;
            tf.tidy(() => {
              sl.m.assign(tf.mul(sl.m, this.beta1 ** k));
              sl.v.assign(tf.mul(sl.v, this.beta2 ** k));
            });
            slot.step += k;
            slot.lazy = 0;
          }
        }
        slot.step++;
        const s = slot;
        const bc1 = 1 - this.beta1 ** s.step;
        const bc2 = 1 - this.beta2 ** s.step;
        tf.tidy(() => {
          const grad = g ?? tf.zerosLike(p);
          const m = tf.add(tf.mul(s.m, this.beta1), tf.mul(grad, 1 - this.beta1));
          const v = tf.add(tf.mul(s.v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
          s.m.assign(m);
          s.v.assign(v);
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), this.eps);
          p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / bc1)));
        });
      }
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }
}

/** CosineAnnealingLR (eta_min 0) as a factor of the base lr at epoch `e` (0-based), stepped once per epoch. */
export function cosineFactor(epoch: number, tMax: number): number {
  return (1 + Math.cos((Math.PI * epoch) / tMax)) / 2;
}
