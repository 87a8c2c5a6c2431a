/** The matrix router: which models may hold memory together, and what to evict when one must load. */
export { compileMatrix, type CompileMatrixResult } from './compile.js';
export { canContainAll, evictionCost, findContaining, projectSet, SLEEP_COST_FACTOR, solveMatrix } from './solver.js';
export type * from './types.js';
