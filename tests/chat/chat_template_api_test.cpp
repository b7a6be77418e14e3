// The public API: apply_chat_template's context (as transformers builds it), the default
// template, loading templates from tokenizer_config.json and GGUF files, and the
// `edgellm template` command.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "chat_test_util.h"
#include "core/error.h"
#include "gguf/gguf_writer.h"

namespace edgellm::chat {
namespace {

using Json = nlohmann::ordered_json;

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/edgellm_chat_test_XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ChatTemplateApi, ContextMirrorsTransformers) {
  ChatTemplateInputs inputs;
  inputs.messages = Json::parse(R"([{"role": "user", "content": "hi"}])");
  inputs.bos_token = "<s>";
  inputs.extra_context["enable_thinking"] = false;
  inputs.extra_context["add_generation_prompt"] = false;  // kwargs win, as in Python
  const Json context = make_chat_context(inputs);
  EXPECT_EQ(context.dump(),
            R"({"messages":[{"role":"user","content":"hi"}],"tools":null,"documents":null,)"
            R"("add_generation_prompt":false,"bos_token":"<s>","enable_thinking":false})");
  // tools=None is defined but none; templates test it either way.
  EXPECT_EQ(apply_chat_template("{{ tools is defined }} {{ tools is none }} {{ eos_token is defined }}", inputs),
            "True True False");
  inputs.tools = Json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(apply_chat_template("{{ tools[0].function.name }}", inputs), "f");
}

TEST(ChatTemplateApi, SpelledOutOverload) {
  const Json messages = Json::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(apply_chat_template("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}{{ add_generation_prompt }}{{ x }}",
                                messages, std::nullopt, true, "<s>", "</s>", Json{{"x", 1}}),
            "<s>hi</s>True1");
}

TEST(ChatTemplateApi, DefaultTemplateIsChatMl) {
  ChatTemplateInputs inputs;
  inputs.messages = Json::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])");
  EXPECT_EQ(apply_chat_template(kDefaultChatTemplate, inputs),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  inputs.add_generation_prompt = false;
  EXPECT_EQ(apply_chat_template(kDefaultChatTemplate, inputs),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplateApi, RejectsBadContexts) {
  const ChatTemplate t("x");
  EXPECT_THROW(t.render(Json::array()), Error);
  ChatTemplateInputs inputs;
  inputs.messages = Json::object();
  EXPECT_THROW(make_chat_context(inputs), Error);
}

TEST(ChatTemplateApi, RuntimeErrorsNameThePosition) {
  try {
    ChatTemplate("line 1\n{{ 'ok' }} {{ raise_exception('bad roles') }}").render(Json::object());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("line 2"), std::string::npos) << message;
    EXPECT_NE(message.find("bad roles"), std::string::npos) << message;
  }
}

TEST(ChatTemplateSource, TokenizerConfigForms) {
  auto plain = chat_template_from_tokenizer_config(Json::parse(
      R"({"chat_template": "T", "bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}})"));
  EXPECT_EQ(plain.source, "T");
  EXPECT_FALSE(plain.is_default);
  EXPECT_EQ(plain.bos_token, "<s>");
  EXPECT_EQ(plain.eos_token, "</s>");

  auto named = chat_template_from_tokenizer_config(Json::parse(
      R"({"chat_template": [{"name": "tool_use", "template": "A"}, {"name": "default", "template": "B"}], "bos_token": null})"));
  EXPECT_EQ(named.source, "B");
  EXPECT_FALSE(named.bos_token.has_value());

  auto none = chat_template_from_tokenizer_config(Json::parse(R"({"eos_token": "</s>"})"));
  EXPECT_TRUE(none.is_default);
  EXPECT_EQ(none.source, kDefaultChatTemplate);

  EXPECT_THROW(chat_template_from_tokenizer_config(Json::parse(R"({"chat_template": [{"name": "rag", "template": "A"}]})")),
               Error);
  EXPECT_THROW(chat_template_from_tokenizer_config(Json::parse(R"({"chat_template": 5})")), Error);
  EXPECT_THROW(chat_template_from_tokenizer_config(Json::parse(R"({"chat_template": "T", "bos_token": 3})")), Error);
}

TEST(ChatTemplateSource, LoadsFilesAndSiblingJinja) {
  TempDir dir;
  const std::string config = dir.file("tokenizer_config.json", R"({"eos_token": "</s>"})");
  EXPECT_TRUE(load_chat_template_source(config).is_default);
  dir.file("chat_template.jinja", "{{ messages | length }}");
  const auto with_sibling = load_chat_template_source(config);
  EXPECT_FALSE(with_sibling.is_default);
  EXPECT_EQ(with_sibling.source, "{{ messages | length }}");
  EXPECT_THROW(load_chat_template_source(dir.file("bad.json", "{not json")), Error);
  EXPECT_THROW(load_chat_template_source(dir.path() + "/missing.json"), Error);
}

