// The baseline of bench:http: a bare Fastify route answering a constant JSON, in a process of its own.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const body = { model: 'constant', predictions: [{ value: 1.42, unit: 'eV' }] };
app.post('/v1/predict', async () => body);
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`);
