/** Token counts read from model server answers: llama-swap's metrics_test.go cases as tables, plus chunked streams. */
import { expect } from 'chai';
import { failedErrorMessage, parseJsonUsage, SseUsageScanner, usageTokens, type TokenMetrics } from '../../../lib/gateway/usage.js';

type Expected = Partial<TokenMetrics> & { durationMs?: number };

function expectTokens(actual: { tokens: TokenMetrics; durationMs: number } | null, expected: Expected | null, name: string): void {
  if (expected === null) {
    expect(actual, name).to.equal(null);
    return;
  }
  expect(actual, name).not.to.equal(null);
  const { durationMs, ...tokens } = expected;
  for (const [key, value] of Object.entries(tokens)) expect(actual!.tokens[key as keyof TokenMetrics], `${name}: ${key}`).to.be.closeTo(value, 1e-9);
  if (durationMs !== undefined) expect(actual!.durationMs, `${name}: durationMs`).to.equal(durationMs);
}

describe('usage: parsing answers (pure)', function () {
  const wallMs = 100;

  const whole: { name: string; path?: string; body: string; expected: Expected | null }[] = [
    { name: 'chat completions usage with cached tokens', body: '{"usage":{"prompt_tokens":12,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":4}}}', expected: { input_tokens: 12, output_tokens: 7, cache_tokens: 4, prompt_per_second: -1, tokens_per_second: -1, draft_tokens: -1, durationMs: 100 } },
    { name: 'responses/messages names', body: '{"usage":{"input_tokens":9,"output_tokens":3,"cache_read_input_tokens":2}}', expected: { input_tokens: 9, output_tokens: 3, cache_tokens: 2 } },
    { name: 'responses cached tokens', body: '{"usage":{"input_tokens":9,"output_tokens":3,"input_tokens_details":{"cached_tokens":5}}}', expected: { cache_tokens: 5 } },
    { name: 'no cached figure is -1', body: '{"usage":{"prompt_tokens":1,"completion_tokens":1}}', expected: { cache_tokens: -1 } },
    { name: 'llama-server timings win and give rates and a longer duration', body: '{"timings":{"prompt_n":20,"predicted_n":50,"prompt_per_second":100.0,"predicted_per_second":40.0,"prompt_ms":200,"predicted_ms":1250,"cache_n":8}}', expected: { input_tokens: 20, output_tokens: 50, cache_tokens: 8, tokens_per_second: 40, prompt_per_second: 100, durationMs: 1450 } },
    { name: 'timings shorter than the wall time keep the wall time', body: '{"timings":{"prompt_n":1,"predicted_n":1,"prompt_ms":10,"predicted_ms":20}}', expected: { durationMs: 100 } },
    { name: 'timings draft counts', body: '{"timings":{"prompt_n":20,"predicted_n":50,"draft_n":30,"draft_n_accepted":12},"metrics":{"speculative_decoding":{}}}', expected: { draft_tokens: 30, draft_acc_tokens: 12 } },
    { name: 'vLLM metrics rates', body: '{"usage":{"prompt_tokens":42,"completion_tokens":128,"prompt_tokens_details":{"cached_tokens":20}},"metrics":{"time_to_first_token_ms":85.2,"mean_itl_ms":9.1}}', expected: { input_tokens: 42, output_tokens: 128, cache_tokens: 20, prompt_per_second: (42 - 20) / (85.2 / 1000), tokens_per_second: 1000 / 9.1 } },
    { name: 'vLLM speculative decoding', body: '{"usage":{"prompt_tokens":42,"completion_tokens":128},"metrics":{"mean_itl_ms":9.1,"speculative_decoding":{"num_accepted_draft_tokens":14,"num_draft_tokens":20}}}', expected: { draft_tokens: 20, draft_acc_tokens: 14 } },
    { name: 'vLLM speculative decoding half filled', body: '{"usage":{"prompt_tokens":42,"completion_tokens":128},"metrics":{"speculative_decoding":{"num_draft_tokens":20}}}', expected: { draft_tokens: -1, draft_acc_tokens: -1 } },
    { name: '/infill: timings of the last element', path: '/infill', body: '[{"content":"a"},{"content":"b","timings":{"prompt_n":5,"predicted_n":9,"prompt_ms":10,"predicted_ms":20}}]', expected: { input_tokens: 5, output_tokens: 9 } },
    { name: 'an array elsewhere has nothing', path: '/v1/embeddings', body: '[{"timings":{"prompt_n":5}}]', expected: null },
    { name: 'no usage, timings or metrics', body: '{"object":"list","data":[]}', expected: null },
    { name: 'not JSON', body: 'hello', expected: null },
  ];
  for (const { name, path, body, expected } of whole) {
    it(`whole answer: ${name}`, function () {
      expectTokens(parseJsonUsage(path ?? '/v1/chat/completions', body, wallMs), expected, name);
    });
  }

  const streams: { name: string; body: string; expected: Expected | null }[] = [
    { name: 'usage in a late chunk', body: 'data: {"choices":[{}]}\n\ndata: {"usage":{"prompt_tokens":15,"completion_tokens":33}}\n\ndata: [DONE]\n\n', expected: { input_tokens: 15, output_tokens: 33 } },
    { name: 'vLLM metrics on the final chunk', body: 'data: {"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":14,"total_tokens":166,"completion_tokens":152},"metrics":{"time_to_first_token_ms":70,"mean_itl_ms":10}}\n\ndata: [DONE]\n', expected: { input_tokens: 14, output_tokens: 152, cache_tokens: -1, prompt_per_second: 200, tokens_per_second: 100 } },
    { name: 'vLLM speculative decoding', body: 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":11742,"completion_tokens":35},"metrics":{"speculative_decoding":{"num_accepted_draft_tokens":14,"num_draft_tokens":20}}}\n\ndata: [DONE]\n', expected: { draft_tokens: 20, draft_acc_tokens: 14 } },
    { name: 'llama-server timings in the last chunk', body: 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"finish_reason":"stop"}],"timings":{"prompt_n":7,"predicted_n":4,"prompt_per_second":70,"predicted_per_second":20,"prompt_ms":100,"predicted_ms":200}}\n\ndata: [DONE]\n\n', expected: { input_tokens: 7, output_tokens: 4, prompt_per_second: 70, tokens_per_second: 20, durationMs: 300 } },
    { name: 'Anthropic messages: input in message_start, output in message_delta', body: 'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}\n\nevent: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}\n\n', expected: { input_tokens: 25, output_tokens: 15 } },
    { name: 'Responses API: response.completed', body: 'data: {"type":"response.completed","response":{"usage":{"input_tokens":8,"output_tokens":5,"input_tokens_details":{"cached_tokens":3}}}}\n\n', expected: { input_tokens: 8, output_tokens: 5, cache_tokens: 3 } },
    { name: 'a later zero does not erase a count', body: 'data: {"usage":{"prompt_tokens":9,"completion_tokens":4}}\n\ndata: {"usage":{"prompt_tokens":0,"completion_tokens":0}}\n\n', expected: { input_tokens: 9, output_tokens: 4 } },
    { name: 'CRLF lines, no space after data:, no final newline', body: 'data:{"usage":{"prompt_tokens":2,"completion_tokens":3}}\r\n\r\ndata:{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":6}}', expected: { input_tokens: 2, output_tokens: 6 } },
    { name: 'only [DONE]', body: 'data: [DONE]\n\n', expected: null },
    { name: 'chunks without usage', body: 'data: {"choices":[{"delta":{"content":"x"}}]}\n\n: comment\n\n', expected: null },
  ];
  for (const { name, body, expected } of streams) {
    it(`stream: ${name} (whole, and split at every byte boundary pattern)`, function () {
      const whole = new SseUsageScanner();
      whole.push(body);
      expectTokens(whole.result(wallMs), expected, name);
      for (const size of [1, 2, 3, 7, 64]) {
        const scanner = new SseUsageScanner();
        for (let offset = 0; offset < body.length; offset += size) scanner.push(body.slice(offset, offset + size));
        expectTokens(scanner.result(wallMs), expected, `${name} (chunks of ${size})`);
      }
    });
  }

  it('stream: a line longer than the bound is skipped, the lines after it are read', function () {
    const scanner = new SseUsageScanner();
    scanner.push(`data: {"pad":"${'x'.repeat(2 * 1024 * 1024)}","usage":{"prompt_tokens":99,"completion_tokens":99}}\n`);
    scanner.push('data: {"usage":{"prompt_tokens":1,"completion_tokens":2}}\n');
    expectTokens(scanner.result(wallMs), { input_tokens: 1, output_tokens: 2 }, 'after a long line');
  });

  it('stream: only lines that can hold figures are parsed (content chunks are not), and the figures are still found', function () {
    const scanner = new SseUsageScanner();
    const parse = JSON.parse;
    let parsed = 0;
    JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
      parsed += 1;
      return parse(text, reviver) as unknown;
    }) as typeof JSON.parse;
    try {
      for (let index = 0; index < 500; index += 1) scanner.push(`data: {"choices":[{"delta":{"content":"tok${index} usage timings"}}]}\n\n`);
      scanner.push('data: {"choices":[],"usage" : {"prompt_tokens":5,"completion_tokens":500}}\n\ndata: [DONE]\n\n');
    } finally {
      JSON.parse = parse;
    }
    expect(parsed).to.equal(1);
    expectTokens(scanner.result(wallMs), { input_tokens: 5, output_tokens: 500 }, 'after 500 content chunks');
  });

  it('a JSON answer with no usage, timings or metrics key is null without being parsed', function () {
    expect(parseJsonUsage('/v1/chat/completions', '{"choices":[{"message":{"content":"the usage of timings"}}]}', wallMs)).to.equal(null);
  });

  it('usageTokens: which fields count as found', function () {
    expect(usageTokens(undefined)).to.deep.equal({ input: 0, output: 0, cached: -1, found: false });
    expect(usageTokens({ total_tokens: 3 })).to.deep.equal({ input: 0, output: 0, cached: -1, found: false });
    expect(usageTokens({ prompt_tokens: 3.9 })).to.deep.equal({ input: 3, output: 0, cached: -1, found: true });
  });

  const errors: [string, number, string][] = [
    ['{"error":{"message":"rate limited"}}', 429, 'rate limited'],
    ['{"error":"bad request"}', 400, 'bad request'],
    ['{"message":"nope"}', 500, 'nope'],
    ['{"detail":"oops"}', 500, 'oops'],
    ['{"error":{"code":42}}', 503, '503 Service Unavailable'],
    ['not-json', 502, '502 Bad Gateway'],
    ['', 499, 'HTTP 499'],
    [`{"error":"${'e'.repeat(600)}"}`, 500, `${'e'.repeat(500)}...`],
  ];
  for (const [body, status, want] of errors) {
    it(`failedErrorMessage(${status}, ${body.slice(0, 30)}) = ${want.slice(0, 30)}`, function () {
      const text = { 429: 'Too Many Requests', 400: 'Bad Request', 500: 'Internal Server Error', 503: 'Service Unavailable', 502: 'Bad Gateway' }[status as 429];
      expect(failedErrorMessage(status, text, body)).to.equal(want);
    });
  }
});
