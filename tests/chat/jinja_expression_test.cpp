// Expressions and values: Python printing of numbers/None/booleans/containers, arithmetic
// with Python rounding rules, comparisons, membership, attribute vs item lookup, slicing,
// undefined semantics, literals.
#include "jinja_test_helpers.h"

namespace edgellm::chat {
namespace {

using testing::render;

constexpr const char* kContext = R"({
  "d": {"a": 1, "b": 2}, "xs": [3, 1, 2], "s": "Hello World", "n": 5, "f": 2.5, "t": true,
  "none_val": null, "nested": {"k": [1, {"z": null}]},
  "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";

TEST(JinjaExpressions, PrintsValuesLikePythonStr) {
  EXPECT_EQ(render("{{ n }}|{{ f }}|{{ s }}|{{ t }}|{{ none_val }}|{{ xs }}|{{ d }}|{{ missing }}|", kContext),
            "5|2.5|Hello World|True|None|[3, 1, 2]|{'a': 1, 'b': 2}||");
  EXPECT_EQ(render("{{ true }} {{ false }} {{ none }} {{ True }} {{ None }} {{ [True, None, 'x'] }}"),
            "True False None True None [True, None, 'x']");
  EXPECT_EQ(render("{{ (1,) }}{{ () }}{{ (1, 'a') }}{{ 1, 2 }}"), "(1,)()(1, 'a')(1, 2)");
}

TEST(JinjaExpressions, FloatsPrintWithShortestRepr) {
  EXPECT_EQ(render("{{ 1.0 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }}"),
            "1.0 1e+20 1e+16 1000000000000000.0 0.0001 1e-05");
  EXPECT_EQ(render("{{ 10/3 }} {{ 0.1 + 0.2 }} {{ -0.0 }} {{ 1e300 * 1e10 }} {{ -(1e300 * 1e10) }}"),
            "3.3333333333333335 0.30000000000000004 -0.0 inf -inf");
  EXPECT_EQ(render("{{ 123456789.125 }} {{ 1.5e-7 }} {{ 2.0**0.5 }}"), "123456789.125 1.5e-07 1.4142135623730951");
}

TEST(JinjaExpressions, StringReprQuoting) {
  EXPECT_EQ(render(R"({{ ["a\tb", 'x"y', "it's", "both'\"", "\u00e9\x01", "back\\"] }})"),
            R"(['a\tb', 'x"y', "it's", 'both\'"', 'é\x01', 'back\\'])");
}

TEST(JinjaExpressions, IntegerArithmeticFollowsPython) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }}"),
            "3 -4 1 2 -2 1024");
  EXPECT_EQ(render("{{ 10 / 4 }} {{ 10 / 5 }} {{ 2 ** -1 }} {{ true + 1 }} {{ 5 - 8 }}"), "2.5 2.0 0.5 2 -3");
}

TEST(JinjaExpressions, FloatArithmeticFollowsPython) {
  EXPECT_EQ(render("{{ 7.5 // 2 }} {{ -7.5 // 2 }} {{ 7.5 % 2 }} {{ -7.5 % 2 }} {{ 1 + 1.5 }} {{ 7 % 0.5 }}"),
            "3.0 -4.0 1.5 0.5 2.5 0.0");
}

TEST(JinjaExpressions, OperatorPrecedence) {
  // Jinja binds unary minus tighter than **, unlike Python.
  EXPECT_EQ(render("{{ -2 ** 2 }} {{ -(2 ** 2) }} {{ 2 + 3 * 4 }} {{ 2 * 3 ** 2 }} {{ (2 + 3) * 4 }}"),
            "4 -4 14 18 20");
  EXPECT_EQ(render("{{ not true or true }} {{ not (true or true) }} {{ -n | abs }}", kContext), "True False 5");
  // ~ binds tighter than +, so this is 1 + '23'.
  EXPECT_RENDER_ERROR("{{ 1 + 2 ~ 3 }}", "{}", "unsupported operand type(s) for +: 'int' and 'str'");
}

