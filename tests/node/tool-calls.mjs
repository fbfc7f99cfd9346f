// Tool calling through the official `openai` npm package, run by tests/Server.Tests/ToolCalling/ToolCallingSdkTests.cs.
// Env: SERVERS (JSON: parser name -> base URL), MODEL, TOOLS (JSON list of tools). For each server: a named tool
// choice (create), a required choice streamed through the SDK's stream() helper (which assembles tool-call deltas),
// and the call sent back with its result. Prints a JSON summary {calls: [{parser, name, arguments}]} for the C# side
// to validate against the schema; exits 1 naming any failed check.
import OpenAI from "openai";

const servers = JSON.parse(process.env.SERVERS);
const model = process.env.MODEL;
const tools = JSON.parse(process.env.TOOLS);
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const failed = [];
const calls = [];

function check(cond, message) {
  if (!cond) failed.push(message);
}

for (const [parser, baseURL] of Object.entries(servers)) {
  const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 120_000 });
  try {
    const c = await client.chat.completions.create({
      model, messages, tools, temperature: 1, seed: 21, max_tokens: 64,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const m = c.choices[0].message;
    check(m.refusal === null, `${parser}: refusal is ${JSON.stringify(m.refusal)}`);
    check(Array.isArray(m.tool_calls) && m.tool_calls.length === 1, `${parser}: tool_calls ${JSON.stringify(m.tool_calls)}`);
    const call = m.tool_calls[0];
    check(call.type === "function" && call.function.name === "get_weather", `${parser}: call ${JSON.stringify(call)}`);
    calls.push({ parser, mode: "named", name: call.function.name, arguments: call.function.arguments });

    // The SDK's stream helper joins tool-call deltas by index into the final message.
    const stream = client.chat.completions.stream({ model, messages, tools, tool_choice: "required", temperature: 1, seed: 22, max_tokens: 64 });
    let deltaEvents = 0;
    stream.on("tool_calls.function.arguments.delta", () => deltaEvents++);
    const done = await stream.finalChatCompletion();
    const sm = done.choices[0].message;
    check(done.choices[0].finish_reason === "tool_calls", `${parser}: streamed finish_reason ${done.choices[0].finish_reason}`);
    check(sm.tool_calls?.length === 1, `${parser}: streamed tool_calls ${JSON.stringify(sm.tool_calls)}`);
    check(deltaEvents >= 1, `${parser}: no tool_calls.function.arguments.delta events`);
    calls.push({ parser, mode: "required-stream", name: sm.tool_calls[0].function.name, arguments: sm.tool_calls[0].function.arguments });

    // The call and its result go back through the model's template.
    const back = await client.chat.completions.create({
      model, tools, tool_choice: "none", max_tokens: 4,
      messages: [...messages, m, { role: "tool", tool_call_id: call.id, content: "{\"temperature\": 21}" }],
    });
    check(typeof back.choices[0].message.content === "string", `${parser}: follow-up content ${JSON.stringify(back.choices[0].message)}`);
  } catch (e) {
    failed.push(`${parser}: ${e}`);
  }
}

console.log(JSON.stringify({ calls, failed }));
process.exit(failed.length === 0 ? 0 : 1);
