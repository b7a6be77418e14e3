// Lexing and parsing: whitespace control as Hugging Face configures Jinja (trim_blocks,
// lstrip_blocks), comments, raw blocks, literals, and syntax errors with line/column.
#include "jinja_test_helpers.h"

namespace edgellm::chat {
namespace {

using testing::render;
using testing::render_error;

TEST(JinjaSyntax, PlainTextPassesThrough) {
  EXPECT_EQ(render("Hello, world!"), "Hello, world!");
  EXPECT_EQ(render(""), "");
  EXPECT_EQ(render("{ not a tag } {x} %}"), "{ not a tag } {x} %}");
}

TEST(JinjaSyntax, OneTrailingNewlineIsDropped) {
  EXPECT_EQ(render("line\n"), "line");
  EXPECT_EQ(render("line\n\n"), "line\n");
}

TEST(JinjaSyntax, CrlfAndCrBecomeNewlines) {
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
  EXPECT_EQ(render("{% if true %}\r\nx\r\n{% endif %}\r\n"), "x\n");
}

TEST(JinjaSyntax, TrimBlocksRemovesNewlineAfterBlockTag) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  // Not after expressions.
  EXPECT_EQ(render("{{ 'x' }}\ny"), "x\ny");
  // Comments count as blocks.
  EXPECT_EQ(render("{# c #}\nz"), "z");
}

TEST(JinjaSyntax, LstripBlocksRemovesIndentBeforeBlockTag) {
  EXPECT_EQ(render("<ul>\n  {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n  {% endfor %}\n</ul>"),
            "<ul>\n    <li>1</li>\n    <li>2</li>\n</ul>");
  // Only when the tag starts the line; expressions keep their indentation.
  EXPECT_EQ(render("x {% if true %}y{% endif %} z"), "x y z");
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");
  // At the very start of the template too.
  EXPECT_EQ(render("   {% if true %}a{% endif %}"), "a");
}

TEST(JinjaSyntax, PlusSignsDisableLstripAndTrim) {
  EXPECT_EQ(render("a\n    {%+ if true %}kept{% endif %}"), "a\n    kept");
  EXPECT_EQ(render("{% if true +%}\nnext{% endif %}"), "\nnext");
  EXPECT_EQ(render("x {#+ c +#}\nz"), "x \nz");
}

TEST(JinjaSyntax, DashesStripAllWhitespace) {
  EXPECT_EQ(render("a   {{- 'b' -}}   c"), "abc");
  EXPECT_EQ(render("a\n\n  {%- if true -%}\n\n  b  \n  {%- endif -%}  \n c"), "abc");
  EXPECT_EQ(render("x {#- c -#} y"), "xy");
  EXPECT_EQ(render("  {{ 'v' }}\n  {% if true -%}   \n  A\n  {%- endif %}"), "  v\nA");
  // "{{-1}}" reads the dash as whitespace control, as Jinja does.
  EXPECT_EQ(render("{{-1}}|{{+1}}"), "1|1");
}

TEST(JinjaSyntax, RawBlocksAreLiteral) {
  EXPECT_EQ(render("{% raw %}{{ x }} {% if %}{% endraw %}"), "{{ x }} {% if %}");
  EXPECT_EQ(render("{%- raw -%}  {{ x }}  {% endraw %}|"), "{{ x }}  |");
  EXPECT_EQ(render("{% raw %}\nq{% endraw %}"), "\nq");  // no trim_blocks after raw
}

TEST(JinjaSyntax, CommentsDisappear) {
  EXPECT_EQ(render("a{# one #}b{# two\nlines #}c"), "abc");
  EXPECT_EQ(render("a{# {{ not rendered }} {% if %} #}b"), "ab");
}

TEST(JinjaSyntax, StringLiteralEscapes) {
  EXPECT_EQ(render(R"({{ 'tab\there' }})"), "tab\there");
  EXPECT_EQ(render(R"({{ "a\nb" }})"), "a\nb");
  EXPECT_EQ(render(R"({{ '\x41\u00e9\101\U0001F600' }})"), "A\xC3\xA9" "A\xF0\x9F\x98\x80");
  EXPECT_EQ(render(R"({{ 'keep \d unknown' }})"), "keep \\d unknown");
  EXPECT_EQ(render(R"({{ 'it\'s' ~ "say \"hi\"" }})"), "it's" "say \"hi\"");
  EXPECT_EQ(render(R"({{ "adj" 'acent' }})"), "adjacent");
}

TEST(JinjaSyntax, NumberLiterals) {
  EXPECT_EQ(render("{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 2E2 }} {{ 12.50 }}"),
            "1000 31 15 5 1500.0 200.0 12.5");
}

TEST(JinjaSyntax, BracesInsideExpressionsDoNotCloseTags) {
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"), "{'a': {'b': 1}}");
  EXPECT_EQ(render("{% set d = {'k': [1]} %}{{ d.k }}"), "[1]");
}

