/** Registers tfjs-core's gradients and chained tensor methods on import (see generate.ts). */
export declare const TFJS_CORE_VERSION: string;
