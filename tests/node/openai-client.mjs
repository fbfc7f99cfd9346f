// The official `openai` npm package as a second client of the server, run by tests/Server.Tests/NodeOpenAiClientTests.cs.
// Env: BASE_URL (e.g. http://127.0.0.1:5000/v1), MODEL; optional EXPECTED_GREEDY (JSON: prompt -> text the .NET path
// expects), AUTH_BASE_URL + API_KEY (a second server started with --api-key). Prints a JSON summary on stdout and
// exits 1 if any check failed, naming it.
import OpenAI from "openai";
import { readFileSync } from "node:fs";

const BASE_URL = required("BASE_URL");
const MODEL = required("MODEL");
const reference = JSON.parse(readFileSync(new URL("../../src/Assets/tiny-llama/reference.json", import.meta.url), "utf8"));
const expectedGreedy = process.env.EXPECTED_GREEDY ? JSON.parse(process.env.EXPECTED_GREEDY) : null;
// No retries: a 429 or 5xx must show up as a failure, not be hidden by the SDK's backoff.
const client = new OpenAI({ baseURL: BASE_URL, apiKey: "unused", maxRetries: 0, timeout: 120_000 });

const passed = [];
const failed = [];
const greedy = {};

function required(name) {
  const v = process.env[name];
  if (!v) { console.error(`${name} is not set`); process.exit(2); }
  return v;
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

async function test(name, fn) {
  try {
    await fn();
    passed.push(name);
  } catch (e) {
    failed.push({ name, error: String(e && e.stack || e) });
  }
}

function checkUsage(usage, completionTokens, what) {
  check(usage, `${what}: no usage`);
  check(usage.prompt_tokens > 0, `${what}: prompt_tokens ${usage.prompt_tokens}`);
  if (completionTokens !== undefined) eq(usage.completion_tokens, completionTokens, `${what}: completion_tokens`);
  eq(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, `${what}: total_tokens`);
  const cached = usage.prompt_tokens_details?.cached_tokens;
  check(Number.isInteger(cached) && cached >= 0 && cached <= usage.prompt_tokens, `${what}: prompt_tokens_details.cached_tokens ${cached}`);
}

// ignore_eos is vLLM's, not in the SDK's types; the SDK sends unknown body fields through as they are.
const greedyParams = { model: MODEL, max_tokens: 24, temperature: 0, ignore_eos: true };

async function expectError(fn, status, ErrorClass, param, what) {
  try {
    await fn();
  } catch (e) {
    check(e instanceof ErrorClass, `${what}: expected ${ErrorClass.name}, got ${e && e.constructor && e.constructor.name}: ${e}`);
    eq(e.status, status, `${what}: status`);
    check(typeof e.message === "string" && e.message.length > 0, `${what}: empty message`);
    if (param !== undefined) eq(e.param, param, `${what}: param`);
    return e;
  }
  throw new Error(`${what}: the request succeeded`);
}

await test("models.list", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  check(ids.includes(MODEL), `models: ${ids}`);
});

for (const p of reference.prompts) {
  await test(`greedy reference: ${p.text}`, async () => {
    const r = await client.completions.create({ ...greedyParams, prompt: p.text });
    const text = r.choices[0].text;
    greedy[p.text] = text;
    // reference.json decodes the output alone, which drops SentencePiece's leading space; the server decodes in context.
    eq(text.replace(/^ +/, ""), p.greedy_text, "greedy text (leading spaces trimmed)");
    if (expectedGreedy) eq(text, expectedGreedy[p.text], "greedy text as the .NET path expects it");
    eq(r.object, "text_completion", "object");
    eq(r.choices[0].finish_reason, "length", "finish_reason");
    checkUsage(r.usage, 24, "usage");
    eq(r.usage.prompt_tokens, p.ids.length, "prompt_tokens");
  });
}

const film = reference.prompts.find(p => p.text === "The film was");

await test("completions: token-id prompt equals the string prompt", async () => {
  const r = await client.completions.create({ ...greedyParams, prompt: film.ids });
  eq(r.choices[0].text, greedy[film.text], "text");
});

await test("completions: list prompt and n=2", async () => {
  const r = await client.completions.create({ model: MODEL, prompt: ["The film was", "The jury said that"], n: 2, max_tokens: 5, temperature: 0, ignore_eos: true });
  eq(r.choices.map(c => c.index), [0, 1, 2, 3], "indexes");
  eq(r.choices[0].text, r.choices[1].text, "greedy copies agree");
  checkUsage(r.usage, 20, "usage");
});

await test("completions: echo + logprobs", async () => {
  const r = await client.completions.create({ model: MODEL, prompt: "The jury said that", max_tokens: 4, temperature: 0, ignore_eos: true, logprobs: 2, echo: true });
  const c = r.choices[0];
  check(c.text.startsWith("The jury said that"), `echoed text: ${c.text}`);
  const lp = c.logprobs;
  const promptTokens = reference.prompts[0].ids.length;
  eq(lp.tokens.length, promptTokens + 4, "tokens");
  eq(lp.token_logprobs.length, lp.tokens.length, "token_logprobs");
  eq(lp.top_logprobs.length, lp.tokens.length, "top_logprobs");
  eq(lp.text_offset.length, lp.tokens.length, "text_offset");
  eq(lp.token_logprobs[0], null, "first prompt token has no logprob");
  for (let i = promptTokens; i < lp.tokens.length; i++) {
    const top = Object.values(lp.top_logprobs[i]);
    check(top.length >= 1 && top.length <= 3, `top_logprobs[${i}] size ${top.length}`);
    check(Math.abs(Math.max(...top) - lp.token_logprobs[i]) < 1e-3, `greedy token ${i} is not the most likely`);
  }
});

