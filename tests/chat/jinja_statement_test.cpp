// Statements: if/elif/else, for loops with loop.* and else/filter/unpacking, break/continue,
// set (plain, tuple, block, namespace) with Jinja's scoping, macros, filter/with blocks,
// {% generation %}.
#include "jinja_test_helpers.h"

namespace edgellm::chat {
namespace {

using testing::render;

constexpr const char* kContext = R"({
  "d": {"a": 1, "b": 2}, "xs": [3, 1, 2], "s": "Hello World",
  "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";

TEST(JinjaStatements, IfElifElse) {
  EXPECT_EQ(render("{% for v in [0, 1, 2, 3] %}{% if v == 0 %}zero{% elif v == 1 %}one{% elif v == 2 %}two"
                   "{% else %}many{% endif %},{% endfor %}"),
            "zero,one,two,many,");
  EXPECT_EQ(render("{% if [] %}a{% elif {} %}b{% elif '' %}c{% elif 0.0 %}d{% elif missing %}e{% else %}f{% endif %}"),
            "f");
}

TEST(JinjaStatements, LoopVariables) {
  EXPECT_EQ(render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}/{% endfor %}"),
            "1032TrueFalse3/2121FalseFalse3/3210FalseTrue3/");
  EXPECT_EQ(render("{% for x in xs %}[{{ loop.previtem }}|{{ x }}|{{ loop.nextitem }}|{{ loop.cycle('o', 'e') }}]{% endfor %}",
                   kContext),
            "[|3|1|o][3|1|2|e][1|2||o]");
  EXPECT_EQ(render("{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}"), "121");
  EXPECT_EQ(render("{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }};{% endfor %}"),
            "1x1 1y2 1;2x1 2y2 2;");
}

TEST(JinjaStatements, ForElseAndFilter) {
  EXPECT_EQ(render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}"),
            "empty|1");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4, 5] if x is odd %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}"),
            "1:1/3 3:2/3 5:3/3 ");
  EXPECT_EQ(render("{% for x in [2, 4] if x is odd %}{{ x }}{% else %}none{% endfor %}"), "none");
}

TEST(JinjaStatements, ForUnpackingAndIterables) {
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", kContext), "a=1;b=2;");
  EXPECT_EQ(render("{% for (a, b), c in [((1, 2), 3)] %}{{ a }}{{ b }}{{ c }}{% endfor %}"), "123");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}|{% for c in 'abc' %}{{ c }}-{% endfor %}", kContext), "ab|a-b-c-");
  EXPECT_RENDER_ERROR("{% for x in none %}{% endfor %}", "{}", "'NoneType' object is not iterable");
  EXPECT_RENDER_ERROR("{% for a, b in [[1, 2, 3]] %}{% endfor %}", "{}", "too many values to unpack (expected 2)");
  EXPECT_RENDER_ERROR("{% for a, b in [[1]] %}{% endfor %}", "{}", "not enough values to unpack (expected 2, got 1)");
}

TEST(JinjaStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}"
                   "{% endif %}{{ i }}{% endfor %}"),
            "0134");
  EXPECT_EQ(render("{% for i in range(3) %}{% for j in range(3) %}{% if j > i %}{% break %}{% endif %}{{ i }}{{ j }} "
                   "{% endfor %}|{% endfor %}"),
            "00 |10 11 |20 21 22 |");
}

TEST(JinjaStatements, SetScoping) {
  // A loop iteration has its own scope: assignments do not survive it.
  EXPECT_EQ(render("{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}"), "1110");
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"), "121");
  // if does not create a scope.
  EXPECT_EQ(render("{% if true %}{% set z = 3 %}{% endif %}{{ z }}"), "3");
  EXPECT_EQ(render("{% for i in [1] %}{% set w = 1 %}{% endfor %}[{{ w }}]"), "[]");
}

TEST(JinjaStatements, SetForms) {
  EXPECT_EQ(render("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set c, e = 'xy' %}{{ c }}{{ e }}"), "12xy");
  EXPECT_EQ(render("{% set greeting %}Hello {{ s }}!{% endset %}[{{ greeting }}]", kContext), "[Hello Hello World!]");
  EXPECT_EQ(render("{% set up | upper | replace('O', '0') %}shout{% endset %}{{ up }}"), "SH0UT");
  EXPECT_EQ(render("{%- set x -%}\n  hello {{ 1 }}\n{%- endset %}[{{ x }}]"), "[hello 1]");
  EXPECT_RENDER_ERROR("{% set a, b = [1, 2, 3] %}", "{}", "too many values to unpack");
}

TEST(JinjaStatements, Namespaces) {
  EXPECT_EQ(render("{% set ns = namespace(count=0, names=[]) %}{% for m in msgs %}{% set ns.count = ns.count + 1 %}"
                   "{% set ns.names = ns.names + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.names }} [{{ ns.missing }}]",
                   kContext),
            "2 ['user', 'assistant'] []");
  EXPECT_EQ(render("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{% set ns.a = 'z' %}{{ ns.a }}|{{ ns }}"),
            "12z|<Namespace {'a': 'z', 'b': 2}>");
  EXPECT_RENDER_ERROR("{% set x = 1 %}{% set x.y = 2 %}", "{}", "not a namespace");
  EXPECT_RENDER_ERROR("{% set n1 = namespace() %}{% set n1.self = n1 %}", "{}", "cannot hold a namespace");
  EXPECT_RENDER_ERROR("{% set n1 = namespace() %}{% set n1.l = [[n1]] %}", "{}", "cannot hold a namespace");
}