TEST(JinjaExpressions, ConcatenationAndRepetition) {
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ true ~ [1] ~ 2.0 ~ missing }}"), "a1NoneTrue[1]2.0");
  EXPECT_EQ(render("{{ 'a' + 'b' }} {{ [1] + [2, 3] }} {{ 'ab' * 3 }} {{ 2 * 'xy' }} {{ [0] * 3 }} [{{ 'ab' * -1 }}]"),
            "ab [1, 2, 3] ababab xyxy [0, 0, 0] []");
}

TEST(JinjaExpressions, TypeErrorsAreReported) {
  EXPECT_RENDER_ERROR("{{ 'a' + 1 }}", "{}", "unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_RENDER_ERROR("{{ 1 < 'a' }}", "{}", "'<' not supported between instances of 'int' and 'str'");
  EXPECT_RENDER_ERROR("{{ 1 / 0 }}", "{}", "division by zero");
  EXPECT_RENDER_ERROR("{{ 5 // 0 }}", "{}", "integer division or modulo by zero");
  EXPECT_RENDER_ERROR("{{ 5 % 0 }}", "{}", "modulo by zero");
  EXPECT_RENDER_ERROR("{{ 2 ** 64 }}", "{}", "integer overflow");
  EXPECT_RENDER_ERROR("{{ 9223372036854775807 + 1 }}", "{}", "integer overflow");
  EXPECT_RENDER_ERROR("{{ 1 in 5 }}", "{}", "argument of type 'int' is not iterable");
  EXPECT_RENDER_ERROR("{{ 1 in 'abc' }}", "{}", "requires string as left operand");
  EXPECT_RENDER_ERROR("{{ n() }}", R"({"n": 1})", "'int' object is not callable");
}

TEST(JinjaExpressions, Comparisons) {
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ 1 == true }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ d == {'b': 2, 'a': 1} }}",
                   kContext),
            "True True True False True");
  EXPECT_EQ(render("{{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 != 2 }}"),
            "True True True True False True");
  EXPECT_EQ(render("{{ missing == other_missing }} {{ missing == none }} {{ none == none }}"), "True False True");
}

TEST(JinjaExpressions, Membership) {
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 'z' not in 'abc' }} {{ 2 in xs }} {{ 5 not in xs }} {{ 'a' in d }} {{ 'c' in d }}",
                   kContext),
            "True True True True True False");
  EXPECT_EQ(render("{{ 'x' in missing }} {{ not 1 in [1] }}"), "False False");
}

TEST(JinjaExpressions, LogicReturnsOperandsAndShortCircuits) {
  EXPECT_EQ(render("{{ true and 'x' }}|{{ 0 or 'y' }}|{{ '' or [] }}|{{ none and 1 }}"), "x|y|[]|None");
  // The right side is not evaluated, so the undefined attribute error never happens.
  EXPECT_EQ(render("{{ 0 and missing.attr }}|{{ 1 or missing.attr }}"), "0|1");
}

TEST(JinjaExpressions, ConditionalExpressions) {
  EXPECT_EQ(render("{{ 'yes' if t else 'no' }}|{{ 'x' if false }}|{{ 1 if false else 2 if false else 3 }}", kContext),
            "yes||3");
  EXPECT_EQ(render("{{ ('x' if false) | default('dflt') }}"), "dflt");
}

TEST(JinjaExpressions, AttributeAndItemLookup) {
  EXPECT_EQ(render("{{ d.a }}|{{ d['b'] }}|{{ nested.k[1].z }}|{{ msgs[0].role }}|{{ msgs[-1]['content'] }}|{{ xs.1 }}",
                   kContext),
            "1|2|None|user|yo|1");
  // Methods come first for attribute syntax, keys first for subscripts.
  EXPECT_EQ(render("{{ {'items': 1}.items() | list }}|{{ {'keys': 5}['keys'] }}"), "[('items', 1)]|5");
}

TEST(JinjaExpressions, MissingLookupsAreUndefined) {
  EXPECT_EQ(render("[{{ d.zzz }}][{{ xs[10] }}][{{ none_val[0] }}][{{ none_val.x }}][{{ s.nosuch }}]", kContext),
            "[][][][][]");
  EXPECT_EQ(render("{{ d.zzz is defined }} {{ d.a is defined }} {{ missing is undefined }}", kContext),
            "False True True");
}