await test("completions: stop string", async () => {
  const full = greedy["The jury said that"];
  const r = await client.completions.create({ ...greedyParams, prompt: "The jury said that", stop: ["able"] });
  eq(r.choices[0].text, full.slice(0, full.indexOf("able")), "text cut before the stop string");
  eq(r.choices[0].finish_reason, "stop", "finish_reason");
});

await test("completions: streaming with include_usage", async () => {
  const stream = await client.completions.create({ ...greedyParams, prompt: "The film was", stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) { text += c.text; finish ??= c.finish_reason; }
    if (chunk.usage) usage = chunk.usage;
  }
  eq(text, greedy["The film was"], "streamed text");
  eq(finish, "length", "finish_reason");
  checkUsage(usage, 24, "usage");
});

const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Tell me about the jury." }];
let chatText = null;

await test("chat: non-streaming", async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 0 });
  eq(r.object, "chat.completion", "object");
  check(r.id.startsWith("chatcmpl-"), `id ${r.id}`);
  eq(r.choices[0].message.role, "assistant", "role");
  chatText = r.choices[0].message.content;
  check(chatText.length > 0, "empty content");
  checkUsage(r.usage, undefined, "usage");
  check(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 12, `completion_tokens ${r.usage.completion_tokens}`);
});

await test("chat: streaming with include_usage equals non-streaming", async () => {
  const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = "", role = null, usage = null, finish = null;
  for await (const chunk of stream) {
    eq(chunk.object, "chat.completion.chunk", "chunk object");
    for (const c of chunk.choices) { role ??= c.delta.role; text += c.delta.content ?? ""; finish ??= c.finish_reason; }
    if (chunk.usage) usage = chunk.usage;
  }
  eq(role, "assistant", "first delta role");
  eq(text, chatText, "streamed content");
  check(finish === "stop" || finish === "length", `finish_reason ${finish}`);
  checkUsage(usage, undefined, "usage");
});

await test("chat: logprobs with top_logprobs", async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs.content;
  eq(content.length, r.usage.completion_tokens, "one logprob per token");
  for (const t of content) {
    check(t.logprob <= 0, `logprob ${t.logprob}`);
    eq(t.top_logprobs.length, 3, "top_logprobs size");
    check(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-3, "greedy token is the most likely");
    check(Array.isArray(t.bytes), "bytes");
  }
});

await test("chat: n=2", async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages, n: 2, max_tokens: 6, temperature: 0, ignore_eos: true });
  eq(r.choices.map(c => c.index), [0, 1], "indexes");
  checkUsage(r.usage, 12, "usage");
});

await test("unknown top-level field is ignored", async () => {
  const r = await client.completions.create({ ...greedyParams, prompt: "The film was", some_future_field: { a: 1 } });
  eq(r.choices[0].text, greedy["The film was"], "text");
});

await test("error: 400 with param", async () => {
  await expectError(() => client.completions.create({ model: MODEL, prompt: "x", max_tokens: -5 }), 400, OpenAI.BadRequestError, "max_tokens", "negative max_tokens");
  await expectError(() => client.chat.completions.create({ model: MODEL, messages: [] }), 400, OpenAI.BadRequestError, "messages", "empty messages");
  await expectError(() => client.chat.completions.create({ model: MODEL, messages, top_logprobs: 21, logprobs: true }), 400, OpenAI.BadRequestError, "top_logprobs", "top_logprobs 21");
});

await test("error: 404 unknown model", async () => {
  const e = await expectError(() => client.completions.create({ model: "no-such-model", prompt: "x" }), 404, OpenAI.NotFoundError, "model", "unknown model");
  eq(e.code, "model_not_found", "code");
});

if (process.env.AUTH_BASE_URL) {
  await test("error: 401 wrong API key, then the right one works", async () => {
    const wrong = new OpenAI({ baseURL: process.env.AUTH_BASE_URL, apiKey: "wrong", maxRetries: 0 });
    await expectError(() => wrong.models.list(), 401, OpenAI.AuthenticationError, undefined, "wrong key");
    const right = new OpenAI({ baseURL: process.env.AUTH_BASE_URL, apiKey: required("API_KEY"), maxRetries: 0 });
    const r = await right.completions.create({ model: MODEL, prompt: "The film was", max_tokens: 2 });
    eq(r.choices.length, 1, "choices");
  });
}

console.log(JSON.stringify({ sdk: "openai", passed: passed.length, failed, greedy }, null, 1));
if (failed.length) {
  for (const f of failed) console.error(`FAILED ${f.name}: ${f.error}`);
  process.exit(1);
}
