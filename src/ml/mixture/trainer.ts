/**
 * Training a mixture on one task with the paper's protocol (rees-c/MoE `main.py`): z-scored MSE with train+val
 * statistics, Adam (lr 1e-2 for head and gate, 5e-3 for the fine-tuned expert layers), CosineAnnealingLR stepped
 * once per epoch, shuffled batches of 250, up to 1000 epochs, early stop after 500 epochs without a better
 * validation MAE, and the model of the best validation epoch is the one tested and returned.
 *
 * What never changes during training is computed once: graphs, edge features and every expert's frozen layers
 * (`TrainableExpert.prepare`); the validation and test inputs are assembled once and kept. An epoch only runs the
 * selected experts' trainable layers, the gate and the head.
 */
import { tf } from '../tf.js';
import { Adam, cosineFactor } from '../adam.js';
import { ATOM_FEATURES_VERSION } from '../cgcnn/atom-features.js';
import { GRAPH_VERSION } from '../cgcnn/batching.js';
import { randomStateDict } from '../cgcnn/weights.js';
import { EMBEDDING_DIM } from '../cgcnn/expert.js';
import { loadShippedExperts } from '../experts/registry.js';
import type { ExpertWeights, TrainableExpert } from '../experts/expert-kind.js';
import { MODEL_FORMAT, type MixtureModel } from './model.js';
import { fitNormalizer, type Normalizer } from './normalizer.js';
import { shuffleInPlace, Mulberry32 } from '../../util/random.js';
import { probeExperts, probeLogits, probeLogitsByGroup } from './probe.js';
import { type MixtureConfig, finetuneLayersOf, resolveConfig } from './config.js';
import { gateTieRank, gateState, mixEmbeddings, penaltyTensor } from './gate.js';
import { type DenseLayer, initHead, headForward } from './head.js';
import { expertKind } from '../experts/registry.js';
import { errorOnScale, forwardTransform, physicalValue, transformProblem } from './output.js';
import { CheckpointError } from './envelope.js';
import { checkCheckpoint, checkData, TrainingAborted, type EpochProgress, type MixtureData, type TrainOptions, type TrainResult } from './train-types.js';
import { loadTrainerState, serializeTrainerState, trainingFingerprint, type ExpertReference, type TrainerState, type WeightsSnapshot } from './trainer-state.js';

export { TrainingAborted, type DataSplit, type EpochProgress, type MixtureData, type TrainCheckpoint, type TrainOptions, type TrainResult } from './train-types.js';

/** A state fits this run's shapes (the fingerprint makes a mismatch a bug or a forged state, but not a crash). */
function checkResumable(s: TrainerState, shape: { gate: number; head: number; experts: number; train: readonly number[] }): void {
  const rows = [...s.order].sort((a, b) => a - b).join();
  const ok = s.gate.length === shape.gate && s.head.length === shape.head && s.experts.length === shape.experts && rows === [...shape.train].sort((a, b) => a - b).join();
  if (!ok) throw new CheckpointError('checkpoint_malformed', 'the trainer state does not fit this run (gate, head, experts or training rows)');
}

interface HeadVars {
  w: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R1>;
}

