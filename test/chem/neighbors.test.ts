import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildNeighborGraph, GRAPH_VERSION } from '../../src/chem/neighbors.js';
import { ChemError, type Structure } from '../../src/chem/types.js';
import { SHARED_DIR } from '../../src/paths.js';

type Vec3 = [number, number, number];
type Mat3 = [Vec3, Vec3, Vec3];

interface FixtureEntry {
  id: string;
  structure: { lattice: { matrix: Mat3 }; sites: { species: { element: string; occu: number }[]; abc: Vec3 }[] };
  nbr_idx: number[][];
  nbr_dist: number[][];
}

function fromTaskJson(obj: FixtureEntry['structure']): Structure {
  return {
    lattice: obj.lattice.matrix,
    sites: obj.sites.map((s) => ({ species: s.species, frac: s.abc })),
    partialOccupancy: false,
    warnings: [],
  };
}

function makeStructure(lattice: Mat3, fracs: Vec3[], elements?: string[]): Structure {
  return {
    lattice,
    sites: fracs.map((frac, i) => ({ species: [{ element: elements?.[i] ?? 'Si', occu: 1 }], frac })),
    partialOccupancy: false,
    warnings: [],
  };
}

/**
 * Independent reference: every pair, every lattice translation in a box derived from the plane spacings,
 * on the coordinates exactly as given (no wrapping). Returns the full sorted neighbour list per site.
 */
