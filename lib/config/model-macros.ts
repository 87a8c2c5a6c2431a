/**
 * The macro expander for one model (`ModelMacros`), built once per model by `resolveModel`:
 * llama-swap's two phases, `${PORT}` allocation, and the messages for macros that are unknown,
 * unset or out of place. Pure: the environment and the port allocator come in through
 * `MacroContext`; every problem is reported through it.
 */
import type { ConfigIssue } from './types.js';
import type { RawModel } from './raw.js';
import { stripCommentLines } from './command.js';
import { macroDefinitions } from './expand.js';
import {
  type MacroDefinition,
  type MacroValue,
  expandMacros,
  expandMacrosTyped,
  findMacroReferences,
  mergeMacroDefinitions,
  resolveMacroDefinitions,
} from './macros.js';
import type { Report } from './routing.js';

export type DocPath = (string | number)[];

/** What the expander needs from the whole document. */
export interface MacroContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Macro names in file order, by document path (see `ResolveOptions.keyOrder`). */
  readonly keyOrder?: ((docPath: readonly string[]) => readonly string[] | undefined) | undefined;
  readonly globalMacros: readonly MacroDefinition[];
  /** The next free port for `${PORT}`; called only for models whose cmd uses it. */
  readonly allocatePort: () => number;
  readonly issue: Report;
  /** Adds an issue whose path is already formatted (macro definitions). */
  readonly push: (found: ConfigIssue) => void;
}

/**
 * Macro expansion for one model, in two phases. Phase 1: user macros (global and per-model,
 * merged llama-swap's way), MODEL_ID and `${env.NAME}`. Phase 2 (`finish`): `${PORT}`, then any
 * reference left over is an error (except `${PID}` in cmdStop). `${PORT}` is allocated when the
 * model is built, and only when its cmd uses it after phase 1.
 */
export class ModelMacros {
  /** The port `${PORT}` stands for, or null when cmd does not use it. */
  readonly port: number | null;
  /** cmd after phase 1, comment lines stripped ('' when cmd is not a string). */
  readonly cmdText: string;
  readonly #values: ReadonlyMap<string, MacroValue>;
  readonly #reported: ReadonlySet<string>;
  readonly #env: MacroContext['env'];
  readonly #issue: Report;

  constructor(id: string, raw: RawModel, ctx: MacroContext) {
    const localMacros = macroDefinitions(raw.macros, ['models', id, 'macros'], ctx.keyOrder);
    const macros = resolveMacroDefinitions(
      mergeMacroDefinitions(ctx.globalMacros, localMacros),
      new Map<string, MacroValue>([['MODEL_ID', id]]),
      ctx.env,
    );
    for (const found of macros.issues) ctx.push(found);
    this.#values = macros.values;
    this.#reported = macros.reported;
    this.#env = ctx.env;
    this.#issue = ctx.issue;
    const at = ['models', id, 'cmd'];
    this.cmdText = typeof raw.cmd === 'string' ? this.phase1(stripCommentLines(raw.cmd), at) : '';
    this.port = this.cmdText.includes('${PORT}') ? ctx.allocatePort() : null;
    if (this.port !== null && this.port > 65535) this.#issue(at, `no port left for \${PORT}: ${this.port} is above 65535 (lower startPort)`);
  }

  /** Phase 1: user macros, MODEL_ID and ${env.NAME}. ${PORT} and ${PID} stay for later. */
  phase1(text: string, docPath: DocPath): string {
    const result = expandMacros(text, this.#values, this.#env);
    this.#reportMissingEnv(result.missingEnv, docPath);
    return result.text;
  }

  /** Phase 2: ${PORT}, then anything left over is an error (except ${PID} when `allowPid`). */
  finish(text: string, docPath: DocPath, allowPid = false, portHint?: string): string {
    const out = this.port === null ? text : text.replaceAll('${PORT}', String(this.port));
    for (const ref of new Set(findMacroReferences(out))) {
      if ((ref === 'PID' && allowPid) || this.#reported.has(ref)) continue;
      if (/^env\.[A-Za-z_][A-Za-z0-9_]*$/.test(ref)) continue; // an unset variable, reported in phase 1
      if (ref === 'PORT') this.#issue(docPath, portHint ?? 'uses ${PORT}, but cmd does not; ${PORT} is only allocated for models whose cmd uses it');
      else if (ref === 'PID') this.#issue(docPath, '${PID} is only available in cmdStop');
      else this.#issue(docPath, `unknown macro \${${ref}}`);
    }
    return out;
  }

  /** Both phases on a string value. */
  expandText(text: string, docPath: DocPath, allowPid = false, portHint?: string): string {
    return this.finish(this.phase1(text, docPath), docPath, allowPid, portHint);
  }

  /** Both phases on any value; a string that is one macro takes the macro's type (`${PORT}` a number). */
  expandTyped(value: unknown, docPath: DocPath): unknown {
    if (typeof value === 'string') {
      const typed = expandMacrosTyped(value, this.#values, this.#env);
      this.#reportMissingEnv(typed.missingEnv, docPath);
      if (typeof typed.value !== 'string') return typed.value;
      if (typed.value === '${PORT}' && this.port !== null) return this.port;
      return this.finish(typed.value, docPath);
    }
    if (Array.isArray(value)) return value.map((item, index) => this.expandTyped(item, [...docPath, index]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.expandTyped(item, [...docPath, key])]));
    }
    return value;
  }

  #reportMissingEnv(missing: readonly string[], docPath: DocPath): void {
    for (const variable of missing) {
      if (!this.#reported.has(`env.${variable}`)) this.#issue(docPath, `environment variable ${variable} is not set`);
    }
  }
}