TEST(JinjaSyntax, ErrorsNameLineAndColumn) {
  const std::string unclosed = render_error("line one\n  {{ x ");
  EXPECT_NE(unclosed.find("line 2, column 3"), std::string::npos) << unclosed;
  EXPECT_NE(unclosed.find("never closed"), std::string::npos) << unclosed;

  const std::string missing_endfor = render_error("{% for x in y %}\n{{ x }}\n");
  EXPECT_NE(missing_endfor.find("'endfor'"), std::string::npos) << missing_endfor;
  EXPECT_NE(missing_endfor.find("at line 2, column 8"), std::string::npos) << missing_endfor;
  EXPECT_NE(missing_endfor.find("'for' opened at line 1, column 4"), std::string::npos) << missing_endfor;

  const std::string bad_token = render_error("ok\n\n{{ 1 @ 2 }}");
  EXPECT_NE(bad_token.find("line 3, column 6"), std::string::npos) << bad_token;
  EXPECT_NE(bad_token.find("'@'"), std::string::npos) << bad_token;
}

TEST(JinjaSyntax, ClearErrorsForMalformedTemplates) {
  EXPECT_RENDER_ERROR("{% if true %}x", "{}", "'endif'");
  EXPECT_RENDER_ERROR("{% if true %}x{% endfor %}", "{}", "unknown tag 'endfor'");
  EXPECT_RENDER_ERROR("{# never closed", "{}", "comment");
  EXPECT_RENDER_ERROR("{% raw %} no end", "{}", "endraw");
  EXPECT_RENDER_ERROR("{{ 'unterminated }}", "{}", "unterminated string");
  EXPECT_RENDER_ERROR("{{ (1, 2 }}", "{}", "expected ')'");
  EXPECT_RENDER_ERROR("{{ [1, 2) }}", "{}", "unexpected ')'");
  EXPECT_RENDER_ERROR("{{ }}", "{}", "expected an expression");
  EXPECT_RENDER_ERROR("{% %}", "{}", "tag name expected");
  EXPECT_RENDER_ERROR("{% frobnicate %}", "{}", "unknown tag 'frobnicate'");
  EXPECT_RENDER_ERROR("{% set 1 = 2 %}", "{}", "can't assign");
  EXPECT_RENDER_ERROR("{% macro m(a=1, b) %}{% endmacro %}", "{}", "non-default argument");
  EXPECT_RENDER_ERROR("{% break %}", "{}", "outside of a loop");
  EXPECT_RENDER_ERROR("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}", "{}",
                      "outside of a loop");
  EXPECT_RENDER_ERROR("{{ 99999999999999999999 }}", "{}", "too large");
  EXPECT_RENDER_ERROR("{{ x is defined is defined }}", "{}", "chain");
  EXPECT_RENDER_ERROR(std::string("{{ '\xff' }}"), "{}", "not valid UTF-8");
}

TEST(JinjaSyntax, UnknownFiltersAndTestsFailAtParseTimeOutsideConditionals) {
  EXPECT_RENDER_ERROR("{{ x | nosuchfilter }}", "{}", "no filter named 'nosuchfilter'");
  EXPECT_RENDER_ERROR("{{ x is nosuchtest }}", "{}", "no test named 'nosuchtest'");
  EXPECT_RENDER_ERROR("{% for x in [] %}{{ x | nosuch }}{% endfor %}", "{}", "no filter named");
  // Inside a conditional Jinja defers the error until the branch runs.
  EXPECT_EQ(render("{% if false %}{{ x | nosuchfilter }}{% endif %}ok"), "ok");
  EXPECT_RENDER_ERROR("{% if true %}{{ x | nosuchfilter }}{% endif %}", "{}", "no filter named");
  EXPECT_RENDER_ERROR("{{ 1 if false else x | nosuch }}", "{}", "no filter named 'nosuch'");
}

TEST(JinjaSyntax, NoTemplateLoading) {
  EXPECT_RENDER_ERROR("{% include 'other.jinja' %}", "{}", "cannot load");
  EXPECT_RENDER_ERROR("{% import 'macros.jinja' as m %}", "{}", "'{% import %}' is not supported");
  EXPECT_RENDER_ERROR("{% from 'x' import y %}", "{}", "not supported");
  EXPECT_RENDER_ERROR("{% extends 'base.jinja' %}", "{}", "not supported");
  EXPECT_RENDER_ERROR("{% block body %}{% endblock %}", "{}", "not supported");
  EXPECT_RENDER_ERROR("{% do x.append(1) %}", "{}", "'do' extension is not enabled");
  EXPECT_RENDER_ERROR("{% call m() %}{% endcall %}", "{}", "not supported");
  EXPECT_RENDER_ERROR("{% for x in y recursive %}{% endfor %}", "{}", "recursive loops");
}

TEST(JinjaSyntax, ParsedTemplateKeepsNormalizedSource) {
  const ChatTemplate t("a\r\nb\n");
  EXPECT_EQ(t.source(), "a\nb");
}

}  // namespace
}  // namespace edgellm::chat
