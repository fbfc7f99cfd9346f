// Structured outputs through the official `openai` npm package, run by tests/Server.Tests/StructuredOutputsClientTests.cs.
// Env: BASE_URL, MODEL, SCHEMA (a strict JSON Schema), SEEDS (how many seeds), MAX_TOKENS. Prints on stdout a JSON
// summary: the parsed json_schema outputs (the C# side validates them with JsonSchema.Net), and exits 1 naming any
// failed check: a json_schema run whose `message.parsed` is missing, a json_object output that is not an object, a
// regex or choice output that does not hold.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "unused", maxRetries: 0, timeout: 120_000 });
const model = process.env.MODEL;
const schema = JSON.parse(process.env.SCHEMA);
const seeds = Number(process.env.SEEDS);
const maxTokens = Number(process.env.MAX_TOKENS);
const messages = [{ role: "user", content: "Describe a person as JSON." }];
const failed = [];
const parsed = [];

function check(cond, message) {
  if (!cond) failed.push(message);
}

// json_schema (strict), temperature 1, all seeds at once (the engine batches them): the SDK's parse() helper fills
// message.parsed (it throws on finish_reason length).
await Promise.all(Array.from({ length: seeds }, async (_, seed) => {
  try {
    const c = await client.chat.completions.parse({
      model, messages, temperature: 1, seed, max_completion_tokens: maxTokens,
      response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
    });
    const m = c.choices[0].message;
    check(m.parsed !== null && typeof m.parsed === "object", `seed ${seed}: message.parsed is ${JSON.stringify(m.parsed)}`);
    check(c.choices[0].finish_reason === "stop", `seed ${seed}: finish_reason ${c.choices[0].finish_reason}`);
    parsed.push(m.parsed);
  } catch (e) {
    failed.push(`seed ${seed}: ${e}`);
  }
}));

// json_object: any JSON object.
for (let seed = 0; seed < 3; seed++) {
  const c = await client.chat.completions.create({
    model, messages, temperature: 1, seed, max_tokens: maxTokens, response_format: { type: "json_object" },
  });
  const text = c.choices[0].message.content;
  try {
    const v = JSON.parse(text);
    check(v !== null && typeof v === "object" && !Array.isArray(v), `json_object seed ${seed}: not an object: ${text}`);
  } catch (e) {
    failed.push(`json_object seed ${seed}: not JSON (${e}): ${text}`);
  }
}

// vLLM's guided_regex and guided_choice: extra body fields, which the SDK sends as they are.
const regex = "[A-Z][a-z]{2,8}-\\d{3}";
for (let seed = 0; seed < 3; seed++) {
  const c = await client.chat.completions.create({ model, messages, temperature: 1, seed, max_tokens: 20, guided_regex: regex });
  const text = c.choices[0].message.content;
  check(new RegExp(`^(?:${regex})$`).test(text), `guided_regex seed ${seed}: '${text}' does not match ${regex}`);
}
const choices = ["sunny", "sunny with clouds", "rain"];
for (let seed = 0; seed < 3; seed++) {
  const c = await client.completions.create({ model, prompt: "The weather is", temperature: 1, seed, max_tokens: 10, guided_choice: choices });
  check(choices.includes(c.choices[0].text), `guided_choice seed ${seed}: '${c.choices[0].text}' is not one of the choices`);
}

// An unsupported keyword is a 400 naming it.
try {
  await client.chat.completions.create({
    model, messages, max_tokens: 5,
    response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "integer", minimum: 3 } } },
  });
  failed.push("minimum: no error");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && /minimum/.test(e.message) && e.param === "response_format", `minimum: ${e}`);
}

console.log(JSON.stringify({ parsed, failed }));
process.exit(failed.length === 0 ? 0 : 1);