TEST(JinjaStatements, MacrosWithDefaults) {
  EXPECT_EQ(render("{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}"
                   "{% endmacro %}{{ greet('Ann') }}|{{ greet('Bob', 'Hi') }}|{{ greet('Cy', punct='?') }}|"
                   "{{ greet(name='Di', greeting='Yo') }}"),
            "Hello, Ann!|Hi, Bob!|Hello, Cy?|Yo, Di!");
  EXPECT_EQ(render("{% macro m(a, b) %}[{{ a }}][{{ b }}][{{ b is defined }}]{% endmacro %}{{ m(1) }}"), "[1][][False]");
  EXPECT_EQ(render("{% macro m(a, b=2) %}{{ a }}-{{ b }}-{{ varargs }}-{{ kwargs }}{% endmacro %}"
                   "{{ m(1) }} {{ m(1, 3, 4) }} {{ m(1, c=5) }}"),
            "1-2-()-{} 1-3-(4,)-{} 1-2-()-{'c': 5}");
  EXPECT_RENDER_ERROR("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "{}", "takes not more than 1 argument");
  EXPECT_RENDER_ERROR("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}", "{}", "takes no keyword argument 'b'");
  EXPECT_RENDER_ERROR("{% macro m(a) %}{% endmacro %}{{ m(1, a=2) }}", "{}", "multiple values for argument 'a'");
}

TEST(JinjaStatements, MacroScopingAndRecursion) {
  EXPECT_EQ(render("{% set x = 5 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 7 %}{{ m() }}"), "7");
  EXPECT_EQ(render("{% set x = 1 %}{% macro top() %}{{ x }}{% endmacro %}{% for x in [5] %}{{ top() }}"
                   "{% macro inner() %}{{ x }}{% endmacro %}{{ inner() }}{% endfor %}"),
            "15");
  EXPECT_EQ(render("{% macro down(n) %}{% if n > 0 %}{{ n }}{{ down(n - 1) }}{% endif %}{% endmacro %}{{ down(4) }}"),
            "4321");
  EXPECT_EQ(render("{% macro m() %}  a  {% endmacro %}[{{ m() }}][{{ m() | trim }}]{{ m }}"), "[  a  ][a]<Macro 'm'>");
  // A macro stored in a namespace outlives the loop iteration that defined it.
  EXPECT_EQ(render("{% set ns = namespace() %}{% for v in ['kept'] %}{% macro m() %}{{ v }}{% endmacro %}"
                   "{% set ns.m = m %}{% endfor %}{{ ns.m() }}"),
            "kept");
}

TEST(JinjaStatements, FilterWithAndGenerationBlocks) {
  EXPECT_EQ(render("{% filter upper %}abc{{ 'd' }}{% endfilter %}|{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"),
            "ABCD|3[]");
  EXPECT_EQ(render("{% for m in msgs %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}!{% endgeneration %}"
                   "{% else %}{{ m.content }}{% endif %}|{% endfor %}",
                   kContext),
            "hi|yo!|");
}

TEST(JinjaStatements, PrintStatement) { EXPECT_EQ(render("{% print 'a', 1 %}"), "a1"); }

TEST(JinjaStatements, ListPopMutatesAndAppendIsRefused) {
  EXPECT_EQ(render("{% set l = [1, 2, 3] %}{{ l.pop() }}{{ l }}{{ l.pop(0) }}{{ l }}"), "3[1, 2]1[2]");
  EXPECT_RENDER_ERROR("{% set l = [] %}{{ l.append(1) }}", "{}", "access to attribute 'append' of 'list' object is unsafe");
  EXPECT_RENDER_ERROR("{{ d.update({'c': 3}) }}", kContext, "'update' of 'dict' object is unsafe");
  EXPECT_EQ(render("[{{ xs.append }}]", kContext), "[]");
}

TEST(JinjaStatements, RaiseExceptionAndStrftimeNow) {
  EXPECT_RENDER_ERROR("{{ raise_exception('Roles must alternate') }}", "{}", "Roles must alternate");
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d %H:%M:%S %B %b %A %a %j') }}"),
            "2024-07-26 13:05:09 July Jul Friday Fri 208");
}

TEST(JinjaStatements, GlobalsCanBeShadowedByContext) {
  EXPECT_EQ(render("{{ range }}", R"({"range": "mine"})"), "mine");
  EXPECT_EQ(render("{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }}"),
            "[0, 1, 2] [1, 3, 5] [5, 3, 1]");
  EXPECT_EQ(render("{{ dict(a=1, b=[2]) }} {{ dict([('x', 1)]) }}"), "{'a': 1, 'b': [2]} {'x': 1}");
  EXPECT_EQ(render("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}"
                   "{% set j = joiner('|') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}"),
            "abab1|2|3");
}

}  // namespace
}  // namespace edgellm::chat
