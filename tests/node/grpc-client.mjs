// A gRPC client in another language, built at run time from the same protos/inference.proto the server compiles:
// proves the .proto alone is enough to call the server. Run by tests/Server.Tests/Grpc/GrpcNodeClientTests.cs with
// GRPC_ADDR=host:port; exits non-zero on the first failure.
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const here = path.dirname(fileURLToPath(import.meta.url));
const definition = protoLoader.loadSync(path.join(here, "../../protos/inference.proto"), {
  keepCase: true, // field names as written in the .proto (snake_case)
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { inference } = grpc.loadPackageDefinition(definition);
// No default port: the test passes the port its server bound, and a default could reach some other server.
const addr = process.env.GRPC_ADDR;
if (!addr) {
  console.error("GRPC_ADDR (host:port of the server's gRPC endpoint) is not set");
  process.exit(2);
}
const client = new inference.v1.InferenceService(addr, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 60_000);

const unary = (method, request) =>
  new Promise((resolve, reject) => client[method](request, { deadline: deadline() }, (err, res) => (err ? reject(err) : resolve(res))));

const greedy = { temperature: 0, ignore_eos: true, max_tokens: 8 };

async function main() {
  const info = await unary("ModelInfo", {});
  assert.equal(info.architecture, "LlamaForCausalLM");
  assert.ok(info.vocab_size > 0 && info.max_model_len > 0);
  console.log(`model ${info.model}: ${info.architecture} ${info.dtype}, vocab ${info.vocab_size}`);

  const tok = await unary("Tokenize", { text: "The jury said that" });
  assert.deepEqual(tok.token_ids, [1, 349, 447, 1263, 616, 329]);

  // Streaming Generate: token messages, then one with finish and usage.
  const pieces = [];
  await new Promise((resolve, reject) => {
    const call = client.Generate({ token_ids: { ids: tok.token_ids }, sampling: { ...greedy, logprobs: 1 } }, { deadline: deadline() });
    call.on("data", (m) => pieces.push(m));
    call.on("error", reject);
    call.on("end", resolve);
  });
  const last = pieces.at(-1);
  assert.equal(last.finish.reason, "FINISH_REASON_LENGTH");
  assert.equal(last.finish.usage.completion_tokens, 8);
  const ids = pieces.flatMap((p) => p.token_ids);
  assert.deepEqual(ids, [317, 345, 383, 1903, 287, 443, 1640, 453]); // reference.json greedy_ids
  assert.equal(pieces.flatMap((p) => p.logprobs).length, 8);
  const streamed = pieces.map((p) => p.text).join("");

  const complete = await unary("Complete", { text: "The jury said that", sampling: greedy });
  assert.deepEqual(complete.token_ids, ids);
  assert.equal(complete.text, streamed);
  console.log(`generated: ${JSON.stringify(complete.text)}`);

  // A bad parameter comes back as INVALID_ARGUMENT with a message naming it.
  await assert.rejects(unary("Complete", { text: "x", sampling: { temperature: -1 } }), (err) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err.details, /temperature/);
    return true;
  });
  console.log("ok");
}

main()
  .then(() => client.close())
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
