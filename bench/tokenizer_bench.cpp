// Encode/decode speed on ~4 MB of deterministic mixed English / Chinese / code text, with the
// real vocabularies from ../shared (Qwen3 tokenizer.json, gpt-2 and deepseek-llm GGUFs,
// TinyStories). Run: build/bench/tokenizer_bench  (bytes_per_second is the encode speed).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"

namespace {

using edgellm::Tokenizer;

// ../shared beside the repository (found from this source file's path), or $EDGELLM_SHARED_DIR.
std::string shared_dir() {
  if (const char* env = std::getenv("EDGELLM_SHARED_DIR")) return env;
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "shared").string();
}
const std::string kShared = shared_dir();

std::string make_mixed_text(size_t target_bytes) {
  static const std::vector<std::string> english = {
      "the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as",
      "with", "his", "they", "I", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word",
      "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there", "use", "an",
      "each", "which", "she", "do", "how", "their", "if", "will", "up", "other", "about", "out", "many",
      "then", "them", "these", "so", "some", "her", "would", "make", "like", "him", "into", "time", "has",
      "look", "two", "more", "write", "go", "see", "number", "no", "way", "could", "people", "my", "than",
      "first", "water", "been", "call", "who", "oil", "its", "now", "find", "long", "down", "day", "did",
      "get", "come", "made", "may", "part", "tokenizer", "benchmark", "Llama", "Qwen", "don't", "it's"};
  static const std::vector<std::string> chinese = {
      "我们", "你好", "世界", "今天", "天气", "很好", "模型", "语言", "学习", "数据", "计算", "中国", "时间",
      "问题", "可以", "没有", "因为", "所以", "但是", "一个", "这个", "那个", "什么", "自己", "知道", "工作",
      "系统", "开发", "程序", "人工智能", "大型", "推理", "速度", "测试", "文本", "，", "。", "！", "？", "、"};
  static const std::vector<std::string> code = {
      "for (int i = 0; i < n; ++i) {\n", "  sum += values[i] * weights[i];\n", "}\n",
      "def tokenize(text: str) -> list[int]:\n", "    return [vocab[t] for t in text.split()]\n",
      "if (x != nullptr && x->next) {\n", "    std::vector<int32_t> ids;\n", "#include <string>\n",
      "const auto it = map.find(key);\n", "  // TODO: handle the error case\n", "return 0;\n",
      "    x = 0x1F2E; y = 3.14159; z = \"hello\";\n", "\t\treturn self.cache[key]\n"};
  std::mt19937 rng(12345);
  const auto pick = [&](const std::vector<std::string>& v) -> const std::string& {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  std::string text;
  text.reserve(target_bytes + 1024);
  while (text.size() < target_bytes) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    if (kind < 5) {  // an English sentence
      const int n = std::uniform_int_distribution<int>(5, 20)(rng);
      std::string sentence = pick(english);
      sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
      for (int i = 1; i < n; ++i) sentence.append(i % 7 == 6 ? ", " : " ").append(pick(english));
      if (kind == 0) sentence.append(" ").append(std::to_string(std::uniform_int_distribution<int>(0, 99999)(rng)));
      text.append(sentence).append(kind == 1 ? "?\n" : ". ");
    } else if (kind < 8) {  // a Chinese sentence
      const int n = std::uniform_int_distribution<int>(6, 30)(rng);
      for (int i = 0; i < n; ++i) text += pick(chinese);
      text += "。\n";
    } else {  // a few lines of code
      const int n = std::uniform_int_distribution<int>(2, 8)(rng);
      for (int i = 0; i < n; ++i) text += pick(code);
    }
  }
  return text;
}

const std::string& mixed_text() {
  static const std::string text = make_mixed_text(4 << 20);
  return text;
}