TEST(ChatTemplateSource, ReadsGguf) {
  TempDir dir;
  gguf::GgufWriter writer;
  writer.set_string("general.architecture", "llama");
  writer.set_string("tokenizer.chat_template", "{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}");
  writer.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "hi"});
  writer.set_u32("tokenizer.ggml.bos_token_id", 1);
  writer.set_u32("tokenizer.ggml.eos_token_id", 2);
  const std::string path = dir.path() + "/model.gguf";
  writer.write_file(path);
  const ChatTemplateSource source = load_chat_template_source(path);
  EXPECT_FALSE(source.is_default);
  EXPECT_EQ(source.bos_token, "<s>");
  EXPECT_EQ(source.eos_token, "</s>");
  ChatTemplateInputs inputs;
  inputs.messages = Json::parse(R"([{"role": "user", "content": "hi"}])");
  inputs.bos_token = source.bos_token;
  inputs.eos_token = source.eos_token;
  EXPECT_EQ(apply_chat_template(source.source, inputs), "<s>[hi]</s>");

  gguf::GgufWriter bare;
  bare.set_string("general.architecture", "llama");
  bare.set_string_array("tokenizer.ggml.tokens", {"a"});
  bare.set_u32("tokenizer.ggml.eos_token_id", 7);  // out of range: a clear error
  bare.write_file(dir.path() + "/bare.gguf");
  EXPECT_THROW(load_chat_template_source(dir.path() + "/bare.gguf"), Error);
}

// Runs the CLI; returns its exit status and fills stdout/stderr.
int run_cli(const std::string& args, std::string* out, std::string* err, const TempDir& dir) {
  const std::string err_path = dir.path() + "/stderr.txt";
  const std::string command = std::string(EDGELLM_CLI) + " template " + args + " 2>" + err_path;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  out->clear();
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out->append(buf, n);
  const int status = pclose(pipe);
  *err = testing::read_file(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ChatTemplateCli, RendersExactlyAndReportsTheDefault) {
  TempDir dir;
  const std::string messages = dir.file("m.json", R"([{"role": "user", "content": "Hi"}])");
  const std::string config = dir.file(
      "tokenizer_config.json",
      R"({"chat_template": "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<bot>{% endif %}{{ flag }}", "eos_token": "</s>"})");
  std::string out;
  std::string err;
  ASSERT_EQ(run_cli("-m " + config + " --messages " + messages, &out, &err, dir), 0) << err;
  EXPECT_EQ(out, "<user>Hi<bot>");
  EXPECT_EQ(err, "");
  ASSERT_EQ(run_cli("-m " + config + " --messages " + messages + " --no-generation-prompt --var flag=true", &out, &err, dir),
            0);
  EXPECT_EQ(out, "<user>HiTrue");

  const std::string plain = dir.file("plain_config.json", R"({"eos_token": "</s>"})");
  ASSERT_EQ(run_cli("-m " + plain + " --messages " + messages, &out, &err, dir), 0) << err;
  EXPECT_EQ(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_NE(err.find("default ChatML template"), std::string::npos) << err;

  const std::string tools = dir.file("tools.json", R"([{"type": "function", "function": {"name": "f"}}])");
  const std::string tmpl = dir.file("t.jinja", "{{ tools | map(attribute='function.name') | join }}\n");
  ASSERT_EQ(run_cli("--chat-template " + tmpl + " --messages " + messages + " --tools " + tools, &out, &err, dir), 0)
      << err;
  EXPECT_EQ(out, "f");
}

TEST(ChatTemplateCli, ErrorsExitNonZeroWithAMessage) {
  TempDir dir;
  const std::string messages = dir.file("m.json", R"([{"role": "user", "content": "Hi"}])");
  const std::string bad = dir.file("bad.jinja", "{% for x in y %}");
  std::string out;
  std::string err;
  EXPECT_NE(run_cli("--chat-template " + bad + " --messages " + messages, &out, &err, dir), 0);
  EXPECT_NE(err.find("endfor"), std::string::npos) << err;
  EXPECT_NE(run_cli("--chat-template " + bad + " --messages " + messages + " --var novalue", &out, &err, dir), 0);
  EXPECT_NE(err.find("KEY=JSON"), std::string::npos) << err;
  EXPECT_NE(run_cli("--messages " + messages, &out, &err, dir), 0);
  EXPECT_NE(err.find("-m"), std::string::npos) << err;
}

}  // namespace
}  // namespace edgellm::chat
