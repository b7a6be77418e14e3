#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace edgellm::tok {

namespace {

// The regexes are those of the reference tokenizers (GPT-2's, Llama 3's, Qwen2's, DeepSeek's
// tokenizer.json, as adapted by llama.cpp: case-insensitive contractions spelled out).
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2NoTrailingSpace =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr std::string_view kContractions =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM's letter class: the cased letters of Unicode (as in its tokenizer.json).
constexpr std::string_view kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr std::string_view kDeepseekPunctuation =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr std::string_view kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
constexpr std::string_view kDeepseek3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Hugging Face pre-tokenizer steps that are not Split regexes, in the canonical form of
// canonical_hf_steps() below.
constexpr std::string_view kHfPunctuation = "<Punctuation>";
constexpr std::string_view kHfDigitRuns = R"(\p{N}+)";

struct SpecEntry {
  PreTokenizerSpec spec;
  std::vector<std::string_view> hf_steps;  // when the tokenizer.json form differs from `regexes`
};

const std::vector<SpecEntry>& spec_table() {
  static const std::vector<SpecEntry> table = {
      {{{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2NoTrailingSpace, R"(\p{N}+)", "[0-9][0-9][0-9]"}}, {}},
      {{{"gpt-2", "mpt", "olmo", "phi-2", "jais"}, {kGpt2}}, {}},
      {{{"llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral"}, {kLlama3}, true}, {}},
      {{{"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, {kLlama3}}, {}},
      {{{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"}, {kQwen2}}, {}},
      {{{"deepseek-llm"},
        {R"([\r\n])", kDeepseekLetters, kDeepseekPunctuation, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"}},
       {}},
      {{{"deepseek-coder"}, {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}}, {}},
      {{{"deepseek-v3"}, {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)", kDeepseek3Main}},
       {}},
      {{{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2NoTrailingSpace, "[0-9][0-9][0-9]"}},
       {kHfPunctuation, kGpt2, kHfDigitRuns, "[0-9][0-9][0-9]"}},
      {{{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
        {R"(\p{N})", kGpt2}},
       {}},
      {{{"poro-chat", "bloom", "gpt3-finnish"}, {R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)"}}, {}},
  };
  return table;
}

}  // namespace

std::string supported_pre_tokenizer_names() {
  std::string names;
  for (const auto& entry : spec_table()) {
    for (const auto name : entry.spec.names) {
      if (!names.empty()) names += ", ";
      names += name;
    }
  }
  return names;
}

const PreTokenizerSpec& find_pre_tokenizer(std::string_view name) {
  for (const auto& entry : spec_table()) {
    for (const auto n : entry.spec.names) {
      if (n == name) return entry.spec;
    }
  }
  fail("unknown pre-tokenizer {:?} (tokenizer.ggml.pre); supported: {}", name, supported_pre_tokenizer_names());
}

namespace {

// One comparable spelling for a regex: CR/LF characters as escapes, non-ASCII characters as
// \x{HEX}, the case-insensitive contraction group as explicit classes.
std::string canonical_regex(std::string_view regex) {
  std::string out;
  size_t pos = 0;
  while (pos < regex.size()) {
    size_t length = 0;
    const uint32_t cp = unicode::decode_utf8(regex, pos, &length);
    if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp != unicode::kInvalid && cp >= 0x80) {
      out += fmt::format("\\x{{{:X}}}", cp);
    } else {
      out.append(regex.substr(pos, length));
    }
    pos += length;
  }
  constexpr std::string_view kInsensitive = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
  for (size_t at = out.find(kInsensitive); at != std::string::npos; at = out.find(kInsensitive, at)) {
    out.replace(at, kInsensitive.size(), kContractions);
    at += kContractions.size();
  }
  return out;
}

void canonical_hf_steps(const nlohmann::json& node, std::vector<std::string>& steps) {
  if (node.is_null()) return;
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) {
    fail("tokenizer.json: pre_tokenizer entry without a \"type\": {}", node.dump().substr(0, 200));
  }
  const std::string type = node["type"];
  if (type == "Sequence") {
    if (!node.contains("pretokenizers") || !node["pretokenizers"].is_array()) {
      fail("tokenizer.json: Sequence pre_tokenizer without \"pretokenizers\"");
    }
    for (const auto& child : node["pretokenizers"]) canonical_hf_steps(child, steps);
  } else if (type == "Split") {
    const auto& pattern = node.value("pattern", nlohmann::json::object());
    const std::string behavior = node.value("behavior", "Isolated");
    if (behavior != "Isolated" || node.value("invert", false)) {
      fail("tokenizer.json: Split pre-tokenizer with behavior {} / invert is not supported", behavior);
    }
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      steps.push_back(canonical_regex(pattern["Regex"].get<std::string>()));
    } else {
      fail("tokenizer.json: Split pre-tokenizer without a Regex pattern is not supported");
    }
  } else if (type == "ByteLevel") {
    if (node.value("add_prefix_space", false)) {
      fail("tokenizer.json: ByteLevel pre-tokenizer with add_prefix_space is not supported");
    }
    if (node.value("use_regex", true)) steps.emplace_back(kGpt2);
  } else if (type == "Digits") {
    steps.emplace_back(node.value("individual_digits", false) ? R"(\p{N})" : kHfDigitRuns);
  } else if (type == "Punctuation") {
    steps.emplace_back(kHfPunctuation);
  } else {
    fail("tokenizer.json: pre-tokenizer type {:?} is not supported for byte-level BPE", type);
  }
}

}  // namespace

std::string detect_pre_tokenizer(const nlohmann::json& pre_tokenizer) {
  std::vector<std::string> steps;
  canonical_hf_steps(pre_tokenizer, steps);
  for (const auto& entry : spec_table()) {
    const auto& expected = entry.hf_steps.empty() ? entry.spec.regexes : entry.hf_steps;
    if (expected.size() != steps.size()) continue;
    bool same = true;
    for (size_t i = 0; i < steps.size() && same; ++i) same = canonical_regex(expected[i]) == steps[i];
    if (same) return std::string(entry.spec.names[0]);
  }
  std::string listing;
  for (const auto& s : steps) listing += "\n  " + s;
  fail("tokenizer.json: unrecognised pre-tokenizer (regexes:{}); known families: {}",
       steps.empty() ? std::string(" none") : listing, supported_pre_tokenizer_names());
}

std::string with_unicode_whitespace(std::string_view regex) {
  constexpr std::string_view kSpaceChars =
      R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  std::string out;
  bool in_class = false;
  size_t class_start = 0;
  for (size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '\\' && i + 1 < regex.size()) {
      const char next = regex[++i];
      if (next == 's') {
        out += in_class ? std::string(kSpaceChars) : fmt::format("[{}]", kSpaceChars);
      } else if (next == 'S') {
        if (in_class) fail("regex {:?}: \\S inside a character class is not supported", regex);
        out += fmt::format("[^{}]", kSpaceChars);
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      class_start = out.size() + 1;
      out += c;
      if (i + 1 < regex.size() && regex[i + 1] == '^') out += regex[++i], ++class_start;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < regex.size() && regex[i + 1] == ']') out += regex[++i];
      continue;
    }
    if (in_class && c == ']' && out.size() >= class_start) in_class = false;
    out += c;
  }
  return out;
}

struct RegexSplitter::Impl {
  struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  std::vector<std::unique_ptr<pcre2_code, CodeDeleter>> codes;
  std::vector<bool> jit_compiled;  // pcre2_jit_match skips pcre2_match's per-call checks
};

RegexSplitter::RegexSplitter(const PreTokenizerSpec& spec) : impl_(std::make_unique<Impl>()) {
  for (const auto regex : spec.regexes) {
    const std::string pattern = with_unicode_whitespace(regex);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &error_code,
        &error_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof message);
      fail("pre-tokenizer {}: regex {:?} does not compile at offset {}: {}", spec.names[0], pattern,
           error_offset, reinterpret_cast<const char*>(message));
    }
    // Without JIT PCRE2 still matches correctly, only slower; so a JIT failure is not an error.
    impl_->jit_compiled.push_back(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0);
    impl_->codes.emplace_back(code);
  }
}

RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;
RegexSplitter::~RegexSplitter() = default;

namespace {

struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  ~MatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
  // Long runs (e.g. megabytes of spaces) can exhaust PCRE2's default 32 KiB JIT stack.
  void grow_jit_stack() {
    if (jit_stack != nullptr) fail("pre-tokenizer: regex needs more than 64 MiB of JIT stack");
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    if (context == nullptr || jit_stack == nullptr) fail("pre-tokenizer: out of memory for the JIT stack");
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
};

// Splits piece [offset, offset+length) of `text` by regex `level` into matches and gaps, and
// hands each to the next level, or to the sink after the last one. Depth-first, so no list of
// all pieces is ever built (the text can be megabytes).
void split_level(const RegexSplitter::Impl& impl, size_t level, std::string_view text, TextPiece piece,
                 MatchState& state, PieceSink& sink) {
  const auto forward = [&](size_t offset, size_t length) {
    const bool whole = offset == piece.offset && length == piece.length;  // entered already
    const PieceSink::Visit visit = whole ? PieceSink::Visit::kSplit : sink.enter(level, offset, length);
    if (visit == PieceSink::Visit::kSkip) return;
    if (level + 1 == impl.codes.size()) {
      sink.piece(offset, length);
    } else {
      split_level(impl, level + 1, text, {offset, length}, state, sink);
    }
    if (visit == PieceSink::Visit::kSplitThenLeave) sink.leave(offset, length);
  };
  const pcre2_code* code = impl.codes[level].get();
  const bool jit = impl.jit_compiled[level];
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.offset);
  const size_t length = piece.length;
  size_t start = 0;
  size_t last_end = 0;
  while (start < length) {
    const int rc = jit ? pcre2_jit_match(code, subject, length, start, 0, state.data, state.context)
                       : pcre2_match(code, subject, length, start, 0, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      state.grow_jit_stack();
      continue;
    }
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      fail("pre-tokenizer: regex match failed at byte {}: {}", piece.offset + start,
           reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    const size_t match_begin = ovector[0];
    const size_t match_end = ovector[1];
    if (match_end == match_begin) {  // empty match: no piece, move on by one character
      start = match_begin + unicode::utf8_sequence_length(static_cast<uint8_t>(subject[match_begin]));
      continue;
    }
    if (match_begin > last_end) forward(piece.offset + last_end, match_begin - last_end);
    forward(piece.offset + match_begin, match_end - match_begin);
    last_end = match_end;
    start = match_end;
  }
  if (last_end < length) forward(piece.offset + last_end, length - last_end);
}

}  // namespace

void RegexSplitter::split(std::string_view text, PieceSink& sink) const {
  if (text.empty()) return;
  MatchState state;
  state.data = pcre2_match_data_create(1, nullptr);
  if (state.data == nullptr) fail("pre-tokenizer: out of memory");
  split_level(*impl_, 0, text, {0, text.size()}, state, sink);
}

void RegexSplitter::split(std::string_view text, const PieceCallback& emit) const {
  struct CallbackSink final : PieceSink {
    const PieceCallback& emit;
    explicit CallbackSink(const PieceCallback& e) : emit(e) {}
    void piece(size_t offset, size_t length) override { emit(offset, length); }
  } sink(emit);
  split(text, sink);
}

void RegexSplitter::split(std::string_view text, std::vector<TextPiece>& out) const {
  split(text, [&](size_t offset, size_t length) { out.push_back({offset, length}); });
}

}  // namespace edgellm::tok
