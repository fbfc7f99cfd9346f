#!/usr/bin/env python3
"""Writes src/Assets/fixtures/chat-templates/tool-cases.json: the tool-calling templates rendered for conversations
with tools, tool calls and tool results, by Python jinja2 set up as transformers' render_jinja_template sets it up
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its own tojson with ensure_ascii=False,
raise_exception, strftime_now) and given what vLLM passes: the request's tools as dicts, assistant content "" when
null, tool-call arguments parsed from their JSON string into a dict.
Usage: python3 tests/scripts/render-tool-templates.py (needs jinja2; no transformers install is needed)."""
import copy
import json
import pathlib

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src/Assets/fixtures/chat-templates"


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda f: "26 Jul 2024"
    return env


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. Zürich"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time in a time zone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}},
]

# OpenAI-shaped conversations, as a client sends them (arguments are JSON strings, content may be null).
CONVERSATIONS = {
    "tools_user": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What's the weather in Paris?"}],
    "tool_roundtrip": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call00001", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"celsius\"}"}}]},
        {"role": "tool", "tool_call_id": "call00001", "content": "{\"temperature\": 21}"}],
    "parallel_calls": [
        {"role": "system", "content": "Answer with tools."},
        {"role": "user", "content": "Weather and time in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Tokyo\"}"}},
            {"id": "call00002", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"Asia/Tokyo\"}"}}]},
        {"role": "tool", "tool_call_id": "call00001", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call00002", "content": "09:00"}],
}

CASES = [
    ("qwen2.5-7b-instruct.jinja", "<|endoftext|>", "<|im_end|>"),
    ("llama-3.1-8b-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>"),
    ("mistral-7b-instruct-v0.3.jinja", "<s>", "</s>"),
]


def as_vllm_passes(messages):
    """vLLM's chat_utils: content None -> "", tool-call arguments JSON string -> dict."""
    out = copy.deepcopy(messages)
    for m in out:
        if m.get("content") is None:
            m["content"] = ""
        for call in m.get("tool_calls") or []:
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return out


def main():
    env = environment()
    cases = []
    for file, bos, eos in CASES:
        template = env.from_string((TEMPLATES / file).read_text())
        for name, conversation in CONVERSATIONS.items():
            case = {"template": file, "conversation": name, "bos_token": bos, "eos_token": eos}
            try:
                case["rendered"] = template.render(messages=as_vllm_passes(conversation), tools=TOOLS, documents=None,
                                                   add_generation_prompt=True, bos_token=bos, eos_token=eos,
                                                   date_string="26 Jul 2024")
            except jinja2.exceptions.TemplateError as e:
                case["error"] = str(e)  # the template itself refuses (Llama-3.1: one tool call per turn)
            cases.append(case)
    out = {"rendered_by": f"jinja2 {jinja2.__version__} with transformers' render_jinja_template environment",
           "extra_variables": {"date_string": "26 Jul 2024"}, "add_generation_prompt": True,
           "tools": TOOLS, "conversations": CONVERSATIONS, "cases": cases}
    (TEMPLATES / "tool-cases.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {len(cases)} cases")


main()