template <typename Load>
// Encodes `text` (the mixed text by default) with the tokenizer at `path`; `make_text` may build
// the text from the loaded tokenizer.
void bench_encode(benchmark::State& state, const std::string& path, Load load,
                  std::string (*make_text)(const Tokenizer&) = nullptr) {
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("absent: " + path).c_str());
    return;
  }
  const Tokenizer tokenizer = load(path);
  const std::string text = make_text != nullptr ? make_text(tokenizer) : mixed_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    const auto ids = tokenizer.encode(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

// The mixed text repeats a few hundred words, so most pieces come from the encoder's piece cache.
// This one does not: ~2 MB of Chinese "sentences" of the vocabulary's own CJK tokens (one to four
// characters, drawn uniformly), so nearly every sentence is a new long piece for the BPE merge.
std::string make_vocabulary_chinese(const Tokenizer& tokenizer, size_t target_bytes) {
  std::vector<std::string> words;
  for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
    const std::string piece = tokenizer.token_to_piece(id);
    if (piece.empty() || piece.size() % 3 != 0 || piece.size() > 12) continue;
    bool cjk = true;  // every character a 3-byte sequence in U+4E00..U+9FA5
    for (size_t i = 0; i < piece.size() && cjk; i += 3) {
      const auto b0 = static_cast<uint8_t>(piece[i]), b1 = static_cast<uint8_t>(piece[i + 1]);
      const uint32_t cp = (b0 & 0x0Fu) << 12 | (b1 & 0x3Fu) << 6 | (static_cast<uint8_t>(piece[i + 2]) & 0x3Fu);
      cjk = (b0 & 0xF0) == 0xE0 && cp >= 0x4E00 && cp <= 0x9FA5;
    }
    if (cjk) words.push_back(piece);
  }
  std::mt19937 rng(777);
  std::string text;
  while (text.size() < target_bytes && !words.empty()) {
    for (int n = std::uniform_int_distribution<int>(5, 40)(rng); n > 0; --n) {
      text += words[std::uniform_int_distribution<size_t>(0, words.size() - 1)(rng)];
    }
    text += std::uniform_int_distribution<int>(0, 2)(rng) == 0 ? "\xe3\x80\x82\n" : "\xef\xbc\x8c";  // "。\n" or "，"
  }
  return text;
}

Tokenizer load_json(const std::string& path) { return edgellm::load_tokenizer_file(path); }
Tokenizer load_gguf(const std::string& path) {
  const auto file = edgellm::gguf::GgufFile::open(path);
  return Tokenizer::from_gguf(file);
}

void BM_EncodeQwen3Json(benchmark::State& state) {
  bench_encode(state, kShared + "/tokenizers/hf/qwen3/tokenizer.json", load_json);
}
void BM_EncodeGpt2Gguf(benchmark::State& state) {
  bench_encode(state, kShared + "/tokenizers/vocab-tests/ggml-vocab-gpt-2.gguf", load_gguf);
}
void BM_EncodeDeepseekLlmGguf(benchmark::State& state) {
  bench_encode(state, kShared + "/tokenizers/vocab-tests/ggml-vocab-deepseek-llm.gguf", load_gguf);
}
void BM_EncodeDeepseekLlmVocabChinese(benchmark::State& state) {
  bench_encode(state, kShared + "/tokenizers/vocab-tests/ggml-vocab-deepseek-llm.gguf", load_gguf,
               [](const Tokenizer& tokenizer) { return make_vocabulary_chinese(tokenizer, 2 << 20); });
}
void BM_EncodeTinyStoriesSpm(benchmark::State& state) {
  bench_encode(state, kShared + "/models/tinystories-656k/tokenizer.json", load_json);
}

void BM_DecodeQwen3(benchmark::State& state) {
  const std::string path = kShared + "/tokenizers/hf/qwen3/tokenizer.json";
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("absent: " + path).c_str());
    return;
  }
  const Tokenizer tokenizer = load_json(path);
  const auto ids = tokenizer.encode(mixed_text(), false);
  for (auto _ : state) {
    const std::string text = tokenizer.decode(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * mixed_text().size()));
}

BENCHMARK(BM_EncodeQwen3Json)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeGpt2Gguf)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeDeepseekLlmGguf)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeDeepseekLlmVocabChinese)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_EncodeTinyStoriesSpm)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_DecodeQwen3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