TEST(JinjaExpressions, UsingUndefinedFailsOnlyWhenItMatters) {
  EXPECT_EQ(render("{{ missing }}{% for x in missing %}x{% endfor %}{{ missing | length }}{{ missing ~ 'a' }}"), "0a");
  EXPECT_RENDER_ERROR("{{ missing.attr }}", "{}", "'missing' is undefined");
  EXPECT_RENDER_ERROR("{{ d.zzz.yyy }}", kContext, "'dict object' has no attribute 'zzz'");
  EXPECT_RENDER_ERROR("{{ missing + 1 }}", "{}", "'missing' is undefined");
  EXPECT_RENDER_ERROR("{{ -missing }}", "{}", "'missing' is undefined");
  EXPECT_RENDER_ERROR("{{ missing() }}", "{}", "'missing' is undefined");
  EXPECT_RENDER_ERROR("{{ missing | tojson }}", "{}", "Object of type Undefined is not JSON serializable");
}

TEST(JinjaExpressions, Slicing) {
  EXPECT_EQ(render("{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ (1, 2, 3)[1:] }}", kContext),
            "[1, 2] [3, 1] [2, 1, 3] [3, 2] (2, 3)");
  EXPECT_EQ(render("{{ s[0:5] }} {{ s[-5:] }} {{ s[::-1] }} {{ [1, 2, 3, 4, 5][4:1:-1] }} {{ 'abc'[-10:10] }}", kContext),
            "Hello World dlroW olleH [5, 4, 3] abc");
  EXPECT_RENDER_ERROR("{{ xs[::0] }}", kContext, "slice step cannot be zero");
  EXPECT_RENDER_ERROR("{{ none_val[1:] }}", kContext, "not subscriptable");
}

TEST(JinjaExpressions, StringsIndexByCodePoint) {
  EXPECT_EQ(render("{{ 'héllo wörld' | length }} {{ 'héllo'[1:3] }} {{ 'héllo'[::-1] }} {{ 'héllo'[1] }} {{ '日本語' | list }}"),
            "11 él olléh é ['日', '本', '語']");
  EXPECT_EQ(render("{{ 'héllo'.upper() }} {{ 'ÉCOLE' | lower }} {{ 'straße'.upper() }} {{ 'ΟΔΟΣ'.lower() }}"),
            "HÉLLO école STRASSE οδος");
}

TEST(JinjaExpressions, ContainerLiterals) {
  EXPECT_EQ(render("{{ [1, 'two', 3.0, none, [], {}] }}|{{ {'k': 'v', 1: 2, none: 3} }}|{{ {'a': 1, 'a': 2} }}"),
            "[1, 'two', 3.0, None, [], {}]|{'k': 'v', 1: 2, None: 3}|{'a': 2}");
  EXPECT_RENDER_ERROR("{{ {[1]: 2} }}", "{}", "unhashable type");
}

TEST(JinjaExpressions, DictKeyOrderIsInsertionOrder) {
  EXPECT_EQ(render("{{ obj }}|{% for k in obj %}{{ k }},{% endfor %}|{{ obj | tojson }}",
                   R"({"obj": {"zeta": 1, "alpha": {"y": 2, "x": 3}, "mid": 0}})"),
            "{'zeta': 1, 'alpha': {'y': 2, 'x': 3}, 'mid': 0}|zeta,alpha,mid,|"
            "{\"zeta\": 1, \"alpha\": {\"y\": 2, \"x\": 3}, \"mid\": 0}");
}

TEST(JinjaExpressions, CallsWithStarArguments) {
  EXPECT_EQ(render("{% macro m(a, b, c=0) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(*[1, 2]) }} {{ m(1, **{'b': 5, 'c': 6}) }}"),
            "120 156");
  EXPECT_EQ(render("{{ 'x{}y{}'.format(*['1', '2']) }}"), "x1y2");
}

}  // namespace
}  // namespace edgellm::chat
