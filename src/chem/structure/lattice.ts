/** 3×3 matrix with rows = lattice vectors a, b, c (Å); cartesian = frac · M. */
export type Mat3 = [[number, number, number], [number, number, number], [number, number, number]];
export type Vec3 = [number, number, number];

export function det3(m: Mat3): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Inverse of a 3×3 matrix (caller guarantees a non-zero determinant). */
export function inv3(m: Mat3): Mat3 {
  const d = det3(m);
  return [
    [(m[1][1] * m[2][2] - m[1][2] * m[2][1]) / d, (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / d, (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / d],
    [(m[1][2] * m[2][0] - m[1][0] * m[2][2]) / d, (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / d, (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / d],
    [(m[1][0] * m[2][1] - m[1][1] * m[2][0]) / d, (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / d, (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / d],
  ];
}

/** Row vector times matrix: v · M. */
export function vecMat(v: Vec3, m: Mat3): Vec3 {
  return [
    v[0] * m[0][0] + v[1] * m[1][0] + v[2] * m[2][0],
    v[0] * m[0][1] + v[1] * m[1][1] + v[2] * m[2][1],
    v[0] * m[0][2] + v[1] * m[1][2] + v[2] * m[2][2],
  ];
}

export function norm(v: Vec3): number {
  return Math.hypot(v[0], v[1], v[2]);
}

/** a, b, c (Å) and α, β, γ (degrees) of a lattice matrix. */
export function latticeParameters(m: Mat3): { abc: Vec3; angles: Vec3 } {
  const [a, b, c] = m.map((r) => norm(r as Vec3)) as Vec3;
  const angle = (u: Vec3, v: Vec3): number => {
    const cos = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]) / (norm(u) * norm(v));
    return (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
  };
  return { abc: [a, b, c], angles: [angle(m[1], m[2]), angle(m[0], m[2]), angle(m[0], m[1])] };
}

/**
 * Lattice matrix from a, b, c (Å) and α, β, γ (degrees) in pymatgen's orientation (`Lattice.from_parameters`: c along z,
 * a in the xz plane), so coordinates match what pymatgen builds from the same CIF. Returns undefined when the angles
 * cannot close a cell (e.g. α + β < γ) or a length is not positive.
 */
export function latticeFromParameters(a: number, b: number, c: number, alpha: number, beta: number, gamma: number): Mat3 | undefined {
  if (!(a > 0 && b > 0 && c > 0)) return undefined;
  const rad = Math.PI / 180;
  const [ca, cb, cg] = [Math.cos(alpha * rad), Math.cos(beta * rad), Math.cos(gamma * rad)];
  const [sa, sb] = [Math.sin(alpha * rad), Math.sin(beta * rad)];
  // squared volume of the unit-edge cell; <= 0 means the three angles are inconsistent
  if (!(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg > 1e-12)) return undefined;
  const val = Math.max(-1, Math.min(1, (ca * cb - cg) / (sa * sb)));
  const gammaStar = Math.acos(val);
  return [
    [a * sb, 0, a * cb],
    [-b * sa * Math.cos(gammaStar), b * sa * Math.sin(gammaStar), b * ca],
    [0, 0, c],
  ];
}

export function isFiniteMat(m: Mat3): boolean {
  return m.every((r) => r.every((x) => Number.isFinite(x)));
}
