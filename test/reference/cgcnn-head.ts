/**
 * float64 reference of a CGCNN expert's own head on its 64-d embedding: fc_out(softplus(conv_to_fc(v))), de-normalised
 * with the card's target normaliser — the head as the experts were trained (rees-c/MoE cgcnn/model.py).
 */
export function cgcnnHeadReference(w: ReadonlyMap<string, { data: Float32Array }>, v: readonly number[], mean: number, std: number): number {
  const W = w.get('conv_to_fc.weight')!.data;
  const b = w.get('conv_to_fc.bias')!.data;
  const wo = w.get('fc_out.weight')!.data;
  let out = w.get('fc_out.bias')!.data[0];
  for (let h = 0; h < 32; h++) {
    let z = b[h];
    for (let k = 0; k < 64; k++) z += W[h * 64 + k] * v[k];
    out += wo[h] * Math.log1p(Math.exp(z));
  }
  return out * std + mean;
}
