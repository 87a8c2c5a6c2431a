/**
 * Dotted paths in filter keys, as llama-swap's `sjson` reads them (internal/server/filters.go at
 * 0bdb372, applyFilters: sjson.SetBytes / DeleteBytes): `stripParams: "a.b"` removes
 * `b` inside `a`, `setParams: {"chat_template_kwargs.enable_thinking": false}` sets it inside an
 * object it creates when missing. `\.` is a literal dot; a numeric segment indexes an existing
 * array, `-1` appends to one. Pure: returns new objects, never changes its input.
 */

/** `a.b\.c` → `['a', 'b.c']`. */
export function splitPath(path: string): string[] {
  const segments: string[] = [];
  let current = '';
  for (let index = 0; index < path.length; index += 1) {
    const char = path[index];
    if (char === '\\' && index + 1 < path.length) {
      current += path[index + 1];
      index += 1;
    } else if (char === '.') {
      segments.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  segments.push(current);
  return segments;
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function setIn(node: Json, segments: readonly string[], value: Json): Json {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (Array.isArray(node) && /^(-1|\d+)$/.test(head)) {
    const copy = [...(node as Json[])];
    const index = head === '-1' ? copy.length : Number(head);
    while (copy.length < index) copy.push(null);
    copy[index] = setIn(copy[index], rest, value);
    return copy;
  }
  const base: Record<string, Json> = isObject(node) ? { ...node } : {};
  base[head] = setIn(base[head], rest, value);
  return base;
}

/** `body` with `value` at `path` (missing objects created on the way). */
export function setPath(body: Record<string, Json>, path: string, value: Json): Record<string, Json> {
  return setIn(body, splitPath(path), value) as Record<string, Json>;
}

function deleteIn(node: Json, segments: readonly string[]): Json {
  const [head, ...rest] = segments;
  if (head === undefined) return node;
  if (Array.isArray(node)) {
    if (!/^\d+$/.test(head) || Number(head) >= node.length) return node;
    const index = Number(head);
    if (rest.length === 0) return node.filter((_item, at) => at !== index);
    const copy = [...(node as Json[])];
    copy[index] = deleteIn(copy[index], rest);
    return copy;
  }
  if (!isObject(node) || !Object.hasOwn(node, head)) return node;
  const copy = { ...node };
  if (rest.length === 0) delete copy[head];
  else copy[head] = deleteIn(copy[head], rest);
  return copy;
}

/** `body` without what `path` names (unchanged when it names nothing). */
export function deletePath(body: Record<string, Json>, path: string): Record<string, Json> {
  return deleteIn(body, splitPath(path)) as Record<string, Json>;
}
