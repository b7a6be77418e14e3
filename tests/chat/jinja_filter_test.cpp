// Filters, tests and str/list/dict methods, with the outputs Jinja2 gives.
#include "jinja_test_helpers.h"

namespace edgellm::chat {
namespace {

using testing::render;

constexpr const char* kContext = R"({
  "d": {"a": 1, "b": 2}, "xs": [3, 1, 2], "s": "Hello World",
  "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";

TEST(JinjaFilters, TextCase) {
  EXPECT_EQ(render("{{ s | upper }}|{{ s | lower }}|{{ 'hELLO wORLD' | capitalize }}", kContext),
            "HELLO WORLD|hello world|Hello world");
  // Jinja's title splits on '-', whitespace and brackets; str.title() splits on any non-letter.
  EXPECT_EQ(render("{{ 'hello world-foo bar(baz)' | title }}|{{ \"they're bill's\" | title }}|{{ \"they're\".title() }}"),
            "Hello World-Foo Bar(Baz)|They're Bill's|They'Re");
}

TEST(JinjaFilters, TrimReplaceIndent) {
  EXPECT_EQ(render("[{{ '  pad  ' | trim }}][{{ 'xxaxx' | trim('x') }}][{{ s | replace('o', '0') }}][{{ 'aaa' | replace('a', 'b', 2) }}]",
                   kContext),
            "[pad][a][Hell0 W0rld][bba]");
  EXPECT_EQ(render("{{ '  a\\n b\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}"),
            "  a\n   b\n\n  c|  a\n  b|a\n  \n  b");
  EXPECT_EQ(render("{{ 'x\\ny' | indent('> ') }}"), "x\n> y");
}

TEST(JinjaFilters, LengthFirstLastJoin) {
  EXPECT_EQ(render("{{ xs | length }} {{ s | count }} {{ d | length }} {{ 'héllo' | length }}", kContext), "3 11 2 5");
  EXPECT_EQ(render("{{ xs | first }} {{ xs | last }} {{ 'abc' | first }} {{ d | first }} [{{ [] | first }}]", kContext),
            "3 2 a a []");
  EXPECT_EQ(render("{{ xs | join }}|{{ xs | join(', ') }}|{{ [1, 'b', none] | join('-') }}|{{ msgs | join(',', attribute='role') }}",
                   kContext),
            "312|3, 1, 2|1-b-None|user,assistant");
}

TEST(JinjaFilters, Default) {
  EXPECT_EQ(render("{{ missing | default('d1') }}|{{ missing | d('d2') }}|{{ '' | default('e') }}|{{ '' | default('e', true) }}"
                   "|{{ none | default('n') }}|{{ 0 | default(5, boolean=true) }}"),
            "d1|d2||e|None|5");
}

TEST(JinjaFilters, SortUniqueDictsort) {
  EXPECT_EQ(render("{{ xs | sort }} {{ xs | sort(reverse=true) }} {{ ['b', 'A', 'a', 'B'] | sort }} "
                   "{{ ['b', 'A', 'a', 'B'] | sort(case_sensitive=true) }}",
                   kContext),
            "[1, 2, 3] [3, 2, 1] ['A', 'a', 'b', 'B'] ['A', 'B', 'a', 'b']");
  EXPECT_EQ(render("{{ [{'n': 'b', 'a': 2}, {'n': 'a', 'a': 2}, {'n': 'c', 'a': 1}] | sort(attribute='a,n') | map(attribute='n') | join }}"),
            "cab");
  EXPECT_EQ(render("{{ [1, 2, 2, 'a', 'A', 1.0] | unique | list }} {{ ['a', 'A'] | unique(case_sensitive=true) | list }}"),
            "[1, 2, 'a'] ['a', 'A']");
  EXPECT_EQ(render("{{ {'b': 1, 'A': 2, 'a': 0} | dictsort }}{{ {'b': 1, 'A': 2, 'a': 0} | dictsort(by='value', reverse=true) }}"),
            "[('A', 2), ('a', 0), ('b', 1)][('A', 2), ('b', 1), ('a', 0)]");
  EXPECT_RENDER_ERROR("{{ [1, 'a'] | sort }}", "{}", "'<' not supported");
}

TEST(JinjaFilters, MapSelectReject) {
  EXPECT_EQ(render("{{ msgs | map(attribute='role') | list }} {{ [{'a': 1}, {}] | map(attribute='a', default='?') | list }} "
                   "{{ ['a', 'b'] | map('upper') | join }}",
                   kContext),
            "['user', 'assistant'] [1, '?'] AB");
  EXPECT_EQ(render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ [0, 1, '', 'x'] | select | list }}"),
            "[1, 3] [1, 3] [1, 'x']");
  EXPECT_EQ(render("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} "
                   "{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }} "
                   "{{ [{'a': 0}, {'a': 2}] | selectattr('a') | list }}",
                   kContext),
            "['hi'] ['assistant'] [{'a': 2}]");
}

