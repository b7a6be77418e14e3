#!/usr/bin/python3
"""Independent reference for edgellm's chat-template interpreter: renders with Python's jinja2
configured the way Hugging Face transformers configures it for chat templates
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, a {% generation %}
tag, tojson as json.dumps, raise_exception, strftime_now), with the clock fixed.

Usage: jinja_reference.py CASES.json  ->  prints a JSON list of results, one per case:
  {"ok": true, "output": "..."}  or  {"ok": false, "error": "..."}
A case is {"template": str, "context": {...}} (rendered with the context as variables) or
{"template": str, "chat": {...}} where chat holds apply_chat_template's arguments
(messages, tools, add_generation_prompt, bos_token, eos_token, kwargs).
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2024, 7, 26, 13, 5, 9)


class GenerationTag(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: renders its body (what transformers'
    AssistantTracker does when it is not tracking assistant masks)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render_case(env, case):
    template = env.from_string(case["template"])
    if "chat" in case:
        chat = case["chat"]
        variables = {}
        for key in ("bos_token", "eos_token"):
            if chat.get(key) is not None:
                variables[key] = chat[key]
        variables.update(chat.get("kwargs", {}))
        return template.render(
            messages=chat["messages"],
            tools=chat.get("tools"),
            documents=None,
            add_generation_prompt=chat.get("add_generation_prompt", False),
            **variables,
        )
    return template.render(**case["context"])


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    env = make_env()
    results = []
    for case in cases:
        try:
            results.append({"ok": True, "output": render_case(env, case)})
        except Exception as e:  # every failure is a result to compare, not a crash
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
