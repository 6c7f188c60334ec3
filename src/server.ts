import { runApi } from './processes/api.js';

await runApi();
