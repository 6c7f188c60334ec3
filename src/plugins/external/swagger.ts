import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../paths.js';

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** OpenAPI 3 document at /docs/json, UI at /docs. */
export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'MatMoE',
        version,
        description:
          'Materials property prediction by a mixture of pre-trained experts (after Chang, Wang & Ertekin, npj Comput. Mater. 8, 242, 2022). ' +
          'Errors are application/problem+json with a stable `code`. Write routes need `Authorization: Bearer <key>`.',
      },
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'jobs', description: 'Background jobs run by the training workers' },
        { name: 'experts', description: 'Pre-trained expert models' },
        { name: 'models', description: 'Trained mixtures: model cards, plots and predictions' },
        { name: 'datasets', description: 'Immutable user datasets and their train/validation/test splits' },
      ],
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'one of the keys in API_KEYS' } } },
    },
    // Collection routes are registered as "/" under their folder prefix; document them without the trailing slash.
    transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}, { name: 'swagger' });
