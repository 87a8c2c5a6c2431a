/**
 * The matrix expression language (llama-swap `internal/matrix/dsl.go` and `program.go`'s Compile).
 *
 *   expr := and ('|' and)*        `|` binds looser than `&`
 *   and  := atom ('&' atom)*
 *   atom := ident | '+' ident | '(' expr ')'
 *   ident: letters, digits, '_', '-', '.'   (a var or a model id; `+ident` names another set)
 *
 * Compilation parses each set once, resolves vars to model ids, checks references, rejects cycles
 * and links each `+name` to the named set's (shared) node. Like llama-swap it never expands the
 * Cartesian products: `(a|b) & (c|d) & ...` stays a small graph; the solver projects it per query.
 * Messages keep llama-swap's wording without its Go wrapping ("set %q: parse: ..."): the issue's
 * path already names the set.
 */
import type { CompiledSet, MatrixNode } from './types.js';

export type TokenType = 'ident' | 'and' | 'or' | 'lparen' | 'rparen' | 'ref' | 'eof';

export interface Token {
  readonly type: TokenType;
  readonly value: string;
}

/** A parsed expression before resolution: names are as written. */
export type Ast =
  | { readonly kind: 'leaf'; readonly name: string }
  | { readonly kind: 'ref'; readonly name: string }
  | { readonly kind: 'and' | 'or'; readonly children: readonly Ast[] };

export class DslError extends Error {}

const IDENT_CHAR = /^[\p{L}\p{Nd}_.-]$/u;
const SINGLE: Readonly<Record<string, TokenType>> = { '&': 'and', '|': 'or', '(': 'lparen', ')': 'rparen' };

function isIdentChar(ch: string | undefined): boolean {
  return ch !== undefined && IDENT_CHAR.test(ch);
}

/** Tokens of `input`; positions in messages count characters (code points) from 0, as llama-swap's runes. */
export function tokenize(input: string): Token[] {
  const chars = [...input];
  const tokens: Token[] = [];
  let i = 0;
  const identFrom = (start: number): string => {
    while (isIdentChar(chars[i])) i++;
    return chars.slice(start, i).join('');
  };
  while (i < chars.length) {
    const ch = chars[i] as string;
    if (/^\s$/u.test(ch)) {
      i++;
      continue;
    }
    const single = SINGLE[ch];
    if (single !== undefined) {
      tokens.push({ type: single, value: ch });
      i++;
    } else if (ch === '+') {
      i++;
      const name = identFrom(i);
      if (name === '') throw new DslError(`expected set name after '+' at position ${i}`);
      tokens.push({ type: 'ref', value: name });
    } else if (isIdentChar(ch)) {
      tokens.push({ type: 'ident', value: identFrom(i) });
    } else {
      throw new DslError(`unexpected character ${JSON.stringify(ch)} at position ${i}`);
    }
  }
  tokens.push({ type: 'eof', value: '' });
  return tokens;
}

function describe(token: Token): string {
  return token.type === 'eof' ? 'end of expression' : `token ${JSON.stringify(token.value)}`;
}

/** Parse one expression; throws `DslError` with llama-swap's message. */
export function parseExpression(input: string): Ast {
  const trimmed = input.trim();
  if (trimmed === '') throw new DslError('empty DSL expression');
  const tokens = tokenize(trimmed);
  let pos = 0;
  const peek = (): Token => tokens[pos] ?? { type: 'eof', value: '' };
  const next = (): Token => {
    const token = peek();
    if (token.type !== 'eof') pos++;
    return token;
  };
  const sequence = (kind: 'and' | 'or', operator: TokenType, item: () => Ast): Ast => {
    const children = [item()];
    while (peek().type === operator) {
      next();
      children.push(item());
    }
    return children.length === 1 ? (children[0] as Ast) : { kind, children };
  };
  const atom = (): Ast => {
    const token = next();
    switch (token.type) {
      case 'ident':
        return { kind: 'leaf', name: token.value };
      case 'ref':
        return { kind: 'ref', name: token.value };
      case 'lparen': {
        const inner = orExpr();
        if (next().type !== 'rparen') throw new DslError('missing closing parenthesis');
        return inner;
      }
      default:
        throw new DslError(`unexpected ${describe(token)}`);
    }
  };
  const andExpr = (): Ast => sequence('and', 'and', atom);
  const orExpr = (): Ast => sequence('or', 'or', andExpr);
  const root = orExpr();
  if (peek().type !== 'eof') throw new DslError(`unexpected ${describe(peek())} after expression`);
  return root;
}

