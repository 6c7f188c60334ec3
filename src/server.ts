import { runApi } from './processes/api-process.js';

await runApi();
