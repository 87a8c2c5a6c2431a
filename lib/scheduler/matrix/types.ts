/**
 * Types of the matrix router (llama-swap `internal/matrix`): a compiled set of expressions saying
 * which models may hold memory together, and the solver's answer when a model must load.
 */

/** One node of a compiled expression. Immutable; references are linked to the set they name. */
export type MatrixNode =
  /** One model (vars already resolved to model ids). */
  | { readonly kind: 'leaf'; readonly model: string }
  /** `+name`: the expression of another set, shared (not copied). */
  | { readonly kind: 'ref'; readonly name: string; readonly target: MatrixNode }
  /** `a & b`: the union of one choice of each child. */
  | { readonly kind: 'and'; readonly children: readonly MatrixNode[] }
  /** `a | b`: one child's choices or another's. */
  | { readonly kind: 'or'; readonly children: readonly MatrixNode[] };

export interface CompiledSet {
  readonly name: string;
  /** The expression as written, for logs. */
  readonly dsl: string;
  readonly root: MatrixNode;
  /** Every model the expression can name (through references too): sets without the target are skipped. */
  readonly support: ReadonlySet<string>;
}

export interface CompiledMatrix {
  /**
   * In tie-break order: llama-swap's topological order, i.e. definition order except that a set
   * referenced with `+name` comes before the first set that references it.
   */
  readonly sets: readonly CompiledSet[];
  /** `evict_costs` with vars resolved: model id → positive integer. Models not listed cost 1. */
  readonly evictCosts: ReadonlyMap<string, number>;
  /** `vars`: short name → model id (kept for display; expressions are already resolved). */
  readonly vars: ReadonlyMap<string, string>;
}

/** A problem in the configuration, with the dotted path of the offending key. */
export interface MatrixIssue {
  readonly path: string;
  readonly message: string;
}

/** A model that holds memory now, as the solver sees it. */
export interface RunningModel {
  readonly id: string;
  /** An eviction puts it to sleep (wake later) rather than stopping it (cold start later). */
  readonly canSleep: boolean;
  /** A release is already under way: it goes whatever the solver decides, so keeping it is worth nothing. */
  readonly releasing?: boolean;
}

export interface MatrixDecision {
  /** Running models outside the chosen set, in the order they were given. */
  readonly evict: readonly string[];
  /** The chosen set's models that matter (sorted), as llama-swap logs it; `[target]` when no set has it. */
  readonly targetSet: readonly string[];
  /** The chosen set; null when no set contains the target (it then runs alone). */
  readonly setName: string | null;
  readonly dsl: string | null;
  /** Sum of the evicted models' costs, after the sleep discount (see `solver.ts`). */
  readonly totalCost: number;
}

/**
 * Which router decides evictions, as the loaded configuration carries it (`GatewayConfig.routing`):
 * llama-swap's `routing.router.use` (default `group`) or the legacy top-level `matrix:` block, with
 * the matrix compiled by `compileMatrix` (null in group mode).
 */
export interface RouterChoice {
  readonly router: 'group' | 'matrix';
  readonly matrix: CompiledMatrix | null;
}
