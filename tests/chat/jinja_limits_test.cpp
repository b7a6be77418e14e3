// Hostile templates and inputs: every one must end quickly with a clear edgellm::Error, never
// hang, crash or exhaust memory. Also a small deterministic fuzz loop over token soup.
#include <ctime>
#include <random>
#include <thread>

#include "jinja_test_helpers.h"

namespace edgellm::chat {
namespace {

using testing::render;
using testing::render_error;

// Runs `source` and expects an error containing `fragment` within a few CPU seconds (CPU
// time, not wall time, so a busy machine does not make the test flaky; generous enough for
// sanitizer builds, far below what a hang would take).
void expect_fast_error(const std::string& source, const std::string& fragment, std::string_view context = "{}",
                       RenderOptions options = testing::fixed_time_options()) {
  const std::clock_t start = std::clock();
  const std::string message = render_error(source, context, options);
  const double cpu_seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  EXPECT_NE(message, "") << "expected an error for: " << source.substr(0, 200);
  EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message;
  EXPECT_LT(cpu_seconds, 5.0) << "took too long: " << source.substr(0, 200);
}

TEST(JinjaLimits, HugeRangeIsRefusedLikeTheSandbox) {
  expect_fast_error("{% for i in range(10**9) %}{{ i }}{% endfor %}", "Range too big");
  expect_fast_error("{{ range(-9223372036854775807, 9223372036854775807) | length }}", "Range too big");
}

TEST(JinjaLimits, TotalLoopIterationsAreBounded) {
  expect_fast_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
                    "iterations in total");
  RenderOptions tight = testing::fixed_time_options();
  tight.limits.max_loop_iterations = 10;
  EXPECT_EQ(render("{% for i in range(10) %}{{ i }}{% endfor %}", "{}", tight), "0123456789");
  expect_fast_error("{% for i in range(11) %}{% endfor %}", "more than 10 iterations", "{}", tight);
}

TEST(JinjaLimits, MacroRecursionIsBounded) {
  expect_fast_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursively more than");
  expect_fast_error("{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n + 1) }}{% endmacro %}{{ a(0) }}",
                    "recursively more than");
  // Deep recursion through nested statements still stops at the evaluation depth limit.
  expect_fast_error("{% macro f(n) %}{% if true %}{% for x in [1] %}{% if true %}{{ f(n) }}{% endif %}{% endfor %}"
                    "{% endif %}{% endmacro %}{{ f(1) }}",
                    "too deep");
}

TEST(JinjaLimits, DeepNestingInTheSourceIsRefused) {
  expect_fast_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "nested too deeply");
  expect_fast_error("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}", "nested too deeply");
  expect_fast_error("{{ " + std::string(5000, '-') + "1 }}", "nested too deeply");
  expect_fast_error("{{ x" + std::string(20000, '|') + " }}", "expected a name");
  std::string ifs;
  for (int i = 0; i < 3000; ++i) ifs += "{% if true %}";
  expect_fast_error(ifs, "nested too deeply");
  std::string nots = "{{ ";
  for (int i = 0; i < 3000; ++i) nots += "not ";
  expect_fast_error(nots + "1 }}", "nested too deeply");
}

TEST(JinjaLimits, HugeStringsAreRefusedBeforeAllocation) {
  expect_fast_error("{{ 'a' * 10**9 }}", "byte output limit");
  expect_fast_error("{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                    "byte output limit");
  expect_fast_error("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                    "byte output limit");
  expect_fast_error("{{ ('x' * 1000000) | replace('x', 'yyyyyyyyyyyyyyyyyyyy') }}", "limit");
  expect_fast_error("{{ [('x' * 1000000)] * 100 }}", "limit");
  expect_fast_error("{{ ([('x' * 1000000)] * 100) | tojson }}", "limit");
  expect_fast_error("{{ 'x'.center(10**12) }}", "limit");
}

TEST(JinjaLimits, OutputSizeIsBounded) {
  expect_fast_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "rendered output exceeds");
  RenderOptions tight = testing::fixed_time_options();
  tight.limits.max_output_bytes = 100;
  EXPECT_EQ(render("{{ 'x' * 100 }}", "{}", tight), std::string(100, 'x'));
  expect_fast_error("{{ 'x' * 60 }}{{ 'y' * 60 }}", "exceeds the 100 byte limit", "{}", tight);
}

TEST(JinjaLimits, WorkAndNestingOfCreatedDataAreBounded) {
  RenderOptions tight = testing::fixed_time_options();
  tight.limits.max_work_bytes = 8u << 20;
  expect_fast_error("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
                    "too much work", "{}", tight);
  // With the default budget, one oversized repetition is refused before it is allocated.
  expect_fast_error("{% set ns = namespace(l=[]) %}{% for i in range(2000) %}{% set ns.l = [ns.l] %}{% endfor %}",
                    "nested more than");
  expect_fast_error("{% set l = [0] * 100000 %}{% for i in range(100) %}{{ (l * 100) | length }}{% endfor %}",
                    "too much work");
}

TEST(JinjaLimits, DeeplyNestedJsonInputIsRefused) {
  const std::string deep = std::string(2000, '[') + std::string(2000, ']');
  expect_fast_error("{{ x }}", "nested more than", "{\"x\": " + deep + "}");
}

TEST(JinjaLimits, OversizedTemplateSourceIsRefused) {
  expect_fast_error(std::string(5u << 20, 'x'), "byte limit");
}

TEST(JinjaLimits, StrftimeFormatIsBounded) {
  expect_fast_error("{{ strftime_now('%c' * 2000) }}", "too long");
  EXPECT_EQ(render("{{ strftime_now('') }}|{{ strftime_now('%%') }}"), "|%");
}

TEST(JinjaLimits, ConcurrentRendersShareOneParsedTemplate) {
  const ChatTemplate tmpl("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m | length %}"
                          "{% endfor %}{{ ns.n }}");
  const auto context = nlohmann::ordered_json::parse(R"({"messages": ["ab", "cde", "f"]})");
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) results[t] = tmpl.render(context);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& r : results) EXPECT_EQ(r, "6");
}

// Token soup: random mixes of Jinja fragments must either render or throw edgellm::Error.
TEST(JinjaLimits, RandomTokenSoupNeverCrashes) {
  static const char* kPieces[] = {
      "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "if", "for", "in", "endif", "endfor", "else", "set",
      "macro", "endmacro", "x", "loop.index", "(", ")", "[", "]", "{", "}", "'s'", "\"q\"", "1", "2.5", "|",
      "upper", "tojson", "length", "+", "-", "*", "/", "//", "%", "**", "~", ",", ":", ".", "=", "==", "not",
      "and", "or", "is", "defined", "none", "range(3)", "ns", "namespace()", " ", "\n", "raw", "endraw",
      "break", "continue", "messages", "m.content", "[::-1]", "\\", "é", "\t", "x(", "caller", "with",
  };
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> piece(0, std::size(kPieces) - 1);
  std::uniform_int_distribution<int> length(1, 40);
  int rendered = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string source;
    for (int n = length(rng); n > 0; --n) source += kPieces[piece(rng)];
    try {
      render(source, R"({"x": [1, 2], "messages": [{"content": "c"}]})");
      ++rendered;
    } catch (const Error&) {
      // a clear error is fine
    }
  }
  EXPECT_GT(rendered, 100);  // the soup is not all syntax errors
}

}  // namespace
}  // namespace edgellm::chat
