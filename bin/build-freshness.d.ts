/** Whether dist/ is at least as new as every TypeScript source under `root` (a file URL ending in `/`). */
export function compiledIsFresh(root: URL): boolean;
