import { expect } from 'chai';
import { CommandSyntaxError, splitCommand } from '../../../lib/config/index.js';

describe('splitCommand (POSIX-like argv, no shell)', () => {
  const cases: [string, string, string[]][] = [
    ['plain words', 'llama-server --port 8080 -m model.gguf', ['llama-server', '--port', '8080', '-m', 'model.gguf']],
    ['runs of blanks and tabs', '  a \t b   c  ', ['a', 'b', 'c']],
    ['single quotes keep everything', `echo 'a  b' '$HOME' '\\n'`, ['echo', 'a  b', '$HOME', '\\n']],
    ['double quotes keep blanks', 'echo "a  b" "x\'y"', ['echo', 'a  b', "x'y"]],
    ['escapes inside double quotes', String.raw`echo "a\"b" "c\\d" "e\$f" "g\nh"`, ['echo', 'a"b', 'c\\d', 'e$f', 'g\\nh']],
    ['backslash escapes outside quotes', String.raw`echo a\ b \"q\" \\`, ['echo', 'a b', '"q"', '\\']],
    ['adjacent quoted parts join into one word', `--chat-template-kwargs='{"a": 1}'x"y"`, ['--chat-template-kwargs={"a": 1}xy']],
    ['empty quotes give an empty word', `cmd '' ""`, ['cmd', '', '']],
    ['backslash-newline continues the line', 'llama-server \\\n  --port 1 \\\n  -m x', ['llama-server', '--port', '1', '-m', 'x']],
    ['continuation joins words without a blank', 'ab\\\ncd', ['abcd']],
    ['newlines separate words in a block', 'llama-server\n--port 1\n-m x\n', ['llama-server', '--port', '1', '-m', 'x']],
    ['comment lines are dropped', '# start the server\nllama-server\n  # the port\n  --port 1\n', ['llama-server', '--port', '1']],
    ['a comment between continued lines', 'a \\\n# note\nb', ['a', 'b']],
    ['# inside a line is literal', 'echo a#b #c', ['echo', 'a#b', '#c']],
    ['no variable or glob expansion', 'echo $HOME ${PID} *.gguf ~ $(id) `id` a|b a;b a>b a&b', ['echo', '$HOME', '${PID}', '*.gguf', '~', '$(id)', '`id`', 'a|b', 'a;b', 'a>b', 'a&b']],
    ['quoted newline is kept', "echo 'a\nb'", ['echo', 'a\nb']],
    ['CRLF line endings', 'a \\\r\nb\r\nc', ['a', 'b', 'c']],
    ['empty text', '', []],
    ['only blanks and comments', '  \n # x\n', []],
    ['trailing lone backslash', 'a b\\', ['a', 'b']],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(splitCommand(input)).to.deep.equal(expected);
    });
  }

  const broken: [string, string, RegExp][] = [
    ['unterminated single quote', "echo 'abc", /unterminated single quote/],
    ['unterminated double quote', 'echo "abc', /unterminated double quote/],
  ];
  for (const [name, input, message] of broken) {
    it(`rejects ${name}`, () => {
      expect(() => splitCommand(input)).to.throw(CommandSyntaxError, message);
    });
  }
});
