// Drives `edgellm serve` with the official `openai` npm package (tests/server/openai_node_test.cpp
// installs it and starts the server). Usage: node openai_client.cjs BASE_URL MODEL API_KEY
// Prints "OK" when every check passed; throws (non-zero exit) on the first failure.
'use strict';
const assert = require('assert');
const path = require('path');

const mod = require(path.join(process.env.OPENAI_NODE_DIR, 'node_modules', 'openai'));
const OpenAI = mod.OpenAI || mod.default || mod;

async function expectStatus(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert.strictEqual(e.status, status, `expected HTTP ${status}, got ${e.status}: ${e.message}`);
    assert.ok(e.error && typeof e.error.message === 'string', 'error object with a message');
    return;
  }
  assert.fail(`expected HTTP ${status}, the request succeeded`);
}

async function main() {
  const [baseURL, model, apiKey] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });

  const models = await client.models.list();
  assert.deepStrictEqual(models.data.map((m) => m.id), [model]);

  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me a story.' }];
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, seed: 1 });
  const choice = chat.choices[0];
  assert.strictEqual(chat.object, 'chat.completion');
  assert.strictEqual(choice.message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), choice.finish_reason);
  assert.ok(chat.usage.prompt_tokens > 0);
  assert.strictEqual(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);

  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content || '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.strictEqual(text, choice.message.content, 'streamed text equals the non-streamed one');
  assert.strictEqual(finish, choice.finish_reason);
  assert.ok(usage && usage.completion_tokens === chat.usage.completion_tokens, 'usage chunk');

  const withLogprobs = await client.chat.completions.create({
    model, messages, max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const lp = withLogprobs.choices[0].logprobs.content;
  assert.ok(lp.length >= 1 && lp[0].top_logprobs.length === 3);

  const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  assert.strictEqual(completion.object, 'text_completion');
  let streamed = '';
  const cstream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
  for await (const chunk of cstream) streamed += chunk.choices.map((c) => c.text).join('');
  assert.strictEqual(streamed, completion.choices[0].text);

  await expectStatus(client.chat.completions.create({ model: 'no-such-model', messages }), 404);
  await expectStatus(client.chat.completions.create({ model, messages, max_tokens: 'many' }), 400);
  await expectStatus(client.chat.completions.create({ model, messages, temperature: -1 }), 400);
  const wrongKey = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
  await expectStatus(wrongKey.models.list(), 401);
  console.log('OK');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
