/** The configuration loader's public API. */
export type * from './types.js';
export { ConfigError, formatIssue, formatPath } from './errors.js';
export { type LoadOptions, type LoadTextOptions, checkPlugins, deepFreeze, loadConfigFile, loadConfigText } from './load.js';
export { DEFAULTS } from './resolve.js';
export { CommandSyntaxError, splitCommand, stripCommentLines } from './command.js';
export { formatDuration, formatSize, parseDuration, parseSize } from './units.js';
export {
  type MacroDefinition,
  type MacroValue,
  RESERVED_MACROS,
  expandMacros,
  expandMacrosTyped,
  findMacroReferences,
  mergeMacroDefinitions,
  resolveMacroDefinitions,
} from './macros.js';
