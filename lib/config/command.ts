/**
 * Splits a command line into argv the way a POSIX shell splits words, without running a shell.
 *
 * Hand-written rather than shell-quote's `parse`: shell-quote expands `$VAR` (we must keep `$` and
 * `${PID}` literal), turns unquoted `|`, `;`, `&`, `>`, `(` into operator objects and `*` into glob
 * objects (we want plain strings, since no shell ever sees them), and has no notion of comment
 * lines inside a multi-line YAML block. The rules here are small enough to own:
 *
 * - lines whose first non-blank character is `#` are dropped first (llama-swap does the same, so a
 *   comment may sit between continued lines); a `#` anywhere else is an ordinary character;
 * - blanks (space, tab, newline) separate words outside quotes;
 * - `'...'` is literal; `"..."` is literal except that a backslash escapes `$`, `` ` ``, `"`, `\`
 *   and newline; `''` and `""` produce an empty word;
 * - outside quotes a backslash escapes the next character; backslash-newline is a line
 *   continuation (removed) both outside quotes and inside double quotes;
 * - no variable, command, tilde or glob expansion of any kind.
 */
export class CommandSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandSyntaxError';
  }
}

/** Removes lines whose first non-blank character is `#`. */
export function stripCommentLines(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
}

const BLANK = new Set([' ', '\t', '\n', '\r']);
const DOUBLE_QUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\']);

export function splitCommand(text: string): string[] {
  const source = stripCommentLines(text);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (BLANK.has(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i += 1;
    } else if (ch === '\\') {
      const next = source[i + 1];
      if (next === '\n') {
        i += 2; // line continuation
      } else if (next === '\r' && source[i + 2] === '\n') {
        i += 3;
      } else if (next === undefined) {
        i += 1; // a lone trailing backslash continues into nothing
      } else {
        word += next;
        inWord = true;
        i += 2;
      }
    } else if (ch === "'") {
      const end = source.indexOf("'", i + 1);
      if (end < 0) throw new CommandSyntaxError('unterminated single quote');
      word += source.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (ch === '"') {
      i += 1;
      inWord = true;
      let closed = false;
      while (i < source.length) {
        const c = source[i] as string;
        if (c === '"') {
          closed = true;
          i += 1;
          break;
        }
        if (c === '\\') {
          const next = source[i + 1];
          if (next === '\n') {
            i += 2;
            continue;
          }
          if (next !== undefined && DOUBLE_QUOTE_ESCAPABLE.has(next)) {
            word += next;
            i += 2;
            continue;
          }
        }
        word += c;
        i += 1;
      }
      if (!closed) throw new CommandSyntaxError('unterminated double quote');
    } else {
      word += ch;
      inWord = true;
      i += 1;
    }
  }
  if (inWord) words.push(word);
  return words;
}
