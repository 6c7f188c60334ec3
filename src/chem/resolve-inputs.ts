/**
 * Input resolution for a batch: every input of a request is parsed before anything is computed, and the problems of
 * all inputs are reported together, each with its index, so that a user can fix a batch in one go.
 */
import { UnprocessableError } from '../errors.js';
import { resolveInput, type MaterialInput, type ResolvedInput } from './input.js';
import { ChemError } from './types.js';

/** A per-input problem, reported with the input's position. */
export interface InputProblem {
  index: number;
  code: string;
  message: string;
}

export class InvalidInputsError extends UnprocessableError {
  constructor(readonly problems: InputProblem[]) {
    super(
      'invalid_input',
      problems.length === 1
        ? `input ${problems[0].index}: ${problems[0].message}`
        : `${problems.length} inputs are invalid; the first is input ${problems[0].index}: ${problems[0].message}`,
      { errors: problems },
    );
  }
}

/**
 * Resolves every input and maps it with `fn`; chemistry problems of all inputs are collected (with their index) and
 * thrown together as InvalidInputsError.
 */
export function resolveEach<T>(inputs: readonly MaterialInput[], fn: (r: ResolvedInput, index: number) => T): { resolved: ResolvedInput[]; mapped: T[] } {
  const problems: InputProblem[] = [];
  const resolved: ResolvedInput[] = [];
  const mapped: T[] = [];
  inputs.forEach((input, index) => {
    try {
      const r = resolveInput(input);
      mapped.push(fn(r, index));
      resolved.push(r);
    } catch (err) {
      if (!(err instanceof ChemError)) throw err;
      problems.push({ index, code: err.code, message: err.message });
    }
  });
  if (problems.length > 0) throw new InvalidInputsError(problems);
  return { resolved, mapped };
}
