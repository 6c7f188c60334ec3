import { Type } from 'typebox';

export const LiveResponse = Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Number() }, { examples: [{ status: 'ok', uptimeSeconds: 12.5 }] });

const Component = Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) });

export const ReadyResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
    backend: Type.String({ description: 'TensorFlow.js backend in use: wasm, cpu or tensorflow' }),
    failing: Type.Array(Type.String(), { description: 'names of the components that are not ready' }),
    components: Type.Object({ postgres: Component, redis: Component, migrations: Component, backend: Component }),
  },
  {
    examples: [{
      status: 'ready', backend: 'wasm', failing: [],
      components: { postgres: { ok: true }, redis: { ok: true }, migrations: { ok: true }, backend: { ok: true, detail: 'wasm (SIMD)' } },
    }],
  },
);