TEST(JinjaFilters, GeneratorsAreOneShotAndAlwaysTrue) {
  EXPECT_EQ(render("{% set g = [1, 2, 3] | select('odd') %}{{ g | list }}{{ g | list }}"
                   "{% if [1] | reject('odd') %}T{% endif %}"),
            "[1, 3][]T");
  EXPECT_RENDER_ERROR("{{ [1, 2] | select | length }}", "{}", "object of type 'generator' has no len()");
}

TEST(JinjaFilters, ReverseListItemsBatchSliceGroupby) {
  EXPECT_EQ(render("{{ xs | reverse | list }} {{ 'abc' | reverse }} {{ d | reverse | list }}", kContext),
            "[2, 1, 3] cba ['b', 'a']");
  EXPECT_EQ(render("{{ 'ab' | list }} {{ d | list }} {{ d | items | list }} {{ missing | items | list }}", kContext),
            "['a', 'b'] ['a', 'b'] [('a', 1), ('b', 2)] []");
  EXPECT_EQ(render("{{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ ['a', 'b'] | batch(3, 'x') | list }} "
                   "{{ [1, 2, 3, 4, 5, 6, 7] | slice(3, 0) | list }}"),
            "[[1, 2], [3, 4], [5]] [['a', 'b', 'x']] [[1, 2, 3], [4, 5, 0], [6, 7, 0]]");
  EXPECT_EQ(render("{% for g in [{'n': 'a', 'g': 'X'}, {'n': 'b', 'g': 'x'}, {'n': 'c', 'g': 'Y'}] | groupby('g') %}"
                   "{{ g.grouper }}:{{ g.list | map(attribute='n') | join }};{% endfor %}"),
            "X:ab;Y:c;");
}

TEST(JinjaFilters, Numbers) {
  EXPECT_EQ(render("{{ -3 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ -2.5 | round }} {{ 2.567 | round(2) }} "
                   "{{ 2.5 | round(0, 'floor') }} {{ 2.1 | round(method='ceil') }} {{ 7 | round }}"),
            "3 2.0 4.0 -2.0 2.57 2.0 3.0 7");
  EXPECT_EQ(render("{{ '3.7' | int }} {{ 'x' | int }} {{ 'x' | int(-1) }} {{ '0x1f' | int(base=16) }} {{ ' 12 ' | int }} "
                   "{{ 3.9 | int }} {{ none | int }} {{ true | int }}"),
            "3 0 -1 31 12 3 0 1");
  EXPECT_EQ(render("{{ 3 | float }} {{ '12' | float }} {{ 'abc' | float(1) }} {{ '1e3' | float }}"), "3.0 12.0 1 1000.0");
  EXPECT_EQ(render("{{ xs | sum }} {{ [1.5, 2] | sum(start=1) }} {{ xs | min }} {{ xs | max }} {{ ['b', 'A'] | min }}", kContext),
            "6 4.5 1 3 A");
  EXPECT_RENDER_ERROR("{{ missing | int }}", "{}", "'missing' is undefined");
}

TEST(JinjaFilters, StringConversionsAndEscaping) {
  EXPECT_EQ(render("{{ 3 | string }}{{ none | string }}{{ [1] | string }}|{{ 'a<b>&\"\\'' | e }}|{{ '<x>' | safe }}"),
            "3None[1]|a&lt;b&gt;&amp;&#34;&#39;|<x>");
  EXPECT_EQ(render("{{ 'hello world foo bar' | truncate(9) }}|{{ 'hello world foo bar' | truncate(9, true) }}|"
                   "{{ 'one two, three_4' | wordcount }}|{{ 'x' | center(5) }}|"),
            "hello...|hello ...|3|  x  |");
  EXPECT_EQ(render("{{ '%s-%d' | format('x', 3) }}|{{ '%(a)s/%(b)05.1f' | format(a='A', b=2.25) }}|{{ '%5s|%-4d|%x' % ('ab', 7, 255) }}"),
            "x-3|A/002.2|   ab|7   |ff");
}

