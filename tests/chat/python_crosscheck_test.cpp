// Cross-checks edgellm's chat-template interpreter against Python's jinja2 configured like
// Hugging Face transformers (tests/chat/jinja_reference.py): every case must give the same
// bytes, or fail in both. Covers a generic corpus of constructs, real-world-style templates
// written for these tests, and the real Qwen3 template from ../shared.
#include <gtest/gtest.h>

#include <filesystem>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "chat_test_util.h"
#include "core/error.h"

namespace edgellm::chat {
namespace {

using Json = nlohmann::ordered_json;
using testing::visible;

const std::string kCorpusDir = std::string(EDGELLM_SOURCE_DIR) + "/tests/chat/corpus";

Json default_context() {
  return Json::parse(R"({
    "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    "d": {"a": 1, "b": 2}, "n": 5, "s": "Hello World", "f": 2.5, "xs": [3, 1, 2],
    "nested": {"k": [1, {"z": null}]}, "t": true, "none_val": null})");
}

struct Outcome {
  bool ok = false;
  std::string text;
};

// Compares our outcomes with the reference; returns the number of mismatches.
int compare_all(const std::vector<std::string>& names, const std::vector<Outcome>& ours,
                const std::vector<testing::ReferenceResult>& reference) {
  int mismatches = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const bool same = ours[i].ok == reference[i].ok && (!ours[i].ok || ours[i].text == reference[i].text);
    if (same) continue;
    ++mismatches;
    ADD_FAILURE() << "case '" << names[i] << "' differs\n  python (" << (reference[i].ok ? "ok" : "error") << "):\n"
                  << visible(reference[i].text) << "\n  edgellm (" << (ours[i].ok ? "ok" : "error") << "):\n"
                  << visible(ours[i].text);
  }
  return mismatches;
}

TEST(ChatTemplatePython, GenericConstructCorpus) {
  const auto corpus = testing::load_corpus(kCorpusDir + "/constructs.txt");
  ASSERT_GE(corpus.size(), 50u);
  Json cases = Json::array();
  std::vector<std::string> names;
  std::vector<Outcome> ours;
  for (const auto& c : corpus) {
    const Json context = c.context.is_null() ? default_context() : c.context;
    cases.push_back({{"template", c.template_source}, {"context", context}});
    names.push_back(c.name);
    Outcome o;
    try {
      o.text = ChatTemplate(c.template_source).render(context, testing::fixed_time_options());
      o.ok = true;
    } catch (const Error& e) {
      o.text = e.what();
    }
    ours.push_back(std::move(o));
  }
  std::string why;
  const auto reference = testing::run_python_reference(cases, &why);
  if (!reference) GTEST_SKIP() << why;
  ASSERT_EQ(reference->size(), corpus.size());
  size_t failing = 0;
  for (const auto& r : *reference) failing += r.ok ? 0 : 1;
  EXPECT_GT(failing, 10u) << "the corpus should keep exercising error cases";
  EXPECT_EQ(compare_all(names, ours, *reference), 0);
}

// Renders every conversation in conversations.json with `template_source` through
// apply_chat_template, and the same through Python; returns how many rendered without error
// (the rest must fail in both, e.g. raise_exception on roles a template does not allow).
size_t crosscheck_conversations(const std::string& label, const std::string& template_source,
                                const std::optional<std::string>& bos, const std::optional<std::string>& eos) {
  const Json conversations = Json::parse(testing::read_file(kCorpusDir + "/conversations.json"));
  Json cases = Json::array();
  std::vector<std::string> names;
  std::vector<Outcome> ours;
  for (const auto& conv : conversations) {
    ChatTemplateInputs inputs;
    inputs.messages = conv.at("messages");
    if (conv.contains("tools")) inputs.tools = conv["tools"];
    inputs.add_generation_prompt = conv.value("add_generation_prompt", true);
    inputs.bos_token = bos;
    inputs.eos_token = eos;
    if (conv.contains("kwargs")) inputs.extra_context = conv["kwargs"];
    Json chat = {{"messages", inputs.messages}, {"add_generation_prompt", inputs.add_generation_prompt},
                 {"kwargs", inputs.extra_context}};
    if (inputs.tools) chat["tools"] = *inputs.tools;
    if (bos) chat["bos_token"] = *bos;
    if (eos) chat["eos_token"] = *eos;
    cases.push_back({{"template", template_source}, {"chat", chat}});
    names.push_back(label + "/" + conv.at("name").get<std::string>());
    Outcome o;
    try {
      o.text = apply_chat_template(template_source, inputs, testing::fixed_time_options());
      o.ok = true;
    } catch (const Error& e) {
      o.text = e.what();
    }
    ours.push_back(std::move(o));
  }
  std::string why;
  const auto reference = testing::run_python_reference(cases, &why);
  if (!reference) return 0;
  EXPECT_EQ(reference->size(), names.size());
  EXPECT_EQ(compare_all(names, ours, *reference), 0);
  size_t rendered = 0;
  for (const auto& r : *reference) rendered += r.ok ? 1 : 0;
  return rendered;
}

TEST(ChatTemplatePython, RealWorldStyleTemplates) {
  std::string why;
  if (!testing::run_python_reference(Json::array(), &why)) GTEST_SKIP() << why;
  size_t templates = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpusDir + "/templates")) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string source = testing::read_file(entry.path().string());
    EXPECT_GE(crosscheck_conversations(entry.path().stem().string(), source, "<s>", "</s>"), 15u)
        << entry.path() << " should render most conversations";
    ++templates;
  }
  EXPECT_GE(templates, 3u);
}

TEST(ChatTemplatePython, Qwen3TemplateFromShared) {
  const std::string path = std::string(EDGELLM_SHARED_DIR) + "/tokenizers/hf/qwen3/tokenizer_config.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "reference data not found: " << path;
  std::string why;
  if (!testing::run_python_reference(Json::array(), &why)) GTEST_SKIP() << why;
  const ChatTemplateSource source = load_chat_template_source(path);
  ASSERT_FALSE(source.is_default);
  EXPECT_FALSE(source.bos_token.has_value());
  ASSERT_TRUE(source.eos_token.has_value());
  EXPECT_EQ(*source.eos_token, "<|im_end|>");
  EXPECT_GE(crosscheck_conversations("qwen3", source.source, source.bos_token, source.eos_token), 25u);
}

}  // namespace
}  // namespace edgellm::chat