export async function trainMixture(data: MixtureData, partial: Partial<MixtureConfig>, opts: TrainOptions = {}): Promise<TrainResult> {
  checkData(data);
  checkCheckpoint(opts.checkpoint);
  const pool: readonly ExpertWeights[] = opts.experts ?? (partial.mode === 'scratch' ? [] : await loadShippedExperts('cgcnn'));
  const resolved = resolveConfig(partial, pool.map((e) => e.key));
  const t0 = performance.now();

  // Scratch mode trains every layer of the expert given under its key (e.g. `scratchCompositionExpert`), else of a
  // randomly initialised CGCNN.
  const bases: ExpertWeights[] =
    resolved.mode === 'scratch'
      ? [pool.find((e) => e.key === resolved.experts[0]) ?? { key: resolved.experts[0], kind: 'cgcnn', card: { key: resolved.experts[0], scratch: true }, baseSha256: '', weights: randomStateDict(resolved.seed) }]
      : resolved.experts.map((k) => pool.find((e) => e.key === k)!);
  // A member records the inputs it serves: any crystal-graph expert in its pool needs a structure.
  const config: MixtureConfig = { ...resolved, basis: resolved.basis ?? (bases.some((b) => b.kind !== 'composition') ? 'structure' : 'composition') };
  const fitRows = [...data.split.train, ...data.split.val];
  const problem = transformProblem(config.targetTransform, fitRows.map((r) => data.targets[r]));
  if (problem) throw new RangeError(problem);
  // The mixture learns the transformed target; z-scoring and the loss live in that space, MAEs in physical units.
  const trained = Float64Array.from({ length: data.targets.length }, (_, r) => forwardTransform(config.targetTransform, data.targets[r]));
  const normalizer: Normalizer = fitNormalizer(trained, fitRows);
  const zTarget = (r: number) => (trained[r] - normalizer.mean) / normalizer.std;
  const physical = (z: number) => physicalValue({ transform: config.targetTransform, min: config.targetMin }, z * normalizer.std + normalizer.mean);
  // A state is checked before the slow preparation: one from another run is refused at once.
  const fingerprint = opts.checkpoint || opts.resume ? trainingFingerprint(config, data, bases) : '';
  const reference: ExpertReference = (j, name) => bases[j]?.weights.get(name)?.data;
  const resume = opts.resume ? loadTrainerState(opts.resume, reference) : null;
  if (resume && resume.fingerprint !== fingerprint) {
    throw new CheckpointError('checkpoint_incompatible', 'the trainer state belongs to another run (config, split, targets, inputs or experts differ)');
  }
  const trainOpts = { scratch: config.mode === 'scratch', batchNorm: config.batchNorm, frozenBatchNorm: config.frozenBatchNorm, maxBatchAtoms: config.maxBatchAtoms, dedupeTolerance: config.dedupeTolerance };

  const experts: TrainableExpert[] = [];
  const headInit = initHead(EMBEDDING_DIM, config.headHidden, config.seed);
  /** tf.variable keeps its own reference to the initial tensor's data, so the initial tensor is disposed here. */
  const variable = <R extends tf.Rank>(t: tf.Tensor<R>): tf.Variable<R> => {
    const v = tf.variable(t);
    t.dispose();
    return v;
  };
  const head: HeadVars[] = headInit.map((l) => ({ w: variable(tf.tensor2d(l.w, [l.nIn, l.nOut])), b: variable(tf.tensor1d(l.b)) }));
  const gate = variable(tf.ones([bases.length]) as tf.Tensor1D);
  let adam: Adam | null = null;
  try {
    for (const b of bases) {
      if (opts.signal?.aborted) throw new TrainingAborted();
      const e = expertKind(b.kind).createTrainable(b, { ...trainOpts, finetuneLayers: finetuneLayersOf(config, b.kind) });
      experts.push(e);
      e.prepare(data.inputs, { statRows: data.split.train });
      opts.onPrepare?.({ expert: b.key, done: experts.length, total: bases.length, seconds: (performance.now() - t0) / 1000 });
    }
    if (config.gateInit !== 'equal' && experts.length > 1 && !resume) {
      const maes = probeExperts(experts, Int32Array.from(data.split.train), Int32Array.from(data.split.val), zTarget);
      const logits = config.gateInit === 'probe-kinds' ? probeLogitsByGroup(maes, bases.map((b) => b.kind)) : probeLogits(maes);
      tf.tidy(() => gate.assign(tf.tensor1d(logits)));
    }
    const prepareSeconds = (performance.now() - t0) / 1000;

    const headParams = head.flatMap((l) => [l.w, l.b] as tf.Variable[]);
    adam = new Adam([
      { params: [...headParams, gate], lr: config.lr },
      { params: experts.flatMap((e) => e.variables), lr: config.finetuneLr },
    ]);

    const trainRows = Int32Array.from(data.split.train);
    const valRows = Int32Array.from(data.split.val);
    const valTargets = Float32Array.from(data.split.val, zTarget);
    const rng = new Mulberry32((config.seed * 2654435761) >>> 0);
    const tieRank = gateTieRank(bases.length, config.gateTieBreak, config.seed);

    const headTensors = () => head.map((l) => ({ w: l.w as tf.Tensor2D, b: l.b as tf.Tensor1D }));
    const logits = () => Array.from(gate.dataSync());

    /** Normalised predictions of rows (no gradients), using cached tensors under `cacheKey`. */
    const predictRows = (rows: Int32Array, cacheKey: string, k = config.k): Float32Array => {
      const g = gateState(logits(), k, tieRank);
      return tf.tidy(() => {
        const embs = g.selected.map((j) => experts[j].embed({ rows, cacheKey }, false));
        const { mixed } = mixEmbeddings(gate, g.selected, embs);
        return headForward(headTensors(), mixed).dataSync() as Float32Array;
      });
    };

    const weightsNow = (): WeightsSnapshot => ({ gate: logits(), head: head.map((l) => [l.w.dataSync().slice(), l.b.dataSync().slice()] as [Float32Array, Float32Array]), experts: experts.map((e) => e.snapshot()) });
    const setWeights = (w: WeightsSnapshot) => {
      tf.tidy(() => {
        gate.assign(tf.tensor1d(w.gate));
        head.forEach((l, i) => {
          l.w.assign(tf.tensor2d(w.head[i][0], l.w.shape as [number, number]));
          l.b.assign(tf.tensor1d(w.head[i][1]));
        });
      });
      experts.forEach((e, i) => e.restore(w.experts[i]));
    };

    let history: EpochProgress[] = [];
    let best = { mae: Infinity, epoch: -1, ...weightsNow() };
    let sinceBest = 0;
    let epochsRun = 0;
    let stoppedEarly = false;
    let secondsBefore = 0;
    if (resume) {
      checkResumable(resume, { gate: bases.length, head: head.length, experts: experts.length, train: data.split.train });
      setWeights(resume);
      adam.importState(resume.adam);
      rng.state = resume.rng;
      trainRows.set(resume.order);
      best = resume.best;
      sinceBest = resume.sinceBest;
      history = [...resume.history];
      secondsBefore = resume.trainSeconds;
      epochsRun = resume.epoch + 1;
      opts.onResume?.({ epoch: resume.epoch });
    }
    const tTrain = performance.now();
    const seconds = () => secondsBefore + (performance.now() - tTrain) / 1000;
    let lastSave = performance.now();

    for (let epoch = epochsRun; epoch < config.epochs; epoch++) {
      if (opts.signal?.aborted) throw new TrainingAborted();
      const lrScale = cosineFactor(epoch, config.cosineTMax);
      shuffleInPlace(trainRows, rng.next);
      let lossSum = 0;
      for (let s = 0; s < trainRows.length; s += config.batchSize) {
        const rows = trainRows.subarray(s, Math.min(trainRows.length, s + config.batchSize));
        const y = tf.tensor1d(Float32Array.from(rows, zTarget));
        const g = gateState(logits(), epoch < config.gateWarmup ? bases.length : config.k, tieRank);
        const sel = g.selected.map((j) => experts[j]);
        const vars = [...headParams, gate, ...sel.flatMap((e) => e.variables)];
        let mseKept: tf.Tensor | null = null;
        const { value, grads } = tf.variableGrads(() => {
          const embs = sel.map((e) => e.embed({ rows }, true));
          const { mixed, p } = mixEmbeddings(gate, g.selected, embs);
          const pred = headForward(headTensors(), mixed);
          const mse = config.loss === 'l1' ? tf.mean(tf.abs(tf.sub(pred, y))) : tf.mean(tf.squaredDifference(pred, y));
          mseKept = tf.keep(mse);
          const total = config.penalty > 0 && g.selected.length > 1 ? tf.add(mse, tf.mul(penaltyTensor(p), config.penalty)) : mse;
          return total as tf.Scalar;
        }, vars);
        // The reported train loss is the fit term alone (MSE or L1), as the paper's meter.
        lossSum += (mseKept as tf.Tensor | null)!.dataSync()[0] * rows.length;
        tf.dispose([value, mseKept as tf.Tensor | null].filter((t): t is tf.Tensor => t !== null));
        const gradMap = new Map<tf.Variable, tf.Tensor>();
        for (const v of vars) if (grads[v.name]) gradMap.set(v, grads[v.name]);
        adam.step(gradMap, lrScale);
        tf.dispose(Object.values(grads));
        y.dispose();
        sel.forEach((e) => e.afterStep());
      }

      const warmingUp = epoch < config.gateWarmup;
      const vp = predictRows(valRows, 'val', warmingUp ? bases.length : config.k);
      let valMae = 0;
      let stopMae = 0;
      let valLoss = 0;
      vp.forEach((z, i) => {
        const y = data.targets[valRows[i]];
        const v = physical(z);
        valMae += Math.abs(v - y);
        stopMae += errorOnScale(config.stopOn, v, y);
        valLoss += (z - valTargets[i]) ** 2;
      });
      valMae /= vp.length;
      stopMae /= vp.length;
      valLoss /= vp.length;
      epochsRun = epoch + 1;
      // A warm-up epoch mixes every expert, which is not the model top-k serves: it is never the best one.
      if (!warmingUp && stopMae < best.mae) {
        best = { mae: stopMae, epoch, ...weightsNow() };
        sinceBest = 0;
      } else if (!warmingUp) sinceBest++;

      const g = gateState(logits(), warmingUp ? bases.length : config.k, tieRank);
      const progress: EpochProgress = {
        epoch,
        epochs: config.epochs,
        trainLoss: lossSum / trainRows.length,
        valLoss,
        valMae,
        bestValMae: best.mae,
        bestEpoch: best.epoch,
        lr: config.lr * lrScale,
        gate: g.selected.map((j, i) => ({ key: bases[j].key, weight: g.weights[i] })),
        seconds: seconds(),
      };
      history.push(progress);
      if (opts.onEpoch) await opts.onEpoch(progress);
      // Let the process's event loop run between epochs (abort signals, queue heartbeats).
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (sinceBest > config.patience) {
        stoppedEarly = true;
        break;
      }
      const ck = opts.checkpoint;
      const due = ck && ((ck.everyEpochs !== undefined && (epoch + 1) % ck.everyEpochs === 0) || (ck.everySeconds !== undefined && performance.now() - lastSave >= ck.everySeconds * 1000));
      if (due && epoch + 1 < config.epochs) {
        const state: TrainerState = { fingerprint, epoch, ...weightsNow(), adam: adam.exportState(), rng: rng.state, order: trainRows.slice(), best, sinceBest, history, trainSeconds: seconds() };
        await ck.save(serializeTrainerState(state, reference), { epoch });
        lastSave = performance.now();
      }
    }
    const trainSeconds = seconds();

    // Back to the best validation epoch.
    setWeights(best);

    const mae = (rows: readonly number[], key: string): number => {
      if (rows.length === 0) return Number.NaN;
      const z = predictRows(Int32Array.from(rows), key);
      let s = 0;
      rows.forEach((r, i) => {
        s += Math.abs(physical(z[i]) - data.targets[r]);
      });
      return s / rows.length;
    };
    const valMae = mae(data.split.val, 'val');
    const testMae = data.split.test && data.split.test.length > 0 ? mae(data.split.test, 'test') : null;
    const trainMae = mae(data.split.train, 'train');

    const g = gateState(best.gate, config.k, tieRank);
    const headOut: DenseLayer[] = head.map((l, i) => ({ nIn: l.w.shape[0], nOut: l.w.shape[1], w: Float32Array.from(best.head[i][0]), b: Float32Array.from(best.head[i][1]) }));
    const model: MixtureModel = {
      format: MODEL_FORMAT,
      config,
      expertKeys: bases.map((b) => b.key),
      gateLogits: best.gate,
      selected: g.selected,
      gateWeights: g.weights,
      experts: g.selected.map((j) => experts[j].exportWeights()),
      head: headOut,
      normalizer,
      versions: { graph: GRAPH_VERSION, atomFeatures: ATOM_FEATURES_VERSION },
      metrics: {
        bestEpoch: best.epoch,
        epochsRun,
        trainMae,
        valMae,
        ...(testMae === null ? {} : { testMae }),
        trainRows: data.split.train.length,
        valRows: data.split.val.length,
        testRows: data.split.test?.length ?? 0,
      },
    };
    return {
      model,
      bestEpoch: best.epoch,
      epochsRun,
      stoppedEarly,
      trainMae,
      valMae,
      testMae,
      prepareSeconds,
      trainSeconds,
      secondsPerEpoch: trainSeconds / Math.max(1, epochsRun),
      history,
      resumedFrom: resume?.epoch ?? null,
    };
  } finally {
    adam?.dispose();
    experts.forEach((e) => e.dispose());
    tf.dispose([gate, ...head.flatMap((l) => [l.w, l.b])]);
  }
}