/** Leaves and references of an expression, pre-order (llama-swap's `walk`). */
function* walk(ast: Ast): Generator<Ast> {
  yield ast;
  if (ast.kind === 'and' || ast.kind === 'or') for (const child of ast.children) yield* walk(child);
}

export interface Definition {
  readonly name: string;
  readonly dsl: string;
}

/** A problem with one set (`set: null` for the definitions as a whole). */
export interface SetError {
  readonly set: string | null;
  readonly message: string;
}

/** Maps an identifier of an expression (a var or a model id) to a model id. */
export type Resolver = (identifier: string) => string | undefined;

/**
 * Compile `definitions` (in file order). Returns the sets in tie-break order, or every problem
 * found: a set with a problem is left out, and the result is only usable when `errors` is empty.
 */
export function compileSets(definitions: readonly Definition[], resolve: Resolver): { sets: CompiledSet[]; errors: SetError[] } {
  const errors: SetError[] = [];
  if (definitions.length === 0) return { sets: [], errors: [{ set: null, message: 'matrix must define at least one set' }] };
  const names = new Set(definitions.map((d) => d.name));
  const parsed = new Map<string, { definition: Definition; ast: Ast; refs: string[] }>();
  for (const definition of definitions) {
    let ast: Ast;
    try {
      ast = parseExpression(definition.dsl);
    } catch (error) {
      if (!(error instanceof DslError)) throw error;
      errors.push({ set: definition.name, message: error.message });
      continue;
    }
    const refs: string[] = [];
    let ok = true;
    for (const node of walk(ast)) {
      if (node.kind === 'leaf' && resolve(node.name) === undefined) {
        errors.push({ set: definition.name, message: `unknown var or model ${JSON.stringify(node.name)}` });
        ok = false;
      } else if (node.kind === 'ref' && !names.has(node.name)) {
        errors.push({ set: definition.name, message: `references undefined set ${JSON.stringify(node.name)}` });
        ok = false;
      } else if (node.kind === 'ref' && !refs.includes(node.name)) {
        refs.push(node.name);
      }
    }
    if (ok) parsed.set(definition.name, { definition, ast, refs });
  }

  // Depth-first topological order over file order (llama-swap's topologicalOrder): the order
  // candidates are tried in, hence the tie-break.
  const state = new Map<string, 'visiting' | 'done' | 'broken'>();
  const order: string[] = [];
  const visit = (name: string): boolean => {
    const current = state.get(name);
    if (current === 'done') return true;
    if (current === 'broken') return false;
    const entry = parsed.get(name);
    if (entry === undefined) return false; // already reported
    if (current === 'visiting') {
      errors.push({ set: name, message: `circular reference detected involving set ${JSON.stringify(name)}` });
      state.set(name, 'broken');
      return false;
    }
    state.set(name, 'visiting');
    const ok = entry.refs.every(visit);
    if (state.get(name) === 'visiting') state.set(name, ok ? 'done' : 'broken');
    if (ok) order.push(name);
    return ok;
  };
  for (const definition of definitions) visit(definition.name);
  if (errors.length > 0) return { sets: [], errors };

  const roots = new Map<string, MatrixNode>();
  const build = (ast: Ast): MatrixNode => {
    switch (ast.kind) {
      case 'leaf':
        return { kind: 'leaf', model: resolve(ast.name) as string };
      case 'ref':
        return { kind: 'ref', name: ast.name, target: roots.get(ast.name) as MatrixNode };
      default:
        return { kind: ast.kind, children: ast.children.map(build) };
    }
  };
  const supportMemo = new Map<MatrixNode, ReadonlySet<string>>();
  const sets = order.map((name): CompiledSet => {
    const { definition, ast } = parsed.get(name) as { definition: Definition; ast: Ast };
    const root = build(ast);
    roots.set(name, root);
    return { name, dsl: definition.dsl, root, support: supportOf(root, supportMemo) };
  });
  return { sets, errors };
}

/** Every model an expression can name. */
function supportOf(node: MatrixNode, memo: Map<MatrixNode, ReadonlySet<string>>): ReadonlySet<string> {
  const known = memo.get(node);
  if (known !== undefined) return known;
  let models: ReadonlySet<string>;
  if (node.kind === 'leaf') models = new Set([node.model]);
  else if (node.kind === 'ref') models = supportOf(node.target, memo);
  else models = new Set(node.children.flatMap((child) => [...supportOf(child, memo)]));
  memo.set(node, models);
  return models;
}
