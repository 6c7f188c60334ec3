/**
 * What crosses between the API thread and the inference threads: plain, structured-clone-safe objects. A task carries
 * the inputs of one or more requests (groups, gathered by the batcher); a result answers each group on its own, so one
 * request's bad input never fails another's.
 */
import type { MaterialInput } from '../../chem/input-schema.js';
import type { InputProblem } from '../../chem/resolve-inputs.js';
import type { Composition } from '../../chem/types.js';

export type { MaterialPrediction } from './prediction.js';

export interface ExpertPrediction {
  value: number;
  formula: string;
  composition: Composition;
  nSites: number | null;
}

/** Inputs × sites of one request above this is refused before any forward pass (a formula counts one site). */
export interface Budget {
  maxSites: number;
}

export interface ModelTask {
  kind: 'model';
  modelId: string;
  /** The version the API resolved for the caller; a thread reloads its copy when it differs. */
  checksum: string;
  budget: Budget;
  /** Coverage of every answer's interval (requests asking for another coverage are batched apart). */
  coverage: number;
  groups: MaterialInput[][];
}

export interface ExpertTask {
  kind: 'expert';
  key: string;
  budget: Budget;
  groups: MaterialInput[][];
}

export type InferenceTask = ModelTask | ExpertTask;

export type GroupResult<P> =
  | { ok: true; predictions: P[] }
  | { ok: false; problems: InputProblem[] }
  | { ok: false; budget: { sites: number; inputs: number; maxSites: number } };

export interface InferenceResult<P> {
  groups: GroupResult<P>[];
}

/** Given to every thread when the pool starts. */
export interface ThreadConfig {
  databaseUrl: string;
  tfjsBackend: string;
}
