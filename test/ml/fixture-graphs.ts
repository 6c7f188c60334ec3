/** The 12 crystals of ../shared/fixtures/cgcnn_reference.json as graphs, from the fixture's own neighbour lists. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DIR } from '../../src/paths.js';
import { atomicNumber } from '../../src/chem/elements.js';
import type { CrystalGraph } from '../../src/ml/cgcnn/batching.js';

export interface FixtureEntry {
  id: string;
  structure: { sites: { species: { element: string }[] }[] };
  nbr_idx: number[][];
  nbr_dist: number[][];
  experts: Record<string, { embedding: number[]; prediction: number }>;
}

export const fixture = JSON.parse(readFileSync(join(SHARED_DIR, 'fixtures', 'cgcnn_reference.json'), 'utf8')) as FixtureEntry[];

export function fixtureGraph(e: FixtureEntry): CrystalGraph {
  return {
    atomicNumbers: Int32Array.from(e.structure.sites.map((s) => atomicNumber(s.species[0].element)!)),
    nbrIdx: Int32Array.from(e.nbr_idx.flat()),
    nbrDist: Float32Array.from(e.nbr_dist.flat()),
    maxNeighbors: 12,
  };
}

export const fixtureGraphs: CrystalGraph[] = fixture.map(fixtureGraph);