TEST(JinjaFilters, ToJsonMatchesJsonDumps) {
  EXPECT_EQ(render(R"({{ {'a': [1, 2.0, none, true, "é\n\"\u0001/"], 'b': {}} | tojson }})"),
            R"({"a": [1, 2.0, null, true, "é\n\"\u0001/"], "b": {}})");
  EXPECT_EQ(render("{{ {'a': [1, {'c': []}], 'b': {}} | tojson(indent=2) }}"),
            "{\n  \"a\": [\n    1,\n    {\n      \"c\": []\n    }\n  ],\n  \"b\": {}\n}");
  EXPECT_EQ(render("{{ [1, 2] | tojson(separators=(',', ':')) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"),
            "[1,2]|{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(render("{{ 'é😀' | tojson(ensure_ascii=true) }}|{{ 1e100 | tojson }}|{{ (1, 2) | tojson }}|{{ {1: 'x'} | tojson }}"),
            "\"\\u00e9\\ud83d\\ude00\"|1e+100|[1, 2]|{\"1\": \"x\"}");
  // The first positional argument of HF's tojson is ensure_ascii, not indent.
  EXPECT_EQ(render("{{ ['é'] | tojson(2) }}"), "[\"\\u00e9\"]");
}

TEST(JinjaTests, TypeTests) {
  EXPECT_EQ(render("{{ missing is defined }} {{ missing is undefined }} {{ none is none }} {{ 1 is number }} "
                   "{{ true is number }} {{ true is integer }} {{ 1 is integer }} {{ 1.0 is float }} {{ 'a' is string }} "
                   "{{ {} is mapping }} {{ [] is mapping }} {{ true is boolean }} {{ 1 is boolean }}"),
            "False True True True True False True True True True False True False");
  EXPECT_EQ(render("{{ {} is iterable }} {{ 'a' is sequence }} {{ 1 is iterable }} {{ missing is iterable }} "
                   "{{ ([] | select) is sequence }} {{ range is callable }} {{ 'x' is callable }}"),
            "True True False True False True False");
}

TEST(JinjaTests, ValueTests) {
  EXPECT_EQ(render("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is in [1] }} "
                   "{{ 1 is eq 1 }} {{ 2 is equalto 3 }} {{ 2 is ne 3 }} {{ 2 is lt 3 }} {{ 2 is gt(3) }} {{ 2 is ge 2 }}"),
            "True True True False True True False True True False True");
  EXPECT_EQ(render("{{ true is true }} {{ 1 is true }} {{ none is false }} {{ false is false }} {{ 'abc' is lower }} "
                   "{{ 'ABC' is upper }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ 5 is not none }} {{ 5 is not string }}"),
            "True False False True True True True True True True");
}

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(render("{{ 'a b  c'.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b,c'.split(',', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}"
                   "{{ '  a b  '.split(None, 1) }}{{ 'a\\nb\\r\\nc\\n'.splitlines() }}"),
            "['a', 'b', 'c']['a', 'b', '', 'c']['a', 'b,c']['a,b', 'c']['a', 'b  ']['a', 'b', 'c']");
  EXPECT_EQ(render("{{ s.startswith('Hell') }} {{ s.endswith('x') }} {{ s.startswith(('x', 'H')) }} {{ s.find('o') }} "
                   "{{ s.rfind('o') }} {{ s.find('z') }} {{ s.count('o') }} {{ 'héllo'.find('l') }}",
                   kContext),
            "True False True 4 7 -1 2 2");
  EXPECT_EQ(render("[{{ 'xxaxx'.strip('x') }}][{{ '  x'.lstrip() }}][{{ 'x\\n\\n'.rstrip('\\n') }}] {{ 'aXbXc'.replace('X', '-', 1) }} "
                   "{{ 'ab'.replace('', '.') }} {{ ', '.join(['a', 'b']) }}"),
            "[a][x][x] a-bXc .a.b. a, b");
  EXPECT_EQ(render("{{ '{} and {}'.format('x', 'y') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='Z') }} "
                   "{{ '{:>5}|{:.3f}|{:,}|{:08.2f}'.format('ab', 3.14159, 1234567, -3.14159) }}"),
            "x and y aba Z!    ab|3.142|1,234,567|-0003.14");
  EXPECT_EQ(render("{{ '42'.zfill(5) }} {{ 'ab'.center(7, '*') }} {{ '123'.isdigit() }} {{ 'a=b=c'.partition('=') }}"),
            "00042 ***ab** True ('a', '=', 'b=c')");
  EXPECT_RENDER_ERROR("{{ 'abc'.index('z') }}", "{}", "substring not found");
  EXPECT_RENDER_ERROR("{{ 'abc'.nosuch() }}", "{}", "has no attribute 'nosuch'");
}

TEST(JinjaMethods, DictAndListMethods) {
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('zz', 'fallback') }} {{ d.get('zz') }} {{ d.keys() | list }} "
                   "{{ d.values() | list }} {{ d.items() | list }}",
                   kContext),
            "1 fallback None ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]");
  EXPECT_EQ(render("{{ xs.index(1) }} {{ xs.count(3) }} {{ (1, 2, 2).count(2) }} {{ xs.copy() }}", kContext),
            "1 1 2 [3, 1, 2]");
}

}  // namespace
}  // namespace edgellm::chat