function bruteForceNeighbors(s: Structure, radius: number): { d: number; j: number }[][] {
  const L = s.lattice;
  const cross = (u: Vec3, v: Vec3): Vec3 => [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  const norm = (u: Vec3) => Math.hypot(u[0], u[1], u[2]);
  const bxc = cross(L[1], L[2]);
  const vol = Math.abs(L[0][0] * bxc[0] + L[0][1] * bxc[1] + L[0][2] * bxc[2]);
  const spacing = [vol / norm(bxc), vol / norm(cross(L[2], L[0])), vol / norm(cross(L[0], L[1]))];
  const out: { d: number; j: number }[][] = [];
  for (let i = 0; i < s.sites.length; i++) {
    const list: { d: number; j: number }[] = [];
    const fi = s.sites[i].frac;
    for (let j = 0; j < s.sites.length; j++) {
      const fj = s.sites[j].frac;
      const df = [fj[0] - fi[0], fj[1] - fi[1], fj[2] - fi[2]];
      const lo = df.map((x, k) => Math.floor(-radius / spacing[k] - x) - 1);
      const hi = df.map((x, k) => Math.ceil(radius / spacing[k] - x) + 1);
      for (let na = lo[0]; na <= hi[0]; na++) {
        for (let nb = lo[1]; nb <= hi[1]; nb++) {
          for (let nc = lo[2]; nc <= hi[2]; nc++) {
            const u = df[0] + na;
            const v = df[1] + nb;
            const w = df[2] + nc;
            const x = u * L[0][0] + v * L[1][0] + w * L[2][0];
            const y = u * L[0][1] + v * L[1][1] + w * L[2][1];
            const z = u * L[0][2] + v * L[1][2] + w * L[2][2];
            const d = Math.sqrt(x * x + y * y + z * z);
            if (d > radius + 1e-8) continue;
            if (i === j && d <= 1e-8) continue;
            list.push({ d, j });
          }
        }
      }
    }
    list.sort((p, q) => p.d - q.d);
    out.push(list);
  }
  return out;
}

function multiset(xs: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

function isSubMultiset(sub: number[], sup: number[]): boolean {
  const m = multiset(sup);
  for (const x of sub) {
    const c = m.get(x) ?? 0;
    if (c === 0) return false;
    m.set(x, c - 1);
  }
  return true;
}

/** Groups slots [start, end) whose reference distances agree within tol (chained). */
function shells(dist: number[], tol: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let k = 1; k <= dist.length; k++) {
    if (k === dist.length || dist[k] - dist[k - 1] > tol) {
      out.push([start, k]);
      start = k;
    }
  }
  return out;
}

/**
 * Checks one site's row against expected (distance, index) slots: distances per slot; index multisets per distance
 * shell, except for a shell cut by the 12-neighbour limit, where only membership in the full shell can be asked for.
 */
function checkRow(
  label: string,
  gotIdx: number[],
  gotDist: number[],
  expIdx: number[],
  expDist: number[],
  full: { d: number; j: number }[],
  tol: number,
): void {
  const K = expDist.length;
  for (let k = 0; k < K; k++) {
    assert.ok(Math.abs(gotDist[k] - expDist[k]) <= tol, `${label} slot ${k}: distance ${gotDist[k]} vs ${expDist[k]}`);
  }
  const found = Math.min(K, full.length);
  assert.deepEqual(gotIdx.slice(found), new Array(K - found).fill(0), `${label}: padding indices`);
  for (const [s, e] of shells(expDist.slice(0, found), tol)) {
    const lo = expDist[s] - tol;
    const hi = expDist[e - 1] + tol;
    const truncated = e === K && full.length > K && full[K].d <= hi;
    if (!truncated) {
      assert.deepEqual(
        multiset(gotIdx.slice(s, e)),
        multiset(expIdx.slice(s, e)),
        `${label} shell at ${expDist[s].toFixed(5)} Å: indices ${gotIdx.slice(s, e)} vs ${expIdx.slice(s, e)}`,
      );
    } else {
      const shell = full.filter((x) => x.d >= lo && x.d <= hi).map((x) => x.j);
      assert.ok(isSubMultiset(gotIdx.slice(s, e), shell), `${label}: truncated shell indices ${gotIdx.slice(s, e)} not in ${shell}`);
      assert.ok(isSubMultiset(expIdx.slice(s, e), shell), `${label}: reference shell indices ${expIdx.slice(s, e)} not in ${shell}`);
    }
  }
}

function row<T extends Int32Array | Float32Array>(a: T, i: number, K: number): number[] {
  return Array.from(a.subarray(i * K, (i + 1) * K));
}

function referenceRow(full: { d: number; j: number }[], K: number, radius: number): { idx: number[]; dist: number[] } {
  const idx = full.slice(0, K).map((x) => x.j);
  const dist = full.slice(0, K).map((x) => x.d);
  while (idx.length < K) {
    idx.push(0);
    dist.push(radius + 1);
  }
  return { idx, dist };
}

function checkAgainstBruteForce(s: Structure, radius: number, K: number, label: string, binWidth?: number): void {
  const g = buildNeighborGraph(s, { radius, maxNeighbors: K, binWidth });
  const full = bruteForceNeighbors(s, radius);
  assert.equal(g.nSites, s.sites.length);
  let padded = 0;
  for (let i = 0; i < s.sites.length; i++) {
    const ref = referenceRow(full[i], K, radius);
    if (full[i].length < K) padded++;
    checkRow(`${label} site ${i}`, row(g.nbrIdx, i, K), row(g.nbrDist, i, K), ref.idx, ref.dist, full[i], 2e-5);
  }
  assert.equal(g.paddedSites, padded, `${label}: paddedSites`);
}

const fixture = JSON.parse(readFileSync(join(SHARED_DIR, 'fixtures', 'cgcnn_reference.json'), 'utf8')) as FixtureEntry[];

test('graph version string is present', () => {
  assert.match(GRAPH_VERSION, /\S/);
});

test('reproduces nbr_dist and nbr_idx shells of every CGCNN reference structure', () => {
  assert.equal(fixture.length, 12);
  for (const entry of fixture) {
    const s = fromTaskJson(entry.structure);
    const g = buildNeighborGraph(s);
    assert.equal(g.maxNeighbors, 12);
    assert.equal(g.nbrIdx.length, s.sites.length * 12);
    const full = bruteForceNeighbors(s, 8);
    for (let i = 0; i < s.sites.length; i++) {
      checkRow(`${entry.id} site ${i}`, row(g.nbrIdx, i, 12), row(g.nbrDist, i, 12), entry.nbr_idx[i], entry.nbr_dist[i], full[i], 1e-5);
    }
  }
});

test('pads with index 0 and distance radius + 1 when fewer neighbours are inside the cutoff', () => {
  // One atom in a 7 Å cube: 6 images at 7 Å, the next at 7·√2 ≈ 9.9 Å.
  const g = buildNeighborGraph(makeStructure([[7, 0, 0], [0, 7, 0], [0, 0, 7]], [[0.3, 0.3, 0.3]]));
  assert.deepEqual(Array.from(g.nbrIdx), new Array(12).fill(0));
  assert.deepEqual(Array.from(g.nbrDist), [7, 7, 7, 7, 7, 7, 9, 9, 9, 9, 9, 9]);
  assert.equal(g.paddedSites, 1);
  // Nothing within 8 Å at all.
  const empty = buildNeighborGraph(makeStructure([[10, 0, 0], [0, 10, 0], [0, 0, 10]], [[0, 0, 0]]), { radius: 8 });
  assert.deepEqual(Array.from(empty.nbrDist), new Array(12).fill(9));
  // A different radius moves the padding distance with it.
  const r5 = buildNeighborGraph(makeStructure([[10, 0, 0], [0, 10, 0], [0, 0, 10]], [[0, 0, 0]]), { radius: 5, maxNeighbors: 3 });
  assert.deepEqual(Array.from(r5.nbrDist), [6, 6, 6]);
});

test('2-atom bcc cell with a 2.87 Å axis: self-images count, the site itself at 0 Å does not', () => {
  // bcc with a = 2.87 Å, conventional cell: 8 nearest at a·√3/2, 6 next at a.
  const a = 2.87;
  const s = makeStructure([[a, 0, 0], [0, a, 0], [0, 0, a]], [[0, 0, 0], [0.5, 0.5, 0.5]], ['Fe', 'Fe']);
  const g = buildNeighborGraph(s);
  for (let i = 0; i < 2; i++) {
    const d = row(g.nbrDist, i, 12);
    const idx = row(g.nbrIdx, i, 12);
    for (let k = 0; k < 8; k++) {
      assert.ok(Math.abs(d[k] - (a * Math.sqrt(3)) / 2) < 1e-5);
      assert.equal(idx[k], 1 - i);
    }
    for (let k = 8; k < 12; k++) {
      assert.ok(Math.abs(d[k] - a) < 1e-5);
      assert.equal(idx[k], i);
    }
  }
});

test('coordinates outside [0, 1) and a lattice given in a strongly skewed basis give the same graph', () => {
  // Same crystal three ways: reduced basis; coordinates shifted by lattice vectors; basis b' = b + 4a, c' = c - 3a + 5b.
  const L: Mat3 = [[3.1, 0, 0], [0.4, 2.9, 0], [0.7, -0.5, 4.2]];
  const fr: Vec3[] = [[0.02, 0.1, 0.95], [0.51, 0.48, 0.33], [0.9, 0.05, 0.6]];
  const ref = buildNeighborGraph(makeStructure(L, fr), { maxNeighbors: 30 });
  const shifted = buildNeighborGraph(makeStructure(L, fr.map(([x, y, z], i) => [x - (i === 0 ? 1 : 0), y + (i === 1 ? 2 : 0), z - 3] as Vec3)), {
    maxNeighbors: 30,
  });
  // New basis rows: a' = a, b' = b + 4a, c' = c - 3a + 5b  →  f = f'·M, so f' = f·M⁻¹.
  const M: Mat3 = [[1, 0, 0], [4, 1, 0], [-3, 5, 1]];
  const L2 = M.map((m) => [0, 1, 2].map((k) => m[0] * L[0][k] + m[1] * L[1][k] + m[2] * L[2][k])) as Mat3;
  // M⁻¹ for this unit lower-triangular M: rows [1,0,0], [-4,1,0], [23,-5,1].
  const Minv: Mat3 = [[1, 0, 0], [-4, 1, 0], [23, -5, 1]];
  const fr2 = fr.map((f) => [0, 1, 2].map((k) => f[0] * Minv[0][k] + f[1] * Minv[1][k] + f[2] * Minv[2][k]) as Vec3);
  const skewed = buildNeighborGraph(makeStructure(L2, fr2), { maxNeighbors: 30 });
  for (const g of [shifted, skewed]) {
    for (let k = 0; k < ref.nbrDist.length; k++) assert.ok(Math.abs(g.nbrDist[k] - ref.nbrDist[k]) < 1e-5, `slot ${k}`);
  }
  checkAgainstBruteForce(makeStructure(L2, fr2), 8, 30, 'skewed basis');
});

/**
 * A random lattice, made skewed on purpose: a random lower-triangular cell (edges 1.5–9 Å), written in a basis
 * sheared by integer combinations (the same lattice, strongly non-reduced vectors), then rotated arbitrarily.
 */
const skewedLattice = fc
  .record({
    diag: fc.tuple(fc.double({ min: 1.5, max: 9, noNaN: true }), fc.double({ min: 1.5, max: 9, noNaN: true }), fc.double({ min: 1.5, max: 9, noNaN: true })),
    off: fc.tuple(fc.double({ min: -4, max: 4, noNaN: true }), fc.double({ min: -4, max: 4, noNaN: true }), fc.double({ min: -4, max: 4, noNaN: true })),
    shear: fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 })),
    angles: fc.tuple(fc.double({ min: 0, max: 6.3, noNaN: true }), fc.double({ min: 0, max: 6.3, noNaN: true }), fc.double({ min: 0, max: 6.3, noNaN: true })),
  })
  .map(({ diag, off, shear, angles }) => {
    const L0: Mat3 = [[diag[0], 0, 0], [off[0], diag[1], 0], [off[1], off[2], diag[2]]];
    // b' = b + s0·a, c' = c + s1·a + s2·b': unimodular, so the lattice (and every distance) is unchanged.
    const bP = L0[1].map((x, k) => x + shear[0] * L0[0][k]) as Vec3;
    const cP = L0[2].map((x, k) => x + shear[1] * L0[0][k] + shear[2] * bP[k]) as Vec3;
    const [p, q, r] = angles;
    const rot = (v: Vec3): Vec3 => {
      let [x, y, z] = v;
      [x, y] = [x * Math.cos(p) - y * Math.sin(p), x * Math.sin(p) + y * Math.cos(p)];
      [y, z] = [y * Math.cos(q) - z * Math.sin(q), y * Math.sin(q) + z * Math.cos(q)];
      [x, z] = [x * Math.cos(r) - z * Math.sin(r), x * Math.sin(r) + z * Math.cos(r)];
      return [x, y, z];
    };
    return [rot(L0[0]), rot(bP), rot(cP)] as Mat3;
  });

function planeSpacings(L: Mat3): number[] {
  const cross = (u: Vec3, v: Vec3): Vec3 => [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
  const bxc = cross(L[1], L[2]);
  const vol = Math.abs(L[0][0] * bxc[0] + L[0][1] * bxc[1] + L[0][2] * bxc[2]);
  return [vol / Math.hypot(...bxc), vol / Math.hypot(...cross(L[2], L[0])), vol / Math.hypot(...cross(L[0], L[1]))];
}

test('matches a brute-force reference on random skewed and tiny cells (property-based)', () => {
  const frac = fc.tuple(fc.double({ min: -0.1, max: 1.1, noNaN: true }), fc.double({ min: -0.1, max: 1.1, noNaN: true }), fc.double({ min: -0.1, max: 1.1, noNaN: true }));
  let skewedSeen = 0;
  fc.assert(
    fc.property(
      skewedLattice,
      fc.array(frac, { minLength: 1, maxLength: 5 }),
      fc.constantFrom(3, 5, 8),
      fc.constantFrom(1, 12, 25),
      fc.constantFrom(undefined, 0.5, 2, 50),
      (L, fracs, radius, K, binWidth) => {
        // Keeps the brute-force loops small; a plane spacing of 0.4 Å is already far thinner than any real cell.
        fc.pre(Math.min(...planeSpacings(L)) > 0.4);
        const s = makeStructure(L, fracs as Vec3[]);
        // Coincident sites follow pymatgen's own rule, tested separately below.
        fc.pre(bruteForceNeighbors(s, 1e-6).every((list) => list.length === 0));
        const longest = Math.max(...L.map((v) => Math.hypot(...v)));
        if (longest > 3 * Math.min(...planeSpacings(L))) skewedSeen++;
        checkAgainstBruteForce(s, radius, K, 'random cell', binWidth);
      },
    ),
    { numRuns: 300, seed: 20240611 },
  );
  assert.ok(skewedSeen > 60, `only ${skewedSeen} strongly skewed cells generated`);
});

test('coincident sites: same species are dropped like pymatgen does, different species are kept at 0 Å', () => {
  const cube: Mat3 = [[4, 0, 0], [0, 4, 0], [0, 0, 4]];
  const same = buildNeighborGraph(makeStructure(cube, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], ['Na', 'Na']));
  assert.ok(same.nbrDist[0] > 3.99);
  const diff = buildNeighborGraph(makeStructure(cube, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], ['Na', 'Cl']));
  assert.equal(diff.nbrDist[0], 0);
  assert.equal(diff.nbrIdx[0], 1);
  assert.ok(diff.nbrDist[1] > 3.99);
});

test('many-site cell uses several bins and still matches brute force', () => {
  // 80 random sites in a skewed 13 × 14 × 15 Å cell, forced into small bins and into one bin.
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const L: Mat3 = [[13, 0, 0], [5, 14, 0], [-4, 3, 15]];
  const fr: Vec3[] = Array.from({ length: 80 }, () => [rand() * 1.1 - 0.05, rand(), rand()] as Vec3);
  const s = makeStructure(L, fr);
  for (const w of [undefined, 1, 3, 1000]) checkAgainstBruteForce(s, 8, 12, `80 sites, binWidth ${w}`, w);
  checkAgainstBruteForce(s, 6, 60, '80 sites, K=60', 2);
});

test('cost grows about linearly with the number of sites', () => {
  // A 2×2×2 and a 4×4×4 supercell of the same random 16-site cell: 8× the sites should cost far below 64×.
  const base: Vec3[] = Array.from({ length: 16 }, (_, i) => [((i * 0.618) % 1), ((i * 0.414) % 1), ((i * 0.732) % 1)] as Vec3);
  const supercell = (m: number) => {
    const fr: Vec3[] = [];
    for (let x = 0; x < m; x++) for (let y = 0; y < m; y++) for (let z = 0; z < m; z++) for (const f of base) fr.push([(f[0] + x) / m, (f[1] + y) / m, (f[2] + z) / m]);
    return makeStructure([[6 * m, 0, 0], [1.5 * m, 6 * m, 0], [0, 0, 6 * m]], fr);
  };
  // Best of 7: the machine is shared, and the minimum is the figure least disturbed by other processes.
  const time = (s: Structure) => {
    buildNeighborGraph(s);
    let best = Infinity;
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      buildNeighborGraph(s);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const small = supercell(2);
  const big = supercell(4);
  const tSmall = time(small);
  const tBig = time(big);
  assert.ok(tBig < 24 * Math.max(tSmall, 0.5), `8× sites took ${(tBig / tSmall).toFixed(1)}× the time`);
  // And the supercell graph is the periodic copy of the small one: the same distances per site.
  const g2 = buildNeighborGraph(small);
  const g4 = buildNeighborGraph(big);
  for (let i = 0; i < 16; i++) {
    for (let k = 0; k < 12; k++) assert.ok(Math.abs(g2.nbrDist[i * 12 + k] - g4.nbrDist[i * 12 + k]) < 1e-5);
  }
});

test('rejects degenerate lattices and non-finite coordinates with a ChemError', () => {
  const flat: Mat3 = [[3, 0, 0], [0, 3, 0], [3, 3, 0]];
  assert.throws(() => buildNeighborGraph(makeStructure(flat, [[0, 0, 0]])), (e: unknown) => e instanceof ChemError && e.code === 'structure_degenerate_lattice');
  const cube: Mat3 = [[3, 0, 0], [0, 3, 0], [0, 0, 3]];
  assert.throws(() => buildNeighborGraph(makeStructure(cube, [[Number.NaN, 0, 0]])), (e: unknown) => e instanceof ChemError && e.code === 'structure_invalid_coordinates');
  assert.throws(() => buildNeighborGraph(makeStructure(cube, [[0, 0, 0]]), { radius: -1 }), RangeError);
  assert.equal(buildNeighborGraph(makeStructure(cube, [])).nSites, 0);
});
